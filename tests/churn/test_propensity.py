"""churn.method propensity: hand-computed features, no leakage, out-of-sample honesty, determinism (issue 15)."""

from __future__ import annotations

import json
import math
import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from threadpoolctl import threadpool_limits

import rfm
from rfm.churn import auc, run_backtest
from rfm.churn._propensity import FEATURES, MIN_HELD_OUT_AUC, learn
from rfm.cli import main
from rfm.customers import ChurnConfig
from rfm.errors import ConfigError, ModelError
from rfm.pipeline import Orders
from rfm.synthetic import generate_frame


@pytest.fixture(scope="module")
def generated() -> pl.DataFrame:
    return generate_frame(customers=5000, orders=20000, seed=11, end=date(2024, 12, 31), categories=4)


def test_features_by_hand():
    rows = [
        # customer, order, date, amount, category
        ("A", "a1", date(2024, 1, 1), 10.0, "books"),
        ("A", "a2", date(2024, 2, 1), 20.0, "music"),
        ("A", "a3", date(2024, 3, 15), 25.0, "books"),
        ("A", "a3", date(2024, 3, 15), 5.0, "books"),
        ("A", "a4", date(2024, 3, 20), -6.0, "music"),  # a return: not a purchase day
        ("A", "a5", date(2024, 4, 2), 99.0, "books"),   # after as_of: never read
        ("B", "b1", date(2024, 3, 31), 40.0, "music"),
    ]
    frame = pl.DataFrame(rows, schema=["customer_id", "order_id", "order_date", "amount", "category"], orient="row")
    with Orders(frame) as orders:
        got = orders.engine.fetch("churn.propensity_features", {"orders": orders.order_table},
                                  as_of=date(2024, 4, 1), period_days=30)
        mix = orders.engine.fetch("churn.propensity_category_mix", {"lines": orders.lines},
                                  train_end=date(2024, 2, 15), as_of=date(2024, 4, 1), drop_duplicates=False)
    a, b = got.row(0, named=True), got.row(1, named=True)
    # A bought on 01-01, 02-01 and 03-15 (two lines, one order): gaps 31 and 43 days
    assert (a["recency_days"], a["purchase_days"], a["orders"], a["tenure_days"]) == (17, 3, 3, 91)
    assert (a["mean_spend"], a["total_spend"]) == (20.0, 60.0)
    assert a["gap_mean_days"] == 37.0 and a["gap_sd_days"] == pytest.approx(math.sqrt(72))
    # last 30 days: 03-15 (age 17); the 30 before: nothing (02-01 is 60 days old); the last year: all 3
    assert (a["days_last_period"], a["days_prior_period"], a["spend_last_period"], a["spend_prior_period"]) == (
        1, 0, 30.0, 0.0)
    assert a["days_last_year"] == 3
    assert a["returns_share"] == pytest.approx(6 / 60)
    assert (b["recency_days"], b["purchase_days"], b["tenure_days"], b["mean_spend"]) == (1, 1, 1, 40.0)
    assert b["gap_mean_days"] is None and b["gap_sd_days"] is None and b["returns_share"] == 0
    m = {r["customer_id"]: r for r in mix.to_dicts()}
    # as of 02-15 A had books 10 and music 20; as of 04-01 books 40, music 20 - 6 = 14
    assert (m["A"]["categories_train"], m["A"]["main_category_share_train"]) == (2, pytest.approx(20 / 30))
    assert (m["A"]["categories"], m["A"]["main_category_share"]) == (2, pytest.approx(40 / 54))
    assert m["B"]["categories_train"] == 0 and m["B"]["main_category_share_train"] is None


