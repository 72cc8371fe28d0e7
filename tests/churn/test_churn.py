"""Churn risk and CLV: published CDNOW fit, hand-computed recency_ratio, fallbacks, no NaN."""

from __future__ import annotations

import math
import warnings
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rfm
from rfm.churn import ChurnModel, annuity, auc, top_decile
from rfm.cli import main
from rfm.cli._tables import parse_days
from rfm.errors import InputError, ModelError, RfmWarning
from tests.conftest import CDNOW_CONFIG

CHURN_COLUMNS = ["p_alive", "churn_risk", "expected_orders", "expected_aov", "clv"]


def orders_frame(rows: list[tuple[str, int, float]], start: date = date(2024, 1, 1)) -> pl.DataFrame:
    return pl.DataFrame(
        [(c, f"{c}-{i}", start + timedelta(days=d), a) for i, (c, d, a) in enumerate(rows)],
        schema=["customer_id", "order_id", "order_date", "amount"],
        orient="row",
    )


def test_cdnow_bgnbd_matches_published_estimates(cdnow_path):
    result = rfm.score_customers(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn="bgnbd")
    b, g = result.churn.bgnbd, result.churn.gamma_gamma
    for got, published in ((b["r"], 0.243), (b["alpha"], 4.414), (b["a"], 0.793), (b["b"], 2.426),
                           (g["p"], 6.25), (g["q"], 3.74), (g["gamma"], 15.44)):
        assert got == pytest.approx(published, rel=0.005)
    assert b["log_likelihood"] == pytest.approx(-9582.4, abs=0.5)
    assert result.churn.n_customers == 2357
    assert g["n_customers"] == 946


def test_cdnow_paper_customer_expected_transactions(cdnow_path):
    # Fader, Hardie & Lee (2005): a customer with x = 2, t_x = 30.43, T = 38.86 weeks
    # is expected to make 1.226 transactions in the next 39 weeks.
    cfg = {**rfm.load_config(CDNOW_CONFIG).model_dump(), "churn": {"horizon_days": 273}}
    table = rfm.score(cdnow_path, cfg, as_of="1997-09-30", churn="bgnbd")
    # customer 0001: purchases 1997-01-01, 01-18, 08-02 -> x = 2, t_x = 213/7 = 30.43, T = 272/7 = 38.86
    first = table.filter(pl.col("customer_id") == "0001").row(0, named=True)
    assert first["expected_orders"] == pytest.approx(1.226, abs=0.001)
    # p_alive 0.727 >= 0.5: next order one gap at E[lambda] = (r+x)/(alpha+T) after as_of:
    # (4.4136 + 38.857) / (0.2426 + 2) = 19.29 weeks = 135.1 days -> 136 whole days
    assert first["p_alive"] == pytest.approx(0.7266, abs=0.0005)
    assert first["expected_next_order_date"] == date(1997, 9, 30) + timedelta(days=136)


def test_no_nan_or_infinity_for_extreme_customers():
    rows = [("HEAVY", d, 20.0) for d in range(0, 300)]  # 300 purchase days
    rows += [("TODAY", 364, 15.0)]  # single order on as_of
    rows += [("ZERO", 10, 0.0), ("ZERO", 50, 0.0), ("ZERO", 90, 0.0)]  # zero-valued orders
    rows += [(f"C{i}", i % 200, 10.0 + i) for i in range(60)] + [(f"C{i}", 250 + i, 12.0) for i in range(0, 60, 2)]
    df = orders_frame(rows)
    for method in ("bgnbd", "recency_ratio"):
        table = rfm.score(df, as_of=date(2024, 12, 30), churn=method)
        values = table.select(CHURN_COLUMNS).to_numpy()
        assert np.isfinite(values).all(), method
        assert table["p_alive"].is_between(0, 1).all()
        assert table["churn_risk"].is_between(0, 100).all()
        today = table.filter(pl.col("customer_id") == "TODAY").row(0, named=True)
        assert today["p_alive"] == pytest.approx(1.0)


