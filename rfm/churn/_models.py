"""Customer-base models: BG/NBD, Gamma-Gamma spend and discounted CLV.

Pure numerics: the caller computes per-customer statistics (usually with
DuckDB) and passes numpy arrays.  Every per-customer function is vectorised.

Notation (one customer, calibration period of length ``T`` since the first
purchase, in the model's time unit, e.g. weeks):

* ``x``   -- number of *repeat* transactions (purchase days after the first);
* ``t_x`` -- time of the last repeat transaction since the first purchase
  (ignored when ``x == 0``);
* ``T``   -- time from the first purchase to the end of calibration.

References
----------
* Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An
  Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.
  Equation numbers below refer to this paper.
* Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (note).
* lifetimes' ``customer_lifetime_value`` for the discounting scheme.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import optimize, special

from rfm.errors import ConfigError, InputError, ModelError, RfmWarning

__all__ = [
    "BgNbdFit",
    "GammaGammaFit",
    "fit_bgnbd",
    "p_alive",
    "expected_transactions",
    "expected_transactions_new",
    "fit_gamma_gamma",
    "expected_spend",
    "customer_lifetime_value",
    "discounted_transactions",
    "fit_is_sound",
    "DAYS_PER_MONTH",
]

DAYS_PER_MONTH = 30.4375  # 365.25 / 12
# Optimiser box, in natural units (the search runs on log-parameters).
PARAM_MIN, PARAM_MAX = 1e-8, 1e8
_LOG_LO, _LOG_HI = math.log(PARAM_MIN), math.log(PARAM_MAX)
_ABSURD = 1e6
_GRAD_TOL = 1e-6  # on the per-customer mean negative log-likelihood


# ---- fitted-model records --------------------------------------------------
class _Fit:
    """Shared (de)serialisation: ``to_dict`` is JSON/YAML friendly."""

    MODEL = ""
    PARAMS: tuple[str, ...] = ()

    def params(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.PARAMS}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]
        return {"model": self.MODEL, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """Inverse of ``to_dict``; raises ConfigError naming the bad key."""
        where = f"fitted {cls.MODEL} model"
        if not isinstance(d, Mapping) or d.get("model", cls.MODEL) != cls.MODEL:
            found = d.get("model") if isinstance(d, Mapping) else type(d).__name__
            raise ConfigError(f"{where}: expected a mapping with model: {cls.MODEL!r}, found {found!r}")
        kw: dict[str, Any] = {"message": str(d.get("message", ""))}
        for name in [f.name for f in fields(cls) if f.name != "message"]:  # type: ignore[arg-type]
            if name not in d:
                raise ConfigError(f"{where}: key {name!r} is missing; re-fit the model and save it again")
            v = d[name]
            ok = isinstance(v, bool) if name == "converged" else (
                isinstance(v, (int, float)) and not isinstance(v, bool))
            if not ok or (name in cls.PARAMS and not (math.isfinite(v) and v > 0)):
                raise ConfigError(f"{where}: key {name!r} = {v!r}; expected "
                                  + ("true/false" if name == "converged" else
                                     "a finite number > 0" if name in cls.PARAMS else "a number"))
            kw[name] = v if name == "converged" else float(v)
        return cls(**kw)


@dataclass(frozen=True)
class BgNbdFit(_Fit):
    """BG/NBD parameters. Transaction rate lambda ~ Gamma(r, alpha) (alpha in
    the time unit of the data), dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str = ""
    MODEL = "bgnbd"
    PARAMS = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class GammaGammaFit(_Fit):
    """Gamma-Gamma spend parameters: spend per transaction ~ Gamma(p, nu),
    nu ~ Gamma(q, gamma); population mean spend = p * gamma / (q - 1)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str = ""
    MODEL = "gamma_gamma"
    PARAMS = ("p", "q", "gamma")


# ---- input checking --------------------------------------------------------
def _arrays(nan_ok: str = "", **named: Any) -> list[np.ndarray]:
    """Broadcast to float64 arrays; every value must be finite (the array
    named ``nan_ok`` may hold NaN where the first array is 0: mean spend of
    customers without repeat purchases)."""
    try:
        arrs = list(np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in named.values()]))
    except (TypeError, ValueError) as e:
        raise InputError(f"model inputs {list(named)}: cannot be read as numeric arrays of one shape ({e})") from None
    for i, (name, a) in enumerate(zip(named, arrs)):
        if name == nan_ok:
            a = arrs[i] = np.where(arrs[0] == 0, 0.0, a)
        if not np.isfinite(a).all():
            raise InputError(f"model input {name!r}: contains NaN or infinite values; drop or fill those customers")
    return arrs


def _check_customers(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Validate (x, t_x, T); return t_x clipped to [0, T] (t_x ignored if x == 0)."""
    if (x < 0).any() or (x != np.floor(x)).any():
        raise InputError("BG/NBD input 'x': repeat transactions must be integers >= 0")
    if (T < 0).any():
        raise InputError("BG/NBD input 'T': customer age must be >= 0")
    txp = np.where(x > 0, t_x, 0.0)
    if (txp < 0).any() or (txp > T * (1 + 1e-9) + 1e-9).any():
        raise InputError("BG/NBD input 't_x': recency must satisfy 0 <= t_x <= T for customers with x > 0")
    return np.minimum(txp, T)


