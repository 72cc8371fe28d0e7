"""``churn.method: best``: every method backtested on the horizon that ends at as_of, the winner used.

The comparison is :func:`rfm.churn.run_backtest` with the calibration end at
``as_of - horizon_days``: each method is fitted on what was known then and
judged on what happened up to ``as_of``.  Nothing after ``as_of`` is read.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

from rfm.churn._backtest import run_backtest
from rfm.churn._step import ChurnModel
from rfm.churn._step import add_churn as _add_method
from rfm.customers import ChurnConfig, CustomerScores, OrderHistory
from rfm.errors import ModelError, RfmWarning


def add_churn(
    orders: OrderHistory,
    scores: CustomerScores,
    *,
    config: ChurnConfig | None = None,
    method: str | None = None,
    model: ChurnModel | str | Path | None = None,
) -> CustomerScores:
    """``scores`` with p_alive, churn_risk, expected orders, expected AOV and CLV added, as of ``scores.as_of``.

    ``config`` defaults to the scores' config ``churn:`` section; ``method``
    overrides its method (``best``: the method with the lowest out-of-sample
    log-loss, see the module docstring); ``model`` (or ``churn.model``)
    applies a saved :class:`ChurnModel` instead of fitting.  Reads the order
    table of ``orders``."""
    cfg = config or scores.config.churn
    chosen = method or cfg.method
    if chosen != "best" or model is not None or cfg.model:
        return _add_method(orders, scores, config=cfg, method=chosen if chosen != "best" else "auto", model=model)
    label, as_of = orders.source.label, scores.as_of
    inner = as_of - timedelta(days=cfg.horizon_days)
    first = orders.first_date
    if first is None or inner <= first:
        note = (f"{label}: churn.method best needs history before {inner} to compare the methods on the "
                f"{cfg.horizon_days} days up to {as_of}; using auto")
        warnings.warn(note, RfmWarning, stacklevel=2)
        return _add_method(orders, scores, config=cfg, method="auto", notes_before=(note,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)  # the inner fits' notes are not this run's
        try:
            winner, why = run_backtest(orders, calibration_end=inner, horizon_days=cfg.horizon_days).best()
        except ModelError as exc:
            winner, why = "", str(exc)
    if not winner:
        note = f"{label}: churn.method best could not compare the methods ({why}); using auto"
        warnings.warn(note, RfmWarning, stacklevel=2)
        return _add_method(orders, scores, config=cfg, method="auto", notes_before=(note,))
    return _add_method(orders, scores, config=cfg, method=winner, selection=f"{winner}: {why}")