def test_recency_ratio_hand_computed():
    # A buys on days 0, 10, 20 (mean gap 10); as of day 30 its recency is 10.
    # B buys once on day 25: one-time buyer, uses the population's typical gap,
    # the median over repeat buyers = 10 days (A only).  Horizon 90 days.
    df = orders_frame([("A", 0, 10.0), ("A", 10, 20.0), ("A", 20, 30.0), ("B", 25, 50.0)])
    table = rfm.score(df, as_of=date(2024, 1, 31), churn="recency_ratio")
    a, b = table.row(0, named=True), table.row(1, named=True)
    pa, pb = math.exp(-10 / 10), math.exp(-5 / 10)
    assert a["p_alive"] == pytest.approx(pa)
    assert a["churn_risk"] == round(100 * (1 - pa + pa * math.exp(-9)), 1) == 63.2
    assert a["expected_orders"] == pytest.approx(pa * 90 / 10)
    assert a["expected_aov"] == pytest.approx(20.0)
    assert a["clv"] == pytest.approx(pa * 30.4375 / 10 * annuity(12, 0.01) * 20.0)
    assert b["p_alive"] == pytest.approx(pb)
    assert b["churn_risk"] == round(100 * (1 - pb + pb * math.exp(-9)), 1) == 39.4
    assert a["expected_next_order_date"] is None  # p_alive < 0.5
    assert b["expected_next_order_date"] == date(2024, 1, 31) + timedelta(days=10)


def test_annuity():
    assert annuity(2, 0.01) == pytest.approx(1 / 1.01 + 1 / 1.01**2)
    assert annuity(0, 0.05) == 0.0


def test_auto_falls_back_when_everyone_bought_once():
    df = orders_frame([(f"C{i}", i, 10.0) for i in range(30)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        result = rfm.score_customers(df, as_of=date(2024, 3, 1), churn="auto")
    assert result.churn.method == "recency_ratio"
    assert set(result.table["churn_method"]) == {"recency_ratio"}
    messages = [str(w.message) for w in caught]
    assert any("BG/NBD not used (0 repeat buyers among 30 customers: too few to fit BG/NBD's 4 parameters "
               "(at least 20 are needed)); churn falls back to recency_ratio" in m for m in messages)
    assert any("no repeat buyers, so the typical gap between orders is unknown" in m for m in messages)


def test_explicit_bgnbd_errors_when_it_cannot_fit(tmp_path, capsys):
    df = orders_frame([(f"C{i}", i, 10.0) for i in range(30)])
    with pytest.raises(ModelError, match=r"too few to fit BG/NBD's 4 parameters \(at least 20 are needed\); set churn.method: auto or recency_ratio"):
        rfm.score(df, as_of=date(2024, 3, 1), churn="bgnbd")
    path = tmp_path / "orders.csv"
    df.write_csv(path)
    out = tmp_path / "s.parquet"
    assert main(["score", str(path), "--churn", "bgnbd", "--out", str(out)]) == 4
    assert "too few to fit BG/NBD" in capsys.readouterr().err
    assert not out.exists()


def test_orders_after_as_of_do_not_leak(cdnow_path, tmp_path):
    full = rfm.score(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn="bgnbd")
    text = cdnow_path.read_text().splitlines()
    early = [line for line in text if line.split() and line.split()[2] <= "19970930"]
    cut = tmp_path / "cdnow_early.txt"
    cut.write_text("\n".join(early) + "\n")
    truncated = rfm.score(cut, CDNOW_CONFIG, as_of="1997-09-30", churn="bgnbd")
    assert_frame_equal(full.select("customer_id", *CHURN_COLUMNS), truncated.select("customer_id", *CHURN_COLUMNS))


def test_saved_model_is_reused_without_refitting(cdnow_path, tmp_path):
    first = rfm.score_customers(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn="bgnbd")
    path = first.churn.save(tmp_path / "model.json")
    later = rfm.Orders(cdnow_path, CDNOW_CONFIG).score(as_of="1997-12-31", churn_model=path)
    assert later.churn.bgnbd == first.churn.bgnbd
    assert later.churn.gamma_gamma == first.churn.gamma_gamma
    assert ChurnModel.load(path).describe().startswith("BG/NBD r=0.2426 alpha=4.414 a=0.7929 b=2.426 LL=-9582.4")


def test_auc_and_top_decile_by_hand():
    # scores 0.9, 0.8, 0.3, 0.1 with labels 1, 0, 1, 0: pairs (pos > neg): (0.9>0.8),(0.9>0.1),(0.3>0.1) = 3 of 4
    assert auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 0, 1, 0])) == 0.75
    assert auc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5  # a tie counts half
    frame = pl.DataFrame({"customer_id": [f"c{i:02d}" for i in range(25)], "s": [i % 5 for i in range(25)]})
    top = top_decile(frame, "s")
    assert top["customer_id"].to_list() == ["c04", "c09", "c14"]  # ceil(25/10) = 3, ties by id


