"""rfm: customer-value analytics -- RFM scores, segments, churn, offers and lead scoring from order history.

The public API (everything the README and docs/ show is imported from here)::

    import rfm
    table = rfm.score("orders.csv", config="my.yaml", as_of="2024-12-31")   # polars.DataFrame
    result = rfm.score_customers(frame, {"scoring": {"bins": 4}})          # rfm.CustomerScores
    orders = rfm.Orders("orders.parquet", memory_limit="4GB")              # load once, score many dates
    rfm.run_backtest("orders.csv", calibration_end="2024-06-30").report()
    rfm.run_report("segments", "orders.csv", out="segments.html")
    rfm.charts.segments(orders, orders.score())["rf_heatmap"]        # the report's charts, in a notebook
    rfm.score_leads("leads.csv", "events.csv", "grid.yaml").table

The packages behind it, bottom to top (see ARCHITECTURE.md): ``engine``,
``inputs``, ``customers``, ``churn`` / ``offers`` / ``leads`` / ``synthetic``,
``pipeline``, ``reporting``, ``cli``.
"""

from __future__ import annotations

from typing import Any

from rfm.churn import Backtest, ChurnModel
from rfm.customers import Config, CustomerScores, RunStats, Scoring, load_config
from rfm.errors import ConfigError, EngineError, InputError, ModelError, RfmError, RfmWarning
from rfm.leads import calibrate, contacts, lead_history, score_leads
from rfm.offers import OfferScores, load_catalogue
from rfm.pipeline import Orders, run_backtest, score, score_customers
from rfm.synthetic import generate_leads, generate_orders

__all__ = [
    "Backtest",
    "ChurnModel",
    "Config",
    "ConfigError",
    "CustomerScores",
    "EngineError",
    "InputError",
    "ModelError",
    "OfferScores",
    "Orders",
    "RfmError",
    "RfmWarning",
    "RunStats",
    "Scoring",
    "build_report",
    "calibrate",
    "contacts",
    "generate_leads",
    "generate_orders",
    "lead_history",
    "load_catalogue",
    "load_config",
    "run_backtest",
    "run_report",
    "score",
    "score_customers",
    "score_leads",
]
__version__ = "0.1.0"

_REPORTING = ("run_report", "build_report")


def __getattr__(name: str) -> Any:
    # Reports need altair and the Vega bundle (about 0.2 s to import): loaded on first use.
    if name in _REPORTING:
        from rfm import reporting

        return getattr(reporting, name)
    if name == "charts":  # rfm.charts.segments(orders, scores) in a notebook, without an extra import
        import importlib

        return importlib.import_module("rfm.charts")
    raise AttributeError(f"module 'rfm' has no attribute {name!r}")