def test_propensity_beats_chance_and_base_rate_out_of_sample(generated):
    with Orders(generated) as orders, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = run_backtest(orders, calibration_end="2024-09-30", horizon_days=90, keep_predictions=True)
    m = bt.methods["propensity"]
    pred = bt.predictions
    ordered = (pred["actual_orders"] > 0).to_numpy()
    rate = ordered.mean()
    base_rate_log_loss = -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))
    assert m["auc"] > 0.85 and m["log_loss"] < 0.75 * base_rate_log_loss
    # a random model ranks at 0.5: the same customers, scores drawn at random
    random_auc = auc(np.random.default_rng(0).random(pred.height), ~ordered)
    assert abs(random_auc - 0.5) < 0.03 and m["auc"] > random_auc + 0.3
    # calibrated: the mean prediction is the actual rate within 2 points
    p = 1 - pred["p_no_order_propensity"].to_numpy()
    assert abs(p.mean() - rate) < 0.02


def test_never_reads_past_as_of(generated):
    """Trained on (as_of - horizon, as_of] labels: lines after as_of change no number."""
    as_of = date(2024, 9, 30)
    upto = generated.filter(pl.col("order_date") <= as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = rfm.score_customers(generated, as_of=as_of, churn="propensity")
        b = rfm.score_customers(upto, as_of=as_of, churn="propensity")
    assert a.churn.propensity["train_end"] == "2024-07-02"
    assert a.churn.propensity["label"] == "a purchase day in (2024-07-02, 2024-09-30]"
    assert a.table.equals(b.table)
    assert a.table["churn_method"].unique().to_list() == ["propensity"]
    assert a.table["p_alive"].null_count() == a.table.height  # not modelled: no made-up number


def test_shuffled_labels_score_chance_out_of_sample():
    """Labels unrelated to the features: out of sample the model cannot rank (AUC about 0.5),
    and never better than in sample."""
    rng = np.random.default_rng(5)
    n = 6000
    x = np.column_stack([rng.gamma(2, 30, n), rng.poisson(2, n), rng.normal(50, 10, n)]).astype(float)
    y_real = (rng.random(n) < 1 / (1 + np.exp(-(1.5 - x[:, 0] / 30)))).astype(float)
    y = rng.permutation(y_real)
    train, test = slice(0, 4000), slice(4000, None)
    learned = learn(x[train], y[train], ChurnConfig())
    out_auc = auc(learned.predict(x[test])[0], y[test] > 0)
    assert abs(out_auc - 0.5) < 0.04
    # the booster fits noise in sample; the held-out slice it never saw shows it (and the model is refused)
    held = learned.record["held_out_auc"]
    assert abs(held - 0.5) < 0.06 and held < MIN_HELD_OUT_AUC
    booster = learned.booster
    assert auc(booster.predict_proba(x[train])[:, 1], y[train] > 0) > max(out_auc, learned.record["held_out_auc"])
    # the real labels are learnable from the same features: the test above can fail
    real = learn(x[train], y_real[train], ChurnConfig())
    assert auc(real.predict(x[test])[0], y_real[test] > 0) > 0.75


def test_same_predictions_on_any_thread_count(generated):
    runs = []
    for engine_threads, ml_threads in ((1, 1), (2, 2), (2, 1), (1, 2)):
        with threadpool_limits(ml_threads), Orders(generated, threads=engine_threads) as orders:
            runs.append(orders.score(as_of="2024-10-31", churn="propensity").table)
    for other in runs[1:]:
        assert other.equals(runs[0])


def test_too_little_history_is_refused_with_the_dates(cdnow_path):
    from tests.conftest import CDNOW_CONFIG

    with pytest.raises(ModelError, match=r"the propensity model learns from the 273 days before 1997-09-30, which "
                                         r"needs orders on or before 1996-12-31 \(the first is 1997-01-01\); set "
                                         r"churn.method: auto or recency_ratio"):
        rfm.score_customers(cdnow_path, {**rfm.load_config(CDNOW_CONFIG).model_dump(),
                                         "churn": {"horizon_days": 273}}, as_of="1997-09-30", churn="propensity")


def test_too_few_outcomes_are_refused():
    # 40 customers, all buying once in January; none orders in the 90 days before as_of
    frame = pl.DataFrame({
        "customer_id": [f"c{i}" for i in range(40)], "order_id": [f"o{i}" for i in range(40)],
        "order_date": [date(2024, 1, 1) + timedelta(days=i % 20) for i in range(40)], "amount": [10.0] * 40,
    })
    with pytest.raises(ModelError, match=r"40 customers before 2024-03-03, of whom 0 ordered in the next 90 days "
                                         r"and 40 did not: too few to learn from \(at least 25 of each"):
        rfm.score_customers(frame, as_of="2024-06-01", churn="propensity")


def test_model_json_says_what_was_learned_and_is_not_reused(generated, tmp_path):
    src = tmp_path / "orders.parquet"
    generated.write_parquet(src)
    out = tmp_path / "scores.csv"
    assert main(["score", str(src), "--as-of", "2024-10-31", "--churn", "propensity", "--out", str(out), "-q"]) == 0
    saved = json.loads((tmp_path / "scores.churn.json").read_text())
    p = saved["propensity"]
    assert saved["method"] == "propensity" and p["features"][: len(FEATURES)] == list(FEATURES)
    assert p["features"][len(FEATURES):] == ["categories", "main_category_share"]
    assert p["training_customers"] > p["calibration_customers"] == round(0.2 * p["training_customers"] + 0.49)
    assert 0.5 < p["held_out_auc"] <= 1
    with pytest.raises(ConfigError, match=r"a propensity model is not reused: it is trained afresh on the history "
                                          r"up to each as_of date"):
        rfm.churn.ChurnModel.load(tmp_path / "scores.churn.json")


def test_a_young_store_learns_without_the_gap_features():
    """Before the training cut-off every customer has bought once: the gap features are empty for all
    of them, and are left out instead of crashing the booster (review of issue 15)."""
    rng = np.random.default_rng(2)
    rows = []
    for i in range(400):
        first = date(2024, 3, 1) + timedelta(days=int(rng.integers(0, 31)))
        rows.append((f"c{i:03d}", f"o{i}a", first, 20.0))
        if rng.random() < (0.8 if first.day >= 16 else 0.2):  # late-March buyers come back
            rows.append((f"c{i:03d}", f"o{i}b", date(2024, 4, 2) + timedelta(days=int(rng.integers(0, 89))), 25.0))
    frame = pl.DataFrame(rows, schema=["customer_id", "order_id", "order_date", "amount"], orient="row")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rfm.score_customers(frame, as_of="2024-06-30", churn="propensity")
    p = result.churn.propensity
    assert p["train_end"] == "2024-04-01" and p["features_empty"] == ["gap_mean_days", "gap_sd_days"]
    assert "gap_mean_days" not in p["features"] and p["held_out_auc"] > 0.7


def test_a_history_that_predicts_nothing_is_refused():
    """Everyone buys at the same random pace: the past says nothing about the next 90 days, so the
    booster ranks its held-out slice at chance and the model is refused, not calibrated."""
    rng = np.random.default_rng(4)
    rows = []
    for i in range(4000):
        for k, d in enumerate(np.sort(rng.integers(0, 365, rng.poisson(6)))):
            rows.append((f"c{i:04d}", f"o{i}-{k}", date(2023, 7, 1) + timedelta(days=int(d)), 30.0))
    frame = pl.DataFrame(rows, schema=["customer_id", "order_id", "order_date", "amount"], orient="row")
    with pytest.raises(ModelError, match=r"the propensity model ranks the held-out customers no better than chance "
                                         r"\(AUC 0\.[45]\d\d on [\d,]+, below 0\.55\)"):
        rfm.score_customers(frame, as_of="2024-06-30", churn="propensity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = rfm.churn.run_backtest(Orders(frame), calibration_end="2024-03-31", horizon_days=90)
    assert "no better than chance" in bt.failures["propensity"] and "recency_ratio" in bt.methods  # no crash
