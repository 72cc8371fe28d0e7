"""Customer metrics, scores and segments against a hand-computed table."""

from __future__ import annotations

import warnings
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rfm
from rfm.errors import RfmWarning

# Hand computation for tests/data/golden_orders.csv as of 2024-06-30 (inclusive).
# recency_days = 2024-06-30 - last purchase; refund-only orders (all lines < 0)
# are not visits; o402 is cancelled; o901 is after as_of; the blank customer is
# dropped; C06's two identical lines are kept (duplicates: keep); C11 has only a
# refund and is not scored.  Scores (n = 12, bins = 5): 1 + floor(5 * worse / 12)
# where "worse" counts customers strictly worse on that metric:
#   recency  0:11->5  2:9->4  10:8->4  29:6->3  60:4->2  81:3->2  150:2->1  172:1->1  303:0->1
#   frequency 1:0->1  2:8->4  3:9->4  4:11->5
#   monetary sorted -10,0,15,25,40,50,70,80,120,150,180,900 -> worse = rank 0..11
#            -> 1,1,1,2,2,3,3,3,4,4,5,5
# Segments (default preset, first match wins): see rfm/presets/segments/default.yaml.
GOLDEN = pl.DataFrame(
    [
        # id    rec  freq  monetary gross  refunds tenure R F M  segment            action        nonpos
        ("C01", 2, 3, 180.0, 180.0, 0.0, 121, 4, 4, 5, "Champions", "retain", False),
        ("C02", 2, 2, 120.0, 120.0, 0.0, 2, 4, 4, 4, "Champions", "retain", False),
        ("C03", 172, 1, 150.0, 200.0, -50.0, 172, 1, 1, 4, "Lost", "reactivate", False),
        ("C04", 29, 1, 80.0, 80.0, 0.0, 29, 3, 1, 3, "Promising", "nurture", False),
        ("C05", 29, 4, 40.0, 40.0, 0.0, 212, 3, 5, 2, "Loyal", "retain", False),
        ("C06", 60, 1, 50.0, 50.0, 0.0, 60, 2, 1, 3, "About to Sleep", "reactivate", False),
        ("C07", 60, 1, 25.0, 25.0, 0.0, 60, 2, 1, 2, "About to Sleep", "reactivate", False),
        ("C08", 150, 1, -10.0, 30.0, -40.0, 150, 1, 1, 1, "Lost", "reactivate", True),
        ("C09", 10, 1, 70.0, 70.0, 0.0, 10, 4, 1, 3, "New", "nurture", False),
        ("C10", 0, 1, 15.0, 15.0, 0.0, 0, 5, 1, 1, "New", "nurture", False),
        ("C12", 81, 1, 0.0, 0.0, 0.0, 81, 2, 1, 1, "About to Sleep", "reactivate", True),
        ("C13", 303, 3, 900.0, 900.0, 0.0, 365, 1, 4, 5, "Can't Lose Them", "reactivate", False),
    ],
    schema={
        "customer_id": pl.String,
        "recency_days": pl.Int32,
        "frequency": pl.Int32,
        "monetary": pl.Float64,
        "gross": pl.Float64,
        "refunds": pl.Float64,
        "tenure_days": pl.Int32,
        "r_score": pl.Int32,
        "f_score": pl.Int32,
        "m_score": pl.Int32,
        "segment": pl.String,
        "action": pl.String,
        "nonpositive_value": pl.Boolean,
    },
    orient="row",
)


@pytest.mark.parametrize("duplicates", ["unchecked", "keep"])  # the fast path and the order-table path
def test_golden_table(golden_csv, duplicates):
    result = rfm.score_customers(golden_csv, {"input": {"duplicates": duplicates}}, as_of="2024-06-30")
    assert_frame_equal(result.table.select(GOLDEN.columns), GOLDEN)
    table = result.table
    assert table["rfm_cell"].to_list()[:3] == ["445", "444", "114"]
    assert table["as_of"].unique().to_list() == [date(2024, 6, 30)]
    assert table.filter(pl.col("customer_id") == "C01")["first_order_date"].item() == date(2024, 3, 1)
    assert table.filter(pl.col("customer_id") == "C03")["last_order_date"].item() == date(2024, 1, 10)
    assert table.filter(pl.col("customer_id") == "C05")["aov"].item() == pytest.approx(10.0)


