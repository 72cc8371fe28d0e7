"""The reports' charts in a notebook: each function returns the Altair charts of one report.

>>> import rfm, rfm.charts                                        # doctest: +SKIP
>>> orders = rfm.Orders("orders.csv")                             # doctest: +SKIP
>>> scores = orders.score(churn="auto")                           # doctest: +SKIP
>>> charts = rfm.charts.segments(orders, scores)                  # doctest: +SKIP
>>> charts["rf_heatmap"]                                          # displays in Jupyter; doctest: +SKIP

Each returns a :class:`rfm.reporting.Charts` mapping (chart name -> chart, in
report order; ``.notes`` says why a chart is missing, e.g. no churn model).
The charts are the reports': same aggregates, colours, currency and locale.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from rfm.churn import Backtest
from rfm.customers import CustomerScores
from rfm.pipeline import Orders
from rfm.reporting import Charts, report_charts

__all__ = ["Charts", "campaign", "churn", "segments"]


def segments(orders: Orders, scores: CustomerScores | None = None) -> Charts:
    """The segments report's charts: sizes, revenue share, the R x F grids, distributions."""
    return report_charts("segments", orders, scores)


def campaign(orders: Orders, scores: CustomerScores | None = None, *, offers: Any = None) -> Charts:
    """The campaign report's charts: list sizes and value per action, each list's segments and top
    offers (``offers``: a catalogue or :class:`rfm.OfferScores`; default: those scored with ``scores``)."""
    return report_charts("campaign", orders, scores, offers=offers)


def churn(
    orders: Orders,
    scores: CustomerScores | None = None,
    *,
    backtest: Backtest | None = None,
    compare_as_of: date | str | None = None,
) -> Charts:
    """The churn report's charts: risk and revenue at risk by segment, the migration since
    ``compare_as_of`` (default 90 days earlier) and, given ``backtest`` (:func:`rfm.run_backtest`),
    the backtest charts.  ``scores`` should carry a churn model (``orders.score(churn="auto")``)."""
    return report_charts("churn", orders, scores, backtest=backtest, compare_as_of=compare_as_of)
