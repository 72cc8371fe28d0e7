"""Customer-base models: BG/NBD, Pareto/NBD, Gamma-Gamma spend and discounted CLV.

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
* Schmittlein, Morrison & Colombo (1987), "Counting Your Customers: Who Are
  They and What Will They Do Next?", Management Science 33(1); estimated as in
  Fader, Hardie & Lee (2005), "A Note on Implementing the Pareto/NBD Model in
  MATLAB".
* lifetimes' ``customer_lifetime_value`` for the discounting scheme.
"""

from rfm.churn._models._bgnbd import (
    discounted_transactions,
    expected_transactions,
    expected_transactions_new,
    fit_bgnbd,
    p_alive,
)
from rfm.churn._models._fit import (
    DAYS_PER_MONTH,
    PARAM_MAX,
    PARAM_MIN,
    BgNbdFit,
    GammaGammaFit,
    ParetoNbdFit,
    fit_is_sound,
)
from rfm.churn._models._gamma_gamma import customer_lifetime_value, expected_spend, fit_gamma_gamma
from rfm.churn._models._pnbd import (
    fit_pnbd,
    pnbd_discounted_transactions,
    pnbd_expected_transactions,
    pnbd_p_alive,
    pnbd_p_order,
)

__all__ = [
    "DAYS_PER_MONTH",
    "PARAM_MAX",
    "PARAM_MIN",
    "BgNbdFit",
    "GammaGammaFit",
    "ParetoNbdFit",
    "customer_lifetime_value",
    "discounted_transactions",
    "expected_spend",
    "expected_transactions",
    "expected_transactions_new",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_is_sound",
    "fit_pnbd",
    "p_alive",
    "pnbd_discounted_transactions",
    "pnbd_expected_transactions",
    "pnbd_p_alive",
    "pnbd_p_order",
]