@pytest.mark.parametrize(("duplicates", "found"), [("unchecked", 0), ("keep", 1), ("drop", 1)])
def test_golden_stats(golden_csv, duplicates, found):
    # unchecked takes the one-scan fast path, keep and drop the order table: same counts
    stats = rfm.score_customers(golden_csv, {"input": {"duplicates": duplicates}}, as_of="2024-06-30").stats
    assert (
        stats.lines_read,
        stats.null_customer_id_lines,
        stats.excluded_status_lines,
        stats.after_as_of_lines,
        stats.duplicate_lines,
        stats.purchase_orders,
        stats.return_lines,
        stats.refund_only_customers,
        stats.customers,
        stats.nonpositive_customers,
    ) == (28, 1, 1, 1, found, 20, 3, 1, 12, 2)


def test_dropped_rows_are_reported_as_warnings(golden_csv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        rfm.score_customers(golden_csv, {"input": {"duplicates": "keep"}}, as_of="2024-06-30")
    messages = [str(w.message) for w in caught if w.category is RfmWarning]
    assert any("dropped 1 order lines with no customer id" in m for m in messages)
    assert any("dropped 1 order lines whose status is in input.excluded_statuses" in m for m in messages)
    assert any("1 exact duplicate order lines, kept" in m and "customer C06, order o601" in m for m in messages)
    assert any("1 customers have only refund orders" in m for m in messages)
    assert any("2 customers have net value <= 0" in m for m in messages)


def test_default_as_of_is_day_after_last_order(golden_csv):
    result = rfm.score_customers(golden_csv)
    assert result.as_of == date(2024, 7, 6)  # C09 ordered on 2024-07-05
    c09 = result.table.filter(pl.col("customer_id") == "C09").row(0, named=True)
    assert (c09["recency_days"], c09["frequency"], c09["monetary"]) == (1, 2, 570.0)


def test_duplicates_drop(golden_csv):
    result = rfm.score_customers(golden_csv, {"input": {"duplicates": "drop"}}, as_of="2024-06-30")
    c06 = result.table.filter(pl.col("customer_id") == "C06")
    assert c06["monetary"].item() == 25.0
    assert result.stats.duplicate_lines == 1


@pytest.mark.parametrize(
    ("basis", "expected_c01", "expected_c03"),
    [("net", 180.0, 150.0), ("gross", 180.0, 200.0), ("aov", 60.0, 150.0)],
)
def test_monetary_basis(golden_csv, basis, expected_c01, expected_c03):
    table = rfm.score(golden_csv, {"scoring": {"monetary": basis}}, as_of="2024-06-30")
    got = dict(zip(table["customer_id"], table["monetary"]))
    assert (got["C01"], got["C03"]) == (expected_c01, expected_c03)


def test_lookback_window(golden_csv):
    # 90-day window ending 2024-06-30 starts 2024-04-02: C05 keeps o504 only,
    # C13 keeps nothing (frequency 0, monetary 0) but is still scored.
    table = rfm.score(golden_csv, {"scoring": {"window_days": 90}}, as_of="2024-06-30")
    got = {r["customer_id"]: (r["frequency"], r["monetary"], r["recency_days"]) for r in table.iter_rows(named=True)}
    assert got["C05"] == (1, 10.0, 29)
    assert got["C01"] == (2, 120.0, 2)
    assert got["C13"] == (0, 0.0, 303)
    assert got["C12"] == (1, 0.0, 81)  # 2024-04-10 is inside the window
    assert len(table) == 12


def test_business_cut_points(golden_csv):
    cfg = {"scoring": {"cut_points": {"frequency": [1, 2, 3, 4], "recency_days": [7, 30, 90, 180]}}}
    result = rfm.score_customers(golden_csv, cfg, as_of="2024-06-30")
    got = {r["customer_id"]: (r["r_score"], r["f_score"]) for r in result.table.iter_rows(named=True)}
    # recency: <=7 -> 5, <=30 -> 4, <=90 -> 3, <=180 -> 2, else 1
    assert got["C10"] == (5, 1)
    assert got["C04"] == (4, 1)
    assert got["C06"] == (3, 1)
    assert got["C03"] == (2, 1)
    assert got["C13"] == (1, 3)
    assert got["C05"] == (4, 4)
    assert result.scoring.origin == {"recency_days": "config", "frequency": "config", "monetary": "fitted"}


def test_bins_report_and_degenerate_warning(golden_csv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        result = rfm.score_customers(golden_csv, as_of="2024-06-30")
    freq = result.bins.filter(pl.col("metric") == "frequency")
    assert freq.select("score", "customers").rows() == [(1, 8), (4, 3), (5, 1)]
    assert result.scoring.cut_points["frequency"] == [1.0, 1.0, 1.0, 3.0]
    messages = [str(w.message) for w in caught]
    assert any(
        m.startswith("frequency: only 3 of 5 scores occur (1: 67%, 4: 25%, 5: 8%); 67% of customers have frequency 1")
        for m in messages
    )


def test_saved_scoring_applies_to_another_snapshot(golden_csv, tmp_path):
    first = rfm.score_customers(golden_csv, as_of="2024-06-30")
    path = first.scoring.save(tmp_path / "scoring.json")
    later = rfm.score_customers(golden_csv, as_of="2024-07-31", scoring=path)
    assert later.scoring.cut_points == first.scoring.cut_points
    assert set(later.scoring.origin.values()) == {"saved"}
    # As of 2024-07-31 C10 is 31 days out; with the June cut points
    # (recency cuts [0, 10, 29, 81]) 31 days is R = 1 + #{cuts >= 31} = 2.
    c10 = later.table.filter(pl.col("customer_id") == "C10").row(0, named=True)
    assert first.scoring.cut_points["recency_days"] == [0.0, 10.0, 29.0, 81.0]
    assert (c10["recency_days"], c10["r_score"]) == (31, 2)


def test_segment_summary(golden_csv):
    summary = rfm.score_customers(golden_csv, as_of="2024-06-30").segment_summary()
    rows = {r["segment"]: r for r in summary.iter_rows(named=True)}
    assert summary["segment"].to_list() == [
        "Champions", "Loyal", "New", "Promising", "Can't Lose Them", "About to Sleep", "Lost"
    ]
    assert rows["Champions"]["customers"] == 2
    assert rows["Champions"]["revenue"] == 300.0
    assert rows["Champions"]["revenue_share"] == pytest.approx(300.0 / 1620.0)
    assert rows["About to Sleep"]["median_recency_days"] == 60.0
    assert summary["customer_share"].sum() == pytest.approx(1.0)


def test_in_memory_frames_match_file(golden_csv):
    frame = pl.read_csv(golden_csv, try_parse_dates=True)
    from_file = rfm.score(golden_csv, as_of="2024-06-30")
    from_polars = rfm.score(frame, as_of="2024-06-30")
    from_arrow = rfm.score(frame.to_arrow(), as_of="2024-06-30")
    from_pandas = rfm.score(frame.to_pandas(), as_of="2024-06-30")
    assert_frame_equal(from_polars, from_file)
    assert_frame_equal(from_arrow, from_file)
    assert_frame_equal(from_pandas, from_file)


def test_parquet_directory_and_duckdb_table(golden_csv, tmp_path):
    import duckdb

    frame = pl.read_csv(golden_csv, try_parse_dates=True)
    (tmp_path / "parts").mkdir()
    frame.head(10).write_parquet(tmp_path / "parts" / "a.parquet")
    frame.slice(10).write_parquet(tmp_path / "parts" / "b.parquet")
    expected = rfm.score(golden_csv, as_of="2024-06-30")
    assert_frame_equal(rfm.score(tmp_path / "parts", as_of="2024-06-30"), expected)
    assert_frame_equal(rfm.score(str(tmp_path / "parts" / "*.parquet"), as_of="2024-06-30"), expected)
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE orders AS SELECT * FROM frame")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    assert_frame_equal(rfm.score(db, as_of="2024-06-30", table="orders"), expected)


def test_column_mapping_and_common_names(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("Client ID;Invoice;InvoiceDate;Sales\nx;1;2024-01-01;10\ny;2;2024-01-02;20\n")
    table = rfm.score(path, {"input": {"csv": {"delimiter": ";"}}})
    assert table["customer_id"].to_list() == ["x", "y"]
    assert table["monetary"].to_list() == [10.0, 20.0]
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("who,ticket,when,eur,st\nx,1,2024-01-01,10,ok\nx,2,2024-01-05,5,storno\n")
    cfg = {
        "input": {
            "columns": {"customer_id": "who", "order_id": "ticket", "order_date": "when", "amount": "eur", "status": "st"},
            "excluded_statuses": ["storno"],
        }
    }
    result = rfm.score_customers(mapped, cfg)
    assert result.table["frequency"].to_list() == [1]
    assert result.stats.excluded_status_lines == 1


def test_duplicates_unchecked_by_default_says_so(golden_csv):
    result = rfm.score_customers(golden_csv, as_of="2024-06-30")
    assert result.table.filter(pl.col("customer_id") == "C06")["monetary"].item() == 50.0
    assert result.stats.duplicate_lines == 0
    assert "(duplicate lines not checked)" in result.stats.summary()


def test_earlier_result_survives_a_later_score_on_the_same_orders(golden_csv, tmp_path):
    orders = rfm.Orders(golden_csv)
    june = orders.score(as_of="2024-06-30")
    july = orders.score(as_of="2024-07-31")
    assert june.table["as_of"].unique().to_list() == [date(2024, 6, 30)]
    assert july.table["as_of"].unique().to_list() == [date(2024, 7, 31)]
    assert june.segment_summary()["customers"].sum() == 12
    june.write(tmp_path / "june.csv")
    assert pl.read_csv(tmp_path / "june.csv", try_parse_dates=True)["as_of"].unique().to_list() == [date(2024, 6, 30)]
    assert_frame_equal(june.table, rfm.score(golden_csv, as_of="2024-06-30"))


def test_later_line_of_an_order_does_not_leak_into_an_earlier_as_of(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01,100\nA,1,2024-03-01,-100\n"
                    "A,1,2024-03-02,500\nB,2,2024-01-05,20\n")
    before = rfm.score_customers(path, as_of="2024-02-01")
    a = before.table.row(0, named=True)
    assert (a["monetary"], a["refunds"], a["frequency"]) == (100.0, 0.0, 1)
    assert before.stats.after_as_of_lines == 2
    after = rfm.score(path, as_of="2024-03-31").row(0, named=True)
    # the order counts once; its lines count from their own dates
    assert (after["monetary"], after["frequency"], after["last_order_date"]) == (500.0, 1, date(2024, 3, 2))


def test_time_zone_timestamps_are_dated_in_utc(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01T23:30:00-05:00,10\n")
    assert rfm.score(path)["last_order_date"].item() == date(2024, 1, 2)  # 04:30 UTC on Jan 2


def test_a_scoring_object_with_the_wrong_cut_points_is_refused(golden_csv):
    from rfm.errors import ConfigError

    # five monetary cuts would make an m_score of 6 and read a neighbouring cell's segment
    bad = rfm.Scoring(bins=5, monetary="net", window_days=None, origin={},
                      cut_points={"recency_days": [10, 30, 60, 90], "frequency": [1, 2, 3, 4],
                                  "monetary": [10, 20, 30, 40, 50]})
    with pytest.raises(ConfigError, match=r"scoring: cut_points.monetary must list 4 cut points"):
        rfm.score(golden_csv, as_of="2024-06-30", scoring=bad)


def test_stats_after_a_fast_path_score_builds_the_order_table(golden_csv):
    orders = rfm.Orders(golden_csv)
    fast = orders.score(as_of="2024-06-30")  # one scan, no order table
    assert orders.stats(date(2024, 6, 30))["after_as_of_lines"] == fast.stats.after_as_of_lines == 1
    assert (orders.first_date, orders.last_date) == (date(2023, 7, 1), date(2024, 7, 5))