def _out(a: np.ndarray):
    return float(a) if a.ndim == 0 else a


# ---- shared optimiser: L-BFGS-B (Nelder-Mead fallback) on log-params + Newton polish ----
Objective = Callable[[np.ndarray], "tuple[float, np.ndarray]"]


def _num_hessian(fun: Objective, th: np.ndarray, h: float = 1e-5) -> np.ndarray:
    k = len(th)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h
        H[i] = (fun(th + e)[1] - fun(th - e)[1]) / (2 * h)
    return (H + H.T) / 2


def _newton_polish(fun: Objective, th: np.ndarray, iters: int = 25):
    """Damped Newton steps with a finite-difference Hessian of the analytic
    gradient: drives the gradient to ~1e-10 so that fits on grouped and
    ungrouped data agree to many digits."""
    f, g = fun(th)
    for _ in range(iters):
        if np.max(np.abs(g)) < 1e-11:
            break
        H = _num_hessian(fun, th)
        try:
            np.linalg.cholesky(H)
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        lam, moved = 1.0, False
        while lam > 1e-6:
            new = np.clip(th + lam * step, _LOG_LO, _LOG_HI)
            f2, g2 = fun(new)
            if np.isfinite(f2) and (f2 < f - 1e-15 * abs(f) or
                                    (f2 <= f + 1e-13 * abs(f) and np.max(np.abs(g2)) < np.max(np.abs(g)))):
                th, f, g, moved = new, f2, g2, True
                break
            lam /= 2
        if not moved or np.max(np.abs(lam * step)) < 1e-13:
            break
    return th, f, g


