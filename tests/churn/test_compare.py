"""Every churn method side by side out of sample, and churn.method: best (issue 15)."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import rfm
from rfm.churn import run_backtest
from rfm.churn._backtest import _reliability
from rfm.pipeline import Orders
from tests.conftest import CDNOW_CONFIG


def test_reliability_table_by_hand():
    ids = pl.Series([f"c{i:02d}" for i in range(20)])
    p = np.array([i / 20 for i in range(20)])  # 0.00, 0.05, ..., 0.95
    y = np.array([0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1])
    table = _reliability(ids, p, y)
    assert [r["customers"] for r in table] == [2] * 10
    assert [r["predicted"] for r in table] == pytest.approx([0.025 + 0.1 * d for d in range(10)])
    assert [r["actual"] for r in table] == [0, 0.5, 0, 1, 0.5, 0.5, 1, 0.5, 1, 1]


@pytest.fixture(scope="module")
def cdnow_backtest(cdnow_path_module):
    with Orders(cdnow_path_module, CDNOW_CONFIG) as orders, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_backtest(orders, calibration_end="1997-09-30", horizon_days=273, keep_predictions=True)


@pytest.fixture(scope="module")
def cdnow_path_module():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"


def test_every_method_is_scored_on_the_same_split(cdnow_backtest):
    bt = cdnow_backtest
    assert list(bt.methods) == ["bgnbd", "pnbd", "recency_ratio"]
    # CDNOW's customers all joined in 1997 Q1: no one to learn a 273-day propensity from before 1997-09-30
    assert list(bt.failures) == ["propensity"] and "needs orders on or before 1996-12-31" in bt.failures["propensity"]
    pred = bt.predictions
    ordered = (pred["actual_orders"] > 0).to_numpy()
    for name, m in bt.methods.items():
        p = np.clip(1 - pred[f"p_no_order_{name}"].to_numpy(), 1e-15, 1 - 1e-15)
        assert m["log_loss"] == pytest.approx(-np.mean(ordered * np.log(p) + (1 - ordered) * np.log(1 - p)), rel=1e-12)
        assert m["brier"] == pytest.approx(np.mean((p - ordered) ** 2), rel=1e-12)
        rel = m["reliability"]
        assert sum(r["customers"] for r in rel) == 2357
        # the table holds every customer once: its weighted means are the overall means
        assert sum(r["customers"] * r["predicted"] for r in rel) / 2357 == pytest.approx(p.mean(), rel=1e-9)
        assert sum(r["customers"] * r["actual"] for r in rel) / 2357 == pytest.approx(ordered.mean(), rel=1e-12)
        # churn_risk is the rounded probability of no order
        assert (pred[f"churn_risk_{name}"] - 100 * pred[f"p_no_order_{name}"]).abs().max() <= 0.05 + 1e-9


def test_the_models_beat_the_heuristic_on_cdnow(cdnow_backtest):
    m = cdnow_backtest.methods
    # measured on the 39-week CDNOW holdout; the README table reports them
    assert m["bgnbd"]["log_loss"] < m["pnbd"]["log_loss"] < m["recency_ratio"]["log_loss"]
    assert m["pnbd"]["auc"] > m["bgnbd"]["auc"] > m["recency_ratio"]["auc"]
    winner, why = cdnow_backtest.best()
    assert winner == "bgnbd" and why.startswith("lowest log-loss for an order in the 273 days after 1997-09-30 (bgnbd ")
    report = cdnow_backtest.report()
    assert "Reliability: P(an order in the holdout) predicted vs actual" in report
    assert "predicted_pnbd" in report


def test_best_never_reads_past_as_of(cdnow_path_module):
    """churn.method best compares the methods on the horizon that ends at as_of: lines after as_of
    change neither the choice nor a single number."""
    with Orders(cdnow_path_module, CDNOW_CONFIG) as orders:
        lines = orders.lines.pl()
    upto = lines.filter(pl.col("order_date") <= pl.date(1998, 1, 31)).select(
        "customer_id", "order_id", "order_date", "amount")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = rfm.score_customers(lines.select("customer_id", "order_id", "order_date", "amount"),
                                as_of="1998-01-31", churn="best")
        b = rfm.score_customers(upto, as_of="1998-01-31", churn="best")
    assert a.churn.selection == b.churn.selection and a.churn.selection is not None
    assert a.churn.method == a.churn.selection.split(":")[0]
    assert a.table.equals(b.table)


def test_backtest_ignores_a_saved_model_and_marks_its_warnings(cdnow_path_module, tmp_path):
    """A saved churn.model was fitted later than the calibration end: applying it would see the holdout.
    The backtest fits every method at the calibration end instead, and says which warnings are its own."""
    import json

    from rfm.errors import RfmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = rfm.score_customers(cdnow_path_module, CDNOW_CONFIG, churn="bgnbd").churn.save(tmp_path / "m.json")
    cfg = {**json.loads(json.dumps(rfm.load_config(CDNOW_CONFIG).model_dump(mode="json"))),
           "churn": {"model": str(saved)}}
    with Orders(cdnow_path_module, cfg) as orders, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bt = run_backtest(orders, calibration_end="1997-12-31", horizon_days=90, methods=("pnbd", "recency_ratio"))
    assert list(bt.methods) == ["pnbd", "recency_ratio"] and bt.failures == {}
    assert bt.methods["pnbd"]["log_loss"] == pytest.approx(0.3584, abs=5e-5)  # the README's figure, fitted afresh
    ours = [str(w.message) for w in caught if issubclass(w.category, RfmWarning)]
    assert ours and all(m.startswith("backtest at 1997-12-31: ") for m in ours)