def test_parse_days():
    assert [parse_days(t) for t in ("90", "90d", "13w", "6m")] == [90, 90, 91, 183]
    with pytest.raises(InputError, match=r'--horizon "soon" is not a duration'):
        parse_days("soon")


def test_cdnow_backtest(cdnow_path, tmp_path):
    result = rfm.run_backtest(cdnow_path, CDNOW_CONFIG, calibration_end="1997-09-30", horizon_days=273)
    assert result.customers == 2357
    actual = result.methods["bgnbd"]["actual_orders"]
    # Holdout purchase days of the 2,357 calibration customers, 1997-10-01..1998-06-30.
    text = cdnow_path.read_text().split("\n")
    days = {(p[1], p[2]) for p in (line.split() for line in text) if p and "19971001" <= p[2] <= "19980630"}
    assert actual == len(days)
    # BG/NBD ranks churners better than recency_ratio and both beat chance.
    assert result.methods["bgnbd"]["auc"] > result.methods["recency_ratio"]["auc"] > 0.6
    assert result.methods["bgnbd"]["predicted_orders"] == pytest.approx(actual, rel=0.15)
    by_x = result.by_frequency
    assert by_x["x_group"].to_list() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert by_x["customers"].sum() == 2357 and by_x["actual"].sum() == actual
    assert result.by_segment["customers"].sum() == 2357
    path = result.save(tmp_path / "bt.json")
    assert '"horizon_days": 273' in path.read_text()


def test_refund_heavy_days_never_give_negative_value(cdnow_path, tmp_path):
    # Customer 0001 gets a purchase day whose lines net to -4,990 (10.00 and a 5,000 refund).
    text = cdnow_path.read_text() + " 00004 0001 19970901  1   10.00\n 00004 0001 19970901  1 -5000.00\n"
    path = tmp_path / "cdnow_refund.txt"
    path.write_text(text)
    for method in ("bgnbd", "recency_ratio"):
        table = rfm.score(path, CDNOW_CONFIG, as_of="1997-09-30", churn=method)
        a = table.filter(pl.col("customer_id") == "0001").row(0, named=True)
        assert a["net"] < 0
        assert a["expected_aov"] >= 0 and a["clv"] >= 0, method
        assert (table["expected_aov"] >= 0).all()


# --- issue 15, defects 1-4 -------------------------------------------------------------------


def test_a_flat_likelihood_is_not_a_fit():
    """25 repeat buyers who all bought again on their last day: no sign of dropout, so a and b are
    not identified (the optimiser still "converges", at a = 6e-6, b = 1e5)."""
    from rfm.churn import fit_bgnbd, fit_is_sound

    T = np.linspace(20, 40, 300)
    x = np.where(np.arange(300) < 25, 1 + np.arange(300) % 3, 0).astype(float)
    with pytest.warns(RfmWarning, match="not identified"):
        fit = fit_bgnbd(x, np.where(x > 0, T, 0), T)
    assert fit_is_sound(fit) == (False, "bgnbd fit not identified: the likelihood is flat or singular at the "
                                        "optimum: the data do not pin the parameters down")