def _optimise(fun: Objective, starts: Sequence[np.ndarray]):
    """Minimise ``fun`` (value, gradient) over log-parameters; returns
    (theta, value, converged, message) of the best start."""
    best = None

    def safe(th):
        f, g = fun(th)
        if not (np.isfinite(f) and np.isfinite(g).all()):
            return 1e300, np.zeros_like(th)
        return f, g

    bounds = [(_LOG_LO, _LOG_HI)] * len(starts[0])
    for th0 in starts:
        with np.errstate(all="ignore"):
            res = optimize.minimize(safe, th0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
            if not (np.isfinite(res.fun) and res.fun < 1e299):
                res = optimize.minimize(lambda th: safe(th)[0], th0, method="Nelder-Mead",
                                        options={"maxiter": 4000, "xatol": 1e-9, "fatol": 1e-13})
            if not (np.isfinite(res.fun) and res.fun < 1e299):
                continue
            th, f, g = _newton_polish(safe, np.clip(res.x, _LOG_LO, _LOG_HI))
        gmax = float(np.max(np.abs(g)))
        at_bound = bool(np.any(th <= _LOG_LO + 1e-6) or np.any(th >= _LOG_HI - 1e-6))
        ok = gmax < _GRAD_TOL and not at_bound
        msg = f"{'' if ok else 'not '}converged: max |gradient| {gmax:.1e}"
        msg += ", a parameter is at the optimiser bound" if at_bound else ""
        if best is None or (ok, -f) > (best[2], -best[1]):
            best = (th, f, ok, msg)
        if ok:
            break
    if best is None:
        raise ModelError("model fit: the log-likelihood is not finite at any starting point; "
                         "check the inputs (or pass initial=...)")
    return best


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
    if weights is None:
        weights = 1.0
    x, t_x, T, w = _arrays(x=x, t_x=t_x, T=T, weights=weights)
    x, t_x, T, w = (np.ravel(v) for v in (x, t_x, T, w))
    if (w < 0).any():
        raise InputError("BG/NBD input 'weights': customer counts must be >= 0")
    t_x = _check_customers(x, t_x, T)
    keep = w > 0
    x, t_x, T, w = x[keep], t_x[keep], T[keep], w[keep]
    n = float(w.sum())
    if n == 0:
        raise ModelError("BG/NBD fit: no customers (all weights zero or empty input)")
    if not (x > 0).any():
        raise ModelError("BG/NBD fit: no customer has a repeat transaction (all x == 0); "
                         "the purchase and dropout rates cannot be identified")
    if not (T > 0).any():
        raise ModelError("BG/NBD fit: every customer has T == 0; no observation time to fit rates on")
    fun = _bgnbd_objective(x, t_x, T, w)
    scale = float(np.dot(w, T) / n) or 1.0
    starts = [np.log([1.0, scale, 1.0, 1.0]), np.log([0.3, scale / 4, 0.8, 2.5]),
              np.log([2.0, 2 * scale, 0.3, 5.0])]
    if initial is not None:
        starts.insert(0, np.log(_initial(initial, BgNbdFit.PARAMS)))
    th, f, ok, msg = _optimise(fun, [np.clip(s, _LOG_LO, _LOG_HI) for s in starts])
    r, al, a, b = (float(v) for v in np.exp(th))
    if not ok:
        warnings.warn(f"BG/NBD fit: {msg}", RfmWarning, stacklevel=2)
    return BgNbdFit(r, al, a, b, log_likelihood=float(-f * n), n_customers=n, converged=ok, message=msg)


def _initial(initial, names):
    if isinstance(initial, (_Fit, Mapping)):
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
    x, t_x, T = _arrays(x=x, t_x=t_x, T=T)
    t_x = _check_customers(x, t_x, T)
    r, al, a, b = fit.r, fit.alpha, fit.a, fit.b
    bx1 = b + np.maximum(x, 1.0) - 1.0
    log_odds = np.log(a) - np.log(bx1) + (r + x) * np.log1p((T - t_x) / (al + t_x))
    return _out(np.where(x > 0, special.expit(-log_odds), 1.0))


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
    t, x, t_x, T = _arrays(t=t, x=x, t_x=t_x, T=T)
    if (t < 0).any():
        raise InputError("expected_transactions: horizon 't' must be >= 0")
    pa = np.asarray(p_alive(fit, x, t_x, T))
    g = _expected_if_alive(fit.r, fit.alpha, fit.a, fit.b, t, x, T)
    return _out(pa * g)


def expected_transactions_new(fit: BgNbdFit, t):
    """E[X(t)] for a customer just acquired (FHL 2005, eq. 7):

        (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))],

    i.e. eq. 10 with x = 0, T = 0."""
    (t,) = _arrays(t=t)
    if (t < 0).any():
        raise InputError("expected_transactions_new: horizon 't' must be >= 0")
    zero = np.zeros_like(t)
    return _out(_expected_if_alive(fit.r, fit.alpha, fit.a, fit.b, t, zero, zero))


# ---- Gamma-Gamma spend -----------------------------------------------------
MIN_REPEAT_BUYERS = 20


def _gg_objective(x, m, w):
    """Mean negative log-likelihood of the mean spend m of x transactions
    (Fader & Hardie 2013):

      log f(m | x) = lnG(px+q) - lnG(px) - lnG(q) + q ln(gamma) + px ln(x)
                     + (px-1) ln(m) - (px+q) ln(gamma + x m)
    """
    ux, inv = np.unique(x, return_inverse=True)
    W = np.bincount(inv, weights=w, minlength=len(ux))
    n = w.sum()
    lx, lm = np.log(x), np.log(m)
    xm = x * m
    c0 = np.dot(w, x * (lx + lm))  # sum w x (ln x + ln m)
    c1 = np.dot(w, lm)

    def fun(th):
        p, q, g = np.exp(th)
        pux = p * ux
        lgm = np.log(g + xm)
        ll = (np.dot(W, special.gammaln(pux + q) - special.gammaln(pux)) - n * special.gammaln(q)
              + n * q * np.log(g) + p * c0 - c1 - np.dot(w, (p * x + q) * lgm))
        dpsi = special.digamma(pux + q)
        dp = np.dot(W, ux * (dpsi - special.digamma(pux))) + c0 - np.dot(w, x * lgm)
        dq = np.dot(W, dpsi) - n * special.digamma(q) + n * np.log(g) - np.dot(w, lgm)
        dg = n * q / g - np.dot(w, (p * x + q) / (g + xm))
        return -ll / n, -np.array([dp * p, dq * q, dg * g]) / n

    return fun


def fit_gamma_gamma(frequency, mean_spend, weights=None) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on repeat buyers.

    Rows with ``frequency == 0`` carry no spend information and are ignored;
    repeat buyers with ``mean_spend <= 0`` are dropped with an RfmWarning.
    Raises ModelError with fewer than 20 repeat buyers, when no spend is
    positive or when all mean spends are equal (the model is degenerate).
    """
    if weights is None:
        weights = 1.0
    x, m, w = (np.ravel(v) for v in _arrays("mean_spend", frequency=frequency, mean_spend=mean_spend,
                                             weights=weights))
    if (x < 0).any() or (w < 0).any():
        raise InputError("Gamma-Gamma inputs: 'frequency' and 'weights' must be >= 0")
    rep = (x > 0) & (w > 0)
    if rep.any() and not (m[rep] > 0).any():
        raise ModelError("Gamma-Gamma fit: no repeat buyer has a positive mean spend; spend cannot be modelled")
    nonpos = rep & (m <= 0)
    if nonpos.any():
        warnings.warn(f"Gamma-Gamma fit: dropped {w[nonpos].sum():g} repeat buyers with mean spend <= 0",
                      RfmWarning, stacklevel=2)
    keep = rep & (m > 0)
    x, m, w = x[keep], m[keep], w[keep]
    n = float(w.sum())
    if n < MIN_REPEAT_BUYERS:
        raise ModelError(f"Gamma-Gamma fit: only {n:g} repeat buyers with positive spend; "
                         f"at least {MIN_REPEAT_BUYERS} are needed")
    if np.ptp(m) <= 1e-12 * np.max(m):
        raise ModelError(f"Gamma-Gamma fit: all repeat buyers have the same mean spend ({m[0]:g}); "
                         "spend variance is zero, the model is degenerate")
    fun = _gg_objective(x, m, w)
    mbar = float(np.dot(w, m) / n)
    starts = [np.log([1.0, 2.0, mbar]), np.log([5.0, 4.0, 0.6 * mbar]), np.log([0.5, 1.5, mbar / 2])]
    th, f, ok, msg = _optimise(fun, [np.clip(s, _LOG_LO, _LOG_HI) for s in starts])
    p, q, g = (float(v) for v in np.exp(th))
    if not ok:
        warnings.warn(f"Gamma-Gamma fit: {msg}", RfmWarning, stacklevel=2)
    return GammaGammaFit(p, q, g, log_likelihood=float(-f * n), n_customers=n, converged=ok, message=msg)


def expected_spend(fit: GammaGammaFit, frequency, mean_spend):
    """E[Z | x, m] (Fader & Hardie 2013):

        (p*gamma + p*x*m) / (p*x + q - 1)
          = (q-1)/(p*x+q-1) * p*gamma/(q-1) + p*x/(p*x+q-1) * m,

    a weighted average of the population mean and the customer's own mean
    (for x == 0, the population mean; ``mean_spend`` is then ignored)."""
    if not fit.q > 1:
        raise ModelError(f"Gamma-Gamma model: q = {fit.q:g} <= 1, the population mean spend is infinite; "
                         "the spend fit is unusable")
    x, m = _arrays("mean_spend", frequency=frequency, mean_spend=mean_spend)
    if (x < 0).any() or (m < 0).any():
        raise InputError("expected_spend: frequency must be >= 0 and mean_spend >= 0")
    p, q, g = fit.p, fit.q, fit.gamma
    return _out((p * g + p * x * m) / (p * x + q - 1))


# ---- CLV -------------------------------------------------------------------
def discounted_transactions(bgnbd: BgNbdFit, x, t_x, T, *, horizon_months: int = 12,
                            monthly_discount: float = 0.01, time_unit_days: float = 7.0):
    """Expected transactions over ``horizon_months``, each month discounted:

        DET = P(alive) * sum_{m=1..H} (E[Y(tau_m) | alive] - E[Y(tau_{m-1}) | alive]) / (1+d)^m,

    tau_m = m * 30.4375 / time_unit_days (months in the BG/NBD time unit).
    Depends on (x, t_x, T) only, so callers evaluate it once per distinct triple."""
    if int(horizon_months) != horizon_months or horizon_months < 0:
        raise InputError(f"horizon_months: expected an integer >= 0, found {horizon_months!r}")
    if not (monthly_discount > -1 and math.isfinite(monthly_discount)):
        raise InputError(f"monthly_discount: expected a number > -1, found {monthly_discount!r}")
    if not (time_unit_days > 0 and math.isfinite(time_unit_days)):
        raise InputError(f"time_unit_days: expected a number > 0, found {time_unit_days!r}")
    x, t_x, T = _arrays(x=x, t_x=t_x, T=T)
    pa = np.asarray(p_alive(bgnbd, x, t_x, T))
    step = DAYS_PER_MONTH / time_unit_days
    det = np.zeros(np.broadcast_shapes(x.shape, T.shape))
    prev = np.zeros_like(det)
    for m in range(1, int(horizon_months) + 1):
        cur = _expected_if_alive(bgnbd.r, bgnbd.alpha, bgnbd.a, bgnbd.b, np.full_like(x, m * step), x, T)
        det += (cur - prev) / (1 + monthly_discount) ** m
        prev = cur
    return _out(pa * det)


def customer_lifetime_value(bgnbd: BgNbdFit, gg: GammaGammaFit, x, t_x, T, mean_spend, *,
                            horizon_months: int = 12, monthly_discount: float = 0.01,
                            time_unit_days: float = 7.0):
    """Discounted expected revenue over ``horizon_months``:

        CLV = sum_{m=1..H} (E[Y(tau_m)] - E[Y(tau_{m-1})]) * E[Z] / (1+d)^m
            = discounted_transactions(...) * expected_spend(...)

    E[Y] from eq. 10, E[Z] from expected_spend (lifetimes' scheme)."""
    det = discounted_transactions(bgnbd, x, t_x, T, horizon_months=horizon_months,
                                  monthly_discount=monthly_discount, time_unit_days=time_unit_days)
    spend = np.asarray(expected_spend(gg, x, mean_spend))
    return _out(np.asarray(det) * spend)


# ---- soundness check for ``auto`` mode -------------------------------------
def fit_is_sound(fit: BgNbdFit | GammaGammaFit) -> tuple[bool, str]:
    """(True, "ok") for a converged fit with finite, positive, non-absurd
    parameters away from the optimiser bounds; else (False, reason)."""
    if not fit.converged:
        return False, f"{fit.MODEL} fit did not converge ({fit.message})"
    if not math.isfinite(fit.log_likelihood):
        return False, f"{fit.MODEL} log-likelihood is not finite"
    for k, v in fit.params().items():
        if not (math.isfinite(v) and v > 0):
            return False, f"{fit.MODEL} parameter {k} = {v!r} is not finite and positive"
        if abs(math.log(v) - _LOG_LO) < 1e-3 or abs(math.log(v) - _LOG_HI) < 1e-3:
            return False, f"{fit.MODEL} parameter {k} = {v:.3g} is at the optimiser bound"
        if not 1 / _ABSURD < v < _ABSURD:
            return False, f"{fit.MODEL} parameter {k} = {v:.3g} is absurd (outside {1 / _ABSURD:g}..{_ABSURD:g})"
    if isinstance(fit, BgNbdFit) and fit.r / fit.alpha >= _ABSURD:
        return False, f"bgnbd mean purchase rate r/alpha = {fit.r / fit.alpha:.3g} is absurd"
    if isinstance(fit, GammaGammaFit) and fit.q <= 1:
        return False, f"gamma_gamma q = {fit.q:.3g} <= 1: the population mean spend is infinite"
    return True, "ok"
