"""Gamma-Gamma spend (Fader & Hardie 2013): fit, expected spend, and CLV."""

from __future__ import annotations

import warnings

import numpy as np
from scipy import special

from rfm.churn._models._bgnbd import discounted_transactions
from rfm.churn._models._fit import (
    LOG_HI,
    LOG_LO,
    BgNbdFit,
    GammaGammaFit,
    as_arrays,
    identification,
    optimise,
    scalar_or_array,
)
from rfm.errors import InputError, ModelError, RfmWarning

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
    x, m, w = (np.ravel(v) for v in as_arrays("mean_spend", frequency=frequency, mean_spend=mean_spend,
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
    th, f, ok, msg = optimise(fun, [np.clip(s, LOG_LO, LOG_HI) for s in starts])
    if ok:
        ok, why = identification(fun, th, n, GammaGammaFit.PARAMS)
        msg = f"{msg}; {why}" if ok else f"not identified: {why}"
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
    x, m = as_arrays("mean_spend", frequency=frequency, mean_spend=mean_spend)
    if (x < 0).any() or (m < 0).any():
        raise InputError("expected_spend: frequency must be >= 0 and mean_spend >= 0")
    p, q, g = fit.p, fit.q, fit.gamma
    return scalar_or_array((p * g + p * x * m) / (p * x + q - 1))


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
    return scalar_or_array(np.asarray(det) * spend)


