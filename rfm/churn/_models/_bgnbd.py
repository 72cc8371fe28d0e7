"""BG/NBD (Fader, Hardie & Lee 2005): fit, P(alive), expected and discounted transactions."""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import special

from rfm.churn._models._fit import (
    BgNbdFit,
    Fit,
    as_arrays,
    check_customers,
    discounted,
    fit_inputs,
    fit_model,
    scalar_or_array,
)
from rfm.errors import InputError


# ---- BG/NBD ----------------------------------------------------------------
def _bgnbd_objective(x, t_x, T, w):
    """Mean negative log-likelihood and gradient in log-parameters.

    Per customer (the BG/NBD likelihood of FHL 2005), with B the beta function:
      L = B(a, b+x)/B(a, b) * G(r+x) a^r / (G(r) (alpha+T)^(r+x))
          + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x) a^r / (G(r) (alpha+t_x)^(r+x))
    evaluated as logaddexp of the two log-terms.  Terms that depend only on x
    are computed once per distinct x.
    """
    ux, inv = np.unique(x, return_inverse=True)
    pos = x > 0
    upos = ux > 0
    ux1 = np.where(upos, ux - 1, 0.0)
    W = np.bincount(inv, weights=w, minlength=len(ux))
    n = w.sum()

    def fun(th):
        r, al, a, b = np.exp(th)
        lat, latx = np.log(al + T), np.log(al + t_x)
        bab = special.betaln(a, b)
        A = special.gammaln(r + ux) - special.gammaln(r) + r * np.log(al)
        B1 = special.betaln(a, b + ux) - bab
        B2 = np.where(upos, special.betaln(a + 1, b + ux1) - bab, -np.inf)
        s = r + x
        t1 = B1[inv] - s * lat
        t2 = np.where(pos, B2[inv] - s * latx, -np.inf)
        ll = np.dot(W, A) + np.dot(w, np.logaddexp(t1, t2))
        w2 = np.where(pos, special.expit(t2 - t1), 0.0)  # posterior share of "dropped at t_x"
        w1 = 1.0 - w2
        ww2 = np.bincount(inv, weights=w * w2, minlength=len(ux))
        dr = (np.dot(W, special.digamma(r + ux)) - n * special.digamma(r) + n * np.log(al)
              - np.dot(w, w1 * lat + w2 * latx))
        dal = n * r / al - np.dot(w, s * (w1 / (al + T) + w2 / (al + t_x)))
        psab, psabx = special.digamma(a + b), special.digamma(a + b + ux)
        da = np.dot(W, psab - psabx) + ww2.sum() / a
        db = (np.dot(W, psab - special.digamma(b) - psabx + special.digamma(b + ux))
              - np.dot(ww2, np.where(upos, 1.0 / (b + ux1), 0.0)))
        grad = np.array([dr * r, dal * al, da * a, db * b])
        return -ll / n, -grad / n

    return fun


