"""Churn risk, expected orders and customer value: models, the churn step and the backtest.

* :func:`add_churn` -- the step: ``CustomerScores`` in, ``CustomerScores`` with
  p_alive, churn_risk, expected_orders, expected_next_order_date,
  expected_aov, clv and churn_method out (SQL in ``queries/churn``);
* :class:`ChurnModel` -- what was fitted, saved beside the scores and reusable;
* :func:`run_backtest` / :class:`Backtest` -- both methods scored at a
  calibration end and compared with what happened in the holdout;
* the models themselves (BG/NBD, Pareto/NBD, Gamma-Gamma, discounted CLV) on
  numpy arrays: ``fit_bgnbd``, ``fit_pnbd``, ``p_alive``, ... (loaded on first
  use: they need scipy).
"""

from __future__ import annotations

from typing import Any

from rfm.churn._backtest import METHODS as BACKTEST_METHODS
from rfm.churn._backtest import Backtest, auc, run_backtest, top_decile
from rfm.churn._best import add_churn
from rfm.churn._step import METHODS, ChurnModel, annuity

_MODELS = (
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
)

__all__ = ["BACKTEST_METHODS", "METHODS", "Backtest", "ChurnModel", "add_churn", "annuity", "auc", "run_backtest", "top_decile", *_MODELS]


def __getattr__(name: str) -> Any:
    # The models import scipy (about 0.2 s): only a run that fits or applies one pays for it.
    if name in _MODELS:
        from rfm.churn import _models

        return getattr(_models, name)
    raise AttributeError(f"module 'rfm.churn' has no attribute {name!r}")