def test_cdnow_fit_reports_its_standard_errors(cdnow_path):
    result = rfm.score_customers(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn="bgnbd")
    message = result.churn.bgnbd["message"]
    ses = dict(part.split() for part in message.split("log-scale standard errors ")[1].split(", "))
    assert set(ses) == {"r", "alpha", "a", "b"} and all(0 < float(v) < 0.5 for v in ses.values())


def test_two_repeat_buyers_of_500_do_not_make_a_model(tmp_path, capsys):
    rows = [(f"C{i:03d}", i % 200, 20.0 + i % 7) for i in range(500)] + [("C000", 250, 10.0), ("C001", 300, 12.0)]
    df = orders_frame(rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        result = rfm.score_customers(df, as_of=date(2025, 1, 1), churn="auto")
    assert result.churn.method == "recency_ratio"
    assert any("BG/NBD not used (2 repeat buyers among 500 customers: too few to fit BG/NBD's 4 parameters "
               "(at least 20 are needed)); churn falls back to recency_ratio" in str(w.message) for w in caught)
    path = tmp_path / "o.csv"
    df.write_csv(path)
    assert main(["score", str(path), "--churn", "bgnbd", "--out", str(tmp_path / "s.csv")]) == 4
    assert "2 repeat buyers among 500 customers: too few to fit BG/NBD's 4 parameters" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["bgnbd", "recency_ratio"])
def test_customers_who_never_spent_are_expected_to_spend_nothing(cdnow_path, method):
    """CDNOW has customers whose purchase days are all $0.00: the same answer under every method."""
    table = rfm.score(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn=method)
    spendless = table.filter(pl.col("monetary") <= 0)
    assert spendless.height > 0
    assert spendless["expected_aov"].to_list() == [0.0] * spendless.height
    assert spendless["clv"].to_list() == [0.0] * spendless.height
    assert (table.filter(pl.col("monetary") > 0)["expected_aov"] > 0).all()


@pytest.mark.parametrize("method", ["bgnbd", "recency_ratio"])
def test_a_next_order_date_only_when_an_order_is_likely(cdnow_path, method):
    table = rfm.score(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn=method)
    dated = table["expected_next_order_date"].is_not_null()
    # the rule: an order within the horizon at least as likely as not (churn_risk <= 50, shown to 0.1)
    assert (dated == (table["churn_risk"] <= 50)).filter((table["churn_risk"] - 50).abs() > 0.05).all()
    one_time = table.filter(pl.col("frequency") == 1)
    assert one_time["expected_next_order_date"].null_count() == one_time.height  # none of them is likely to return
    assert dated.any()


def test_backtest_tables_are_the_same_on_any_thread_count():
    """The by-segment and by-frequency tables join the methods on keys only: float sums that differ in
    their last bit across thread counts never split a group (issue 15, defect 2)."""
    from rfm.pipeline import Orders
    from rfm.synthetic import generate_frame

    frame = generate_frame(customers=6000, orders=20000, seed=3, end=date(2024, 12, 31))
    runs = []
    for threads in (1, 2, 4, 2, 4):
        with Orders(frame, threads=threads) as orders:
            bt = rfm.churn.run_backtest(orders, calibration_end="2024-09-30")
        runs.append((bt.by_segment, bt.by_frequency))
    for seg, freq in runs[1:]:
        assert seg["segment"].to_list() == runs[0][0]["segment"].to_list()
        assert seg["segment"].n_unique() == seg.height  # each segment once
        assert_frame_equal(seg, runs[0][0], check_exact=False, rel_tol=1e-12)
        assert_frame_equal(freq, runs[0][1], check_exact=False, rel_tol=1e-12)