def fit_bgnbd(x, t_x, T, weights=None, *, initial=None) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit on (optionally grouped) customer statistics.

    ``weights`` counts how many customers share each (x, t_x, T) row, so the
    log-likelihood is sum_i w_i * log L_i: grouping identical rows (e.g. in
    DuckDB) gives exactly the ungrouped fit.  ``initial`` is an optional
    starting point (a BgNbdFit, a mapping with r/alpha/a/b, or a 4-sequence).

    Raises ModelError when there is nothing to fit (no customers, no repeat
    transaction) or the likelihood is non-finite everywhere; a fit that merely
    fails to converge is returned with ``converged=False`` (see fit_is_sound).
    """
    x, t_x, T, w, n = fit_inputs("BG/NBD", x, t_x, T, weights)
    fun = _bgnbd_objective(x, t_x, T, w)
    scale = float(np.dot(w, T) / n) or 1.0
    starts = [np.log([1.0, scale, 1.0, 1.0]), np.log([0.3, scale / 4, 0.8, 2.5]),
              np.log([2.0, 2 * scale, 0.3, 5.0])]
    if initial is not None:
        starts.insert(0, np.log(_initial(initial, BgNbdFit.PARAMS)))
    return fit_model(BgNbdFit, "BG/NBD", fun, starts, n)


def _initial(initial, names):
    if isinstance(initial, (Fit, Mapping)):
        initial = [initial[k] if isinstance(initial, Mapping) else getattr(initial, k) for k in names]
    v = np.asarray(initial, dtype=float)
    if v.shape != (len(names),) or not (np.isfinite(v).all() and (v > 0).all()):
        raise InputError(f"initial: expected {len(names)} positive values for {names}, found {v!r}")
    return v


def p_alive(fit: BgNbdFit, x, t_x, T):
    """P(alive at T | x, t_x, T) (Fader, Hardie & Lee 2008 note "Computing P(alive)
    using the BG/NBD model"):

        1 / (1 + [x>0] * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))

    (equal to 1 for x == 0: under BG/NBD dropout happens only right after a
    repeat purchase).  Computed as expit(-log-odds), finite for any x.
    """
    x, t_x, T = as_arrays(x=x, t_x=t_x, T=T)
    t_x = check_customers(x, t_x, T)
    r, al, a, b = fit.r, fit.alpha, fit.a, fit.b
    bx1 = b + np.maximum(x, 1.0) - 1.0
    log_odds = np.log(a) - np.log(bx1) + (r + x) * np.log1p((T - t_x) / (al + t_x))
    return scalar_or_array(np.where(x > 0, special.expit(-log_odds), 1.0))


_GL_U, _GL_W = np.polynomial.legendre.leggauss(16)
_GL_U, _GL_W = (_GL_U + 1) / 2, _GL_W / 2
_EDGES = np.array([1e-12, 1e-8, 1e-5, 1e-3, 0.02, 0.1, 0.3])
_BREAKS = np.concatenate([[0.0], _EDGES, [0.5], 1 - _EDGES[::-1], [1.0]])


def _phi(p, s, u):
    """(1 - (1 + p u)^-s) / p, continuous at p = 0 (value s u)."""
    pp = np.where(p > 0, p, 1.0)
    return np.where(p > 0, -np.expm1(-s * np.log1p(p * u)) / pp, s * u)


def _beta_quadrature(a, bx, s, u):
    """E_p[phi(p)], p ~ Beta(a, bx), as the integral of phi(Q(v)) over the Beta
    quantile v in (0, 1): 16-point Gauss-Legendre on panels graded
    geometrically towards v = 0 and v = 1 (where the quantile function Q
    behaves like a fractional power), plus a break where phi bends
    (p = 1/(s u)).  Typically 1e-8 relative error, at worst ~1e-5 (t >> alpha+T);
    used only as a fallback."""
    v1 = special.betainc(a, bx, np.minimum(1.0, 1.0 / np.maximum(s * u, 1e-300)))
    br = np.sort(np.concatenate([np.broadcast_to(_BREAKS, (len(bx), len(_BREAKS))), v1[:, None]], axis=1), axis=1)
    lo, width = br[:, :-1], np.diff(br, axis=1)
    v = lo[:, :, None] + width[:, :, None] * _GL_U  # (n, panels, nodes)
    vals = _phi(special.betaincinv(a, bx[:, None, None], v), s[:, None, None], u[:, None, None])
    return np.einsum("ij,ijk,k->i", width, vals, _GL_W)


def _expected_if_alive(r, al, a, b, t, x, T):
    """E[transactions in (T, T+t] | alive at T, x, T]  (eq. 10 without P(alive)).

    With p ~ Beta(a, b+x) (posterior dropout probability), u = t/(alpha+T),
    s = r+x, z = t/(alpha+T+t), c = a+b+x-1, this is

        E_p[phi(p)],  phi(p) = (1 - (1 + p u)^-s) / p
        = c/(a-1) * [1 - (1-z)^s 2F1(s, b+x; c; z)]                       (i)
        = c/(a-1) * [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)]            (ii)

    (ii) is Euler's transformation of (i); its first two parameters do not
    grow with x and its series does not cancel unless r >> a+b, where (i),
    whose terms are all positive, is used instead.  Because phi is convex and
    decreasing, the result must lie between phi(E p) and
    min(s u, (1-m) s u + m phi(1), E[1/p]); values outside these bounds or
    non-finite (hyp2f1 overflow for extreme arguments) are recomputed with the
    other form, then by quadrature over the Beta quantiles (_beta_quadrature).
    """
    if abs(a - 1.0) < 5e-6:  # removable singularity at a == 1: interpolate
        lo = _expected_if_alive(r, al, 1 - 1e-5, b, t, x, T)
        hi = _expected_if_alive(r, al, 1 + 1e-5, b, t, x, T)
        return lo + (a - (1 - 1e-5)) / 2e-5 * (hi - lo)
    shape = np.broadcast_shapes(np.shape(t), np.shape(x), np.shape(T))
    t, x, T = (np.ravel(v) for v in np.broadcast_arrays(t, x, T))
    s, u, c = r + x, t / (al + T), a + b + x - 1
    z = u / (1 + u)
    m = a / (a + b + x)
    with np.errstate(all="ignore"):
        su = s * u
        lower = -np.expm1(-s * np.log1p(m * u)) / m * (1 - 1e-9)  # phi(m), m > 0
        upper = np.minimum(su, su - m * (su + np.expm1(-s * np.log1p(u))))  # chord: (1-m) phi(0) + m phi(1)
        if a > 1:
            upper = np.minimum(upper, c / (a - 1))
        upper = upper * (1 + 1e-9)

        def form(i, idx):
            if i == 1:
                h = np.exp(-s[idx] * np.log1p(u[idx])) * special.hyp2f1(s[idx], b + x[idx], c[idx], z[idx])
            else:
                h = np.exp(-(a - 1) * np.log1p(u[idx])) * special.hyp2f1(a + b - 1 - r, a - 1, c[idx], z[idx])
            g = c[idx] / (a - 1) * (1 - h)
            return g, ~(np.isfinite(g) & (g >= lower[idx]) & (g <= upper[idx]))

        first = 1 if a + b - 1 - r < -1 else 2
        g, bad = form(first, slice(None))
        if bad.any():
            idx = np.flatnonzero(bad)
            g2, bad2 = form(3 - first, idx)
            g[idx] = g2
            if bad2.any():
                j = idx[bad2]
                g[j] = _beta_quadrature(a, b + x[j], s[j], u[j])
    g = np.where(np.isfinite(g), g, (lower + upper) / 2)
    return np.clip(g, 0.0, s * u).reshape(shape)


def expected_transactions(fit: BgNbdFit, t, x, t_x, T):
    """E[Y(t) | x, t_x, T]: expected repeat transactions in the next ``t``
    periods (FHL 2005, eq. 10)

        (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                               * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
        / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

    Finite and >= 0 for every valid input; ``t`` broadcasts with the customers.
    """
    t, x, t_x, T = as_arrays(t=t, x=x, t_x=t_x, T=T)
    if (t < 0).any():
        raise InputError("expected_transactions: horizon 't' must be >= 0")
    pa = np.asarray(p_alive(fit, x, t_x, T))
    g = _expected_if_alive(fit.r, fit.alpha, fit.a, fit.b, t, x, T)
    return scalar_or_array(pa * g)


def expected_transactions_new(fit: BgNbdFit, t):
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 7):

        (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))],

    i.e. eq. 10 with x = 0, T = 0."""
    (t,) = as_arrays(t=t)
    if (t < 0).any():
        raise InputError("expected_transactions_new: horizon 't' must be >= 0")
    zero = np.zeros_like(t)
    return scalar_or_array(_expected_if_alive(fit.r, fit.alpha, fit.a, fit.b, t, zero, zero))


# ---- CLV -------------------------------------------------------------------
def discounted_transactions(bgnbd: BgNbdFit, x, t_x, T, *, horizon_months: int = 12,
                            monthly_discount: float = 0.01, time_unit_days: float = 7.0):
    """Expected transactions over ``horizon_months``, each month discounted:

        DET = P(alive) * sum_{m=1..H} (E[Y(tau_m) | alive] - E[Y(tau_{m-1}) | alive]) / (1+d)^m,

    tau_m = m * 30.4375 / time_unit_days (months in the BG/NBD time unit).
    Depends on (x, t_x, T) only, so callers evaluate it once per distinct triple."""
    x, t_x, T = as_arrays(x=x, t_x=t_x, T=T)
    pa = np.asarray(p_alive(bgnbd, x, t_x, T))
    det = discounted(
        pa, lambda t: _expected_if_alive(bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b, t, x, T),
        np.broadcast_shapes(x.shape, T.shape), horizon_months=horizon_months,
        monthly_discount=monthly_discount, time_unit_days=time_unit_days,
    )
    return scalar_or_array(det)


