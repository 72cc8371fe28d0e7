"""Results are values: steps add columns to new results, one fixed schema per set of steps, configs frozen."""

from __future__ import annotations

from datetime import date

import polars as pl
import pydantic
import pytest
from polars.testing import assert_frame_equal

import rfm
from rfm.churn import add_churn
from rfm.customers import OrderHistory, load_config
from rfm.offers import add_offers
from tests.conftest import DATA

BASE = [
    "customer_id", "first_order_date", "last_order_date", "recency_days", "frequency", "monetary", "gross",
    "refunds", "net", "aov", "tenure_days", "r_score", "f_score", "m_score", "rfm_cell", "segment", "action",
    "nonpositive_value", "as_of",
]
CHURN = ["p_alive", "churn_risk", "expected_orders", "expected_next_order_date", "expected_aov", "clv", "churn_method"]
OFFERS = ["next_best_offer", "offer_fit", "offer_reason"]
HAND = DATA / "offers" / "hand_orders.csv"
CATALOGUE = DATA / "offers" / "hand_offers.yaml"


@pytest.fixture(scope="module")
def history() -> OrderHistory:
    orders = OrderHistory(HAND, DATA / "offers" / "hand_config.yaml")
    orders.build_order_table()
    return orders


def test_each_set_of_steps_has_one_fixed_schema(history):
    scores = history.score(as_of="2024-06-30")
    churned = add_churn(history, scores, method="recency_ratio")
    offered = add_offers(history, scores, CATALOGUE)
    both = add_offers(history, churned, CATALOGUE)
    assert scores.table.columns == BASE
    assert churned.table.columns == BASE + CHURN
    assert offered.table.columns == BASE + OFFERS
    assert both.table.columns == BASE + CHURN + OFFERS
    # the churn step's columns have the shape consumers read when no churn step ran
    assert churned.churn_columns().columns == scores.churn_columns().columns
    assert scores.churn_columns().count() == 0 and churned.churn_columns().count() == scores.stats.customers


def test_a_step_returns_a_new_result_and_leaves_its_input_as_it_was(history):
    scores = history.score(as_of="2024-06-30")
    before = scores.table.clone()
    churned = add_churn(history, scores, method="recency_ratio")
    later = history.score(as_of="2024-03-31")  # a later scoring of the same history
    assert scores.churn is None and scores.churn_table is None and scores.table.columns == BASE
    assert_frame_equal(scores.sql_table.pl(), before)  # the engine table too, not only the cached frame
    assert_frame_equal(churned.table.select(BASE), before)
    assert later.as_of == date(2024, 3, 31) and scores.as_of == date(2024, 6, 30)
    assert churned.warnings[: len(scores.warnings)] == scores.warnings
    with pytest.raises(AttributeError, match="cannot assign to field"):
        scores.as_of = date(2024, 1, 1)


def test_configs_are_frozen_and_variants_are_copies():
    cfg = load_config(DATA / "offers" / "hand_config.yaml")
    with pytest.raises(pydantic.ValidationError, match="Instance is frozen"):
        cfg.churn.horizon_days = 30
    with pytest.raises(AttributeError, match="'tuple' object has no attribute 'append'"):
        cfg.actions.append("upsell")  # collections inside are immutable too
    variant = cfg.model_copy(update={"churn": cfg.churn.model_copy(update={"horizon_days": 30})})
    assert (cfg.churn.horizon_days, variant.churn.horizon_days) == (90, 30)
    assert variant.source == cfg.source  # still says where it came from


def test_the_churn_report_reads_the_orders_once_and_leaves_the_config_alone(tmp_path, monkeypatch):
    import rfm.customers._orders as loader

    opened = []
    real = loader.open_orders
    monkeypatch.setattr(loader, "open_orders", lambda *a, **k: opened.append(a[1]) or real(*a, **k))
    cfg = load_config(DATA / "offers" / "hand_config.yaml")
    written = rfm.run_report("churn", HAND, config=cfg, out=tmp_path / "churn.html", horizon=60,
                             compare_as_of="2024-05-01")
    assert opened == [HAND]  # scoring, backtest and migration matrix from one load
    assert cfg.churn.horizon_days == 90  # the caller's config is not changed by --horizon
    page = written[0].read_text()
    assert "60 days" in page and "Backtest skipped" not in page and "backtest-gains_clv" in page
    assert "segment migration" in page.lower() and "-migration-spec" in page


def test_a_backtest_on_loaded_orders_matches_one_that_loads_them(history):
    loaded = rfm.run_backtest(history, calibration_end="2024-05-31", horizon_days=30)
    fresh = rfm.run_backtest(HAND, DATA / "offers" / "hand_config.yaml", calibration_end="2024-05-31",
                             horizon_days=30)
    assert loaded.to_dict()["methods"].keys() == fresh.to_dict()["methods"].keys()
    for method, figures in loaded.methods.items():
        assert figures["actual_orders"] == fresh.methods[method]["actual_orders"]
        assert figures["predicted_orders"] == pytest.approx(fresh.methods[method]["predicted_orders"], rel=1e-12)
    assert isinstance(loaded.by_segment, pl.DataFrame)


def test_offers_read_the_churn_risk_the_churn_step_of_the_same_run_computed():
    """rfm score --churn --offers: eligibility by max_churn_risk uses this run's churn_risk (A, B 40.7; C 78.2; D 92)."""
    catalogue = {"offers": [{"id": "save", "categories": ["Jazz"], "price": 30, "eligibility": {"max_churn_risk": 80}}]}
    orders = rfm.Orders(HAND, DATA / "offers" / "hand_config.yaml")
    scores = orders.score(as_of="2024-06-30", churn="recency_ratio", offers=catalogue)
    table = scores.table.select("customer_id", "churn_risk", "next_best_offer")
    assert table.rows() == [("A", 40.7, "save"), ("B", 40.7, "save"), ("C", 78.2, "save"), ("D", 92.0, None)]



def test_step_notes_come_before_the_scorings_own_warnings_as_rfm_has_always_printed_them():
    orders = rfm.Orders(HAND, DATA / "offers" / "hand_config.yaml")
    with pytest.warns(rfm.RfmWarning) as caught:
        scores = orders.score(as_of="2024-06-30", churn="auto")
    printed = [str(w.message) for w in caught]
    # one repeat buyer: the churn step notes that BG/NBD was left out ...
    assert scores.warnings[0].startswith(f"{HAND}: BG/NBD not used (1 repeat buyers among 4 customers")
    # ... before the scoring's own warning about the cancelled line it dropped
    assert scores.warnings[1:] == (f"{HAND}: dropped 1 order lines whose status is in input.excluded_statuses",)
    assert printed == list(scores.warnings)


def test_the_backtest_lists_each_segment_once_however_threads_add_up():
    """The methods' tables are joined on the segment only: float sums that differ in their last bit
    (threads add in any order) once split a segment into two half-empty rows."""
    from rfm.churn._backtest import _merge

    bgnbd = pl.DataFrame({"segment": ["Loyal", "New"], "customers": [3, 2], "actual_revenue": [0.1 + 0.2, 1.0],
                          "predicted_revenue_bgnbd": [5.0, 6.0]})
    ratio = pl.DataFrame({"segment": ["New", "Loyal"], "customers": [2, 3], "actual_revenue": [1.0, 0.3],
                          "predicted_revenue_recency_ratio": [7.0, 8.0]})
    merged = _merge([bgnbd, ratio], ["segment"], ["customers", "actual_revenue"]).sort("segment")
    assert merged.rows() == [("Loyal", 3, 0.1 + 0.2, 5.0, 8.0), ("New", 2, 1.0, 6.0, 7.0)]
    orders = rfm.Orders(DATA.parent.parent / "rfm" / "data" / "demo_orders.csv")
    result = rfm.run_backtest(orders, calibration_end="2024-06-30", horizon_days=90)
    assert result.by_segment["segment"].is_unique().all() and result.by_segment.null_count().sum_horizontal().item() == 0
    assert result.by_segment["customers"].sum() == result.by_frequency["customers"].sum() == result.customers
