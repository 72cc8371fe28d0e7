"""Tests of the synthetic order generator (rfm.synthetic: generate_orders, generate_frame, generate_customers_frame)."""

from __future__ import annotations

import inspect
import os
import re
from datetime import date, timedelta

import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfm.errors import InputError
from rfm.synthetic import (
    DEFAULT_CATEGORIES,
    _order_spec,  # white box: the chunk cap
    generate_customers_frame,
    generate_frame,
    generate_orders,
)

# About five purchase orders per customer, like the benchmark configuration.
KW = dict(customers=4000, orders=20000, seed=7, chunk_customers=1500)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return generate_frame(**KW)


@pytest.fixture(scope="module")
def planted() -> pl.DataFrame:
    return generate_customers_frame(**KW)


def purchases(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("status") != "refund")


def refunds(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("status") == "refund")


# --- exact counts ---------------------------------------------------------------


def test_exact_orders_and_customers(frame: pl.DataFrame) -> None:
    assert frame.schema == pl.Schema(
        {
            "customer_id": pl.Int64,
            "order_id": pl.Int64,
            "order_date": pl.Date,
            "amount": pl.Float64,
            "category": pl.String,
            "status": pl.String,
            "quantity": pl.Int32,
        }
    )
    assert purchases(frame)["order_id"].n_unique() == KW["orders"]
    assert frame["customer_id"].n_unique() == KW["customers"]
    assert frame["customer_id"].min() == 1 and frame["customer_id"].max() == KW["customers"]
    # every customer has a purchase order, not only a return
    assert purchases(frame)["customer_id"].n_unique() == KW["customers"]


def test_order_ids_dense_and_disjoint(frame: pl.DataFrame) -> None:
    n_returns = refunds(frame)["order_id"].n_unique()
    assert n_returns == refunds(frame).height  # one line per return order
    ids = frame["order_id"].unique().sort()
    assert ids.to_list() == list(range(1, KW["orders"] + n_returns + 1))
    # a return order never shares its id with a purchase order
    assert set(refunds(frame)["order_id"]).isdisjoint(set(purchases(frame)["order_id"]))
    # one order = one customer, one date, one status
    per_order = frame.group_by("order_id").agg(
        pl.col("customer_id").n_unique(), pl.col("order_date").n_unique(), pl.col("status").n_unique()
    )
    assert (per_order.drop("order_id").max().row(0)) == (1, 1, 1)


def test_single_line_orders_when_lines_per_order_is_one() -> None:
    df = generate_frame(customers=1000, orders=3000, seed=2, lines_per_order=1.0)
    n_returns = refunds(df).height
    assert n_returns > 0
    assert df.height == 3000 + n_returns
    assert purchases(df)["order_id"].n_unique() == purchases(df).height


def test_mean_lines_per_order() -> None:
    df = generate_frame(customers=2000, orders=10000, seed=3, lines_per_order=2.5)
    assert purchases(df).height / 10000 == pytest.approx(2.5, abs=0.05)


def test_summary_matches_file(tmp_path) -> None:
    out = tmp_path / "o.parquet"
    calls: list[tuple[int, int, int]] = []
    s = generate_orders(out, **KW, progress=lambda *a: calls.append(a))
    df = pl.read_parquet(out)
    assert (s.customers, s.orders, s.path) == (KW["customers"], KW["orders"], out)
    assert s.lines == df.height
    assert s.cancelled_lines == df.filter(pl.col("status") == "cancelled").height
    assert s.return_lines == refunds(df).height
    assert s.seconds > 0
    # progress after each chunk, ending with the totals
    assert [c[0] for c in calls] == [1500, 3000, 4000]
    assert calls[-1] == (4000, 4000, s.lines)
    # one row group per chunk
    assert pq.ParquetFile(out).metadata.num_row_groups == 3


def test_small_chunks_keep_exact_totals(monkeypatch) -> None:
    df = generate_frame(customers=500, orders=2600, seed=4, chunk_customers=7)
    assert purchases(df)["order_id"].n_unique() == 2600
    assert df["customer_id"].n_unique() == 500
    # the line cap splits chunks further when orders per customer are huge
    monkeypatch.setattr(_order_spec, "MAX_CHUNK_LINES", 2000)
    spec = _order_spec.order_spec(
        customers=20, orders=20000, seed=0, lines_per_order=1.5, start=date(2021, 1, 1),
        end=date(2024, 12, 31), categories=None, chunk_customers=200_000,
    )
    assert spec.chunk == 1 and spec.n_chunks == 20
    df = generate_frame(customers=20, orders=20000, seed=0)
    assert purchases(df)["order_id"].n_unique() == 20000
    assert df["customer_id"].n_unique() == 20


@settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    customers=st.integers(1, 40),
    more=st.integers(0, 200),
    lines=st.sampled_from([1.0, 1.3, 3.0]),
    span=st.integers(0, 60),
    chunk=st.integers(1, 15),
    k=st.integers(1, 4),
    seed=st.integers(0, 2**40),
)
def test_property_exact_and_in_range(customers, more, lines, span, chunk, k, seed) -> None:
    start = date(2023, 3, 1)
    end = start + timedelta(days=span)
    df = generate_frame(
        customers=customers, orders=customers + more, seed=seed, lines_per_order=lines,
        start=start, end=end, categories=k, chunk_customers=chunk,
    )
    assert purchases(df)["order_id"].n_unique() == customers + more
    assert df["customer_id"].n_unique() == customers
    assert df["order_date"].min() >= start and df["order_date"].max() <= end
    assert df.equals(df.sort("customer_id", "order_date", "order_id"))
    assert df["category"].n_unique() <= k


# --- determinism ----------------------------------------------------------------


def test_same_arguments_same_bytes_and_rows(tmp_path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    generate_orders(a, **KW)
    generate_orders(b, **KW)
    assert a.read_bytes() == b.read_bytes()
    assert pl.read_parquet(a).equals(generate_frame(**KW))
    assert set(os.listdir(tmp_path)) == {"a.parquet", "b.parquet"}  # no temp files left


def test_different_seed_different_data(frame: pl.DataFrame) -> None:
    other = generate_frame(**{**KW, "seed": 8})
    assert not other.equals(frame)
    assert not other.head(1000).equals(frame.head(1000))


# --- what is planted --------------------------------------------------------------


def test_dates_within_period() -> None:
    start, end = date(2022, 2, 1), date(2022, 8, 31)
    df = generate_frame(customers=1000, orders=5000, seed=5, start=start, end=end)
    assert df["order_date"].min() >= start
    assert df["order_date"].max() <= end
    # acquisitions spread over the whole period, more early
    firsts = df.group_by("customer_id").agg(pl.col("order_date").min())["order_date"]
    mid = start + (end - start) / 2
    assert (firsts < mid).mean() > 0.6
    assert firsts.max() > mid


def test_sorted_and_ids_increase_with_date(frame: pl.DataFrame) -> None:
    assert frame.equals(frame.sort("customer_id", "order_date", "order_id"))
    per_order = frame.unique(["order_id"]).sort("customer_id", "order_id")
    assert per_order.equals(per_order.sort("customer_id", "order_date", "order_id"))


def test_amounts_and_quantities(frame: pl.DataFrame) -> None:
    buy = purchases(frame)
    assert buy["amount"].min() >= 0.01
    assert ((frame["amount"] * 100).round(0) - frame["amount"] * 100).abs().max() < 1e-6
    assert frame["quantity"].min() >= 1 and frame["quantity"].max() <= 5
    assert set(frame["status"].unique()) == {"complete", "cancelled", "refund"}
    assert set(frame["category"].unique()) == set(DEFAULT_CATEGORIES)
    # heterogeneous spend: customers' median line amounts differ widely
    med = buy.group_by("customer_id").agg(pl.col("amount").median())["amount"]
    assert med.quantile(0.9) / med.quantile(0.1) > 3


def test_refunds_follow_an_original_line(frame: pl.DataFrame) -> None:
    ref = refunds(frame)
    assert ref.height > 0
    assert ref["amount"].max() < 0
    # The original is not linked by id; check that each refund has a complete
    # line of the same customer and category, 0-30 days earlier, at least as big.
    buy = frame.filter(pl.col("status") == "complete").select(
        "customer_id", "category", pl.col("order_date").alias("d0"), pl.col("amount").alias("a0"),
        pl.col("quantity").alias("q0"),
    )
    m = (
        ref.with_row_index("r")
        .join(buy, on=["customer_id", "category"])
        .filter(
            (pl.col("d0") <= pl.col("order_date"))
            & (pl.col("order_date") - pl.col("d0") <= pl.duration(days=30))
            & (pl.col("a0") >= -pl.col("amount"))
            & (pl.col("q0") >= pl.col("quantity"))
        )
    )
    assert m["r"].n_unique() == ref.height


def test_cancelled_and_return_shares(frame: pl.DataFrame) -> None:
    orders = purchases(frame).unique("order_id")
    n = orders.height  # 20 000: standard errors ~0.0012 and ~0.0016
    cancelled = (orders["status"] == "cancelled").sum() / n
    assert cancelled == pytest.approx(0.03, abs=0.008)
    returns = refunds(frame).height / (orders["status"] == "complete").sum()
    assert returns == pytest.approx(0.05, abs=0.01)
    # cancellation is per order: all lines of an order share the status
    assert frame.group_by("order_id").agg(pl.col("status").n_unique())["status"].max() == 1


def test_one_time_buyers_and_loyal_tail(frame: pl.DataFrame) -> None:
    per_customer = purchases(frame).group_by("customer_id").agg(pl.col("order_id").n_unique())
    one_time = (per_customer["order_id"] == 1).mean()
    assert 0.40 <= one_time <= 0.65
    assert per_customer["order_id"].max() >= 36  # dozens of orders
    assert (per_customer["order_id"] >= 20).sum() >= 40


def test_planted_customers_match_orders(frame: pl.DataFrame, planted: pl.DataFrame) -> None:
    assert planted.height == KW["customers"]
    seen = (
        purchases(frame)
        .group_by("customer_id")
        .agg(pl.col("order_id").n_unique().alias("n"), pl.col("order_date").min().alias("first"))
        .sort("customer_id")
    )
    assert seen["n"].to_list() == planted["purchase_orders"].to_list()
    assert seen["first"].to_list() == planted["acquisition_date"].to_list()
    last = purchases(frame).group_by("customer_id").agg(pl.col("order_date").max())
    j = last.join(planted, on="customer_id")
    assert (j["order_date"] <= j["active_until"]).all()
    # planted immediate dropouts buy exactly once
    drop = planted.filter(pl.col("lifetime_days") == 0)
    assert drop.height > 0.1 * KW["customers"]
    assert (drop["purchase_orders"] == 1).all()
    # higher planted rate -> more orders (rank correlation among repeat buyers)
    rep = planted.filter(pl.col("purchase_orders") > 1)
    assert rep.select(pl.corr("purchase_rate", "purchase_orders", method="spearman")).item() > 0.3


def test_favourite_category_is_recoverable(frame: pl.DataFrame, planted: pl.DataFrame) -> None:
    buy = purchases(frame)
    counts = buy.group_by("customer_id", "category").len()
    fav = planted.select("customer_id", "favourite_category")
    totals = buy.group_by("customer_id").len().rename({"len": "lines"})
    fav_n = counts.join(
        fav, left_on=["customer_id", "category"], right_on=["customer_id", "favourite_category"]
    ).select("customer_id", pl.col("len").alias("fav_n"))
    best_other = (
        counts.join(fav, on="customer_id")
        .filter(pl.col("category") != pl.col("favourite_category"))
        .group_by("customer_id")
        .agg(pl.col("len").max().alias("other_n"))
    )
    j = (
        totals.filter(pl.col("lines") >= 5)
        .join(fav_n, on="customer_id", how="left")
        .join(best_other, on="customer_id", how="left")
        .fill_null(0)
    )
    assert j.height > 500
    assert (j["fav_n"] > j["other_n"]).mean() > 0.8  # strictly the most bought


def test_lines_of_an_order_in_different_categories(frame: pl.DataFrame) -> None:
    k = len(DEFAULT_CATEGORIES)
    per_order = purchases(frame).group_by("order_id").agg(
        pl.len().alias("lines"), pl.col("category").n_unique().alias("cats")
    )
    assert (per_order["lines"] > 1).sum() > 1000
    expected = pl.min_horizontal(pl.col("lines"), pl.lit(k, pl.UInt32))
    assert per_order.select((pl.col("cats") == expected).all()).item()


# --- output formats and failure ------------------------------------------------------


def test_csv_and_parquet_hold_the_same_rows(tmp_path) -> None:
    kw = dict(customers=700, orders=3000, seed=11, chunk_customers=300)
    generate_orders(tmp_path / "o.parquet", **kw)
    generate_orders(tmp_path / "o.csv", **kw)
    generate_orders(tmp_path / "o.csv.gz", **kw)
    pq_df = pl.read_parquet(tmp_path / "o.parquet")
    schema = dict(pq_df.schema)
    csv_df = pl.read_csv(tmp_path / "o.csv", schema=schema)
    assert csv_df.equals(pq_df)
    gz_df = pl.read_csv((tmp_path / "o.csv.gz").read_bytes(), schema=schema)
    assert gz_df.equals(pq_df)
    # one header only, although written in three chunks
    assert (tmp_path / "o.csv").read_text().count("customer_id") == 1


def test_failed_run_leaves_no_partial_file(tmp_path) -> None:
    out = tmp_path / "o.parquet"
    out.write_bytes(b"old")

    def boom(done: int, total: int, lines: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        generate_orders(out, **KW, progress=boom)
    assert out.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["o.parquet"]


def test_orders_below_customers_raises() -> None:
    with pytest.raises(InputError) as err:
        generate_frame(customers=100, orders=99)
    assert "100" in str(err.value) and "99" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(lines_per_order=0.5), "lines_per_order"),
        (dict(customers=0), "customers"),
        (dict(start=date(2024, 1, 2), end=date(2024, 1, 1)), "end"),
        (dict(categories=[]), "categories"),
        (dict(categories=["A", "A"]), "categories"),
        (dict(chunk_customers=0), "chunk_customers"),
        (dict(seed=-1), "seed"),
    ],
)
def test_invalid_arguments(kwargs, word) -> None:
    args = dict(customers=10, orders=20) | kwargs
    with pytest.raises(InputError, match=word):
        generate_frame(**args)


def test_unsupported_extension(tmp_path) -> None:
    with pytest.raises(InputError, match=r"\.parquet"):
        generate_orders(tmp_path / "o.json", customers=10, orders=20)
    assert os.listdir(tmp_path) == []


def test_category_names() -> None:
    df = generate_frame(customers=200, orders=1000, categories=["A", "B,C"], seed=1)
    assert set(df["category"].unique()) <= {"A", "B,C"}
    df = generate_frame(customers=200, orders=1000, categories=12, seed=1)
    assert df["category"].min() == "category_01" and df["category"].max() <= "category_12"


# --- the three public functions agree -------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        dict(customers=900, orders=2700, seed=1, lines_per_order=1.0, chunk_customers=200),
        dict(customers=600, orders=3000, seed=2, categories=["Tea", "Coffee", "Cups, mugs"],
             start="2023-01-01", end=date(2023, 6, 30), chunk_customers=250),
        dict(customers=300, orders=1200, seed=3, lines_per_order=2.0, categories=12),
    ],
)
def test_file_frame_and_customers_agree(tmp_path, kw) -> None:
    frame = generate_frame(**kw)
    planted = generate_customers_frame(**kw)
    s = generate_orders(tmp_path / "o.parquet", **kw)
    generate_orders(tmp_path / "o.csv", **kw)
    assert pl.read_parquet(tmp_path / "o.parquet").equals(frame)
    assert pl.read_csv(tmp_path / "o.csv", schema=dict(frame.schema)).equals(frame)
    assert (s.customers, s.orders, s.lines) == (kw["customers"], kw["orders"], frame.height)
    assert s.cancelled_lines == frame.filter(pl.col("status") == "cancelled").height
    assert s.return_lines == refunds(frame).height
    # the planted customers are the customers of the frame, with their exact purchase orders
    seen = purchases(frame).group_by("customer_id").agg(pl.col("order_id").n_unique().alias("n")).sort("customer_id")
    assert planted["customer_id"].to_list() == seen["customer_id"].to_list() == list(range(1, kw["customers"] + 1))
    assert planted["purchase_orders"].to_list() == seen["n"].to_list()
    assert set(planted["favourite_category"]) <= set(frame["category"])


def test_public_signatures_match_the_spec() -> None:
    # order_spec is called with the arguments in signature order: names, order and defaults must agree.
    names = list(inspect.signature(_order_spec.order_spec).parameters)
    defaults = None
    for fn in (generate_orders, generate_frame, generate_customers_frame):
        params = {k: p for k, p in inspect.signature(fn).parameters.items() if k not in ("out", "progress")}
        assert list(params) == names
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
        fn_defaults = {k: p.default for k, p in params.items()}
        assert defaults is None or fn_defaults == defaults
        defaults = fn_defaults


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(customers=100, orders=99), ("orders (99) must be at least customers (100): every customer has at least "
                                          "one purchase order; raise orders to >= 100 or lower customers to <= 99")),
        (dict(customers=1.5), "customers must be an integer >= 1, got 1.5 (float)"),
        (dict(seed=-1), "seed must be an integer >= 0, got -1"),
        (dict(lines_per_order="x"), "lines_per_order must be a number >= 1.0, got 'x'"),
        (dict(start="2024-13-01"), "start must be a date (or 'YYYY-MM-DD'), got '2024-13-01'"),
        (dict(start=date(2024, 1, 2), end=date(2024, 1, 1)), "end (2024-01-01) must not be before start (2024-01-02)"),
        (dict(categories="A"), ("categories must be a count or a list of names, got the string 'A'; "
                                "pass ['A'] for a single category")),
        (dict(chunk_customers=0), "chunk_customers must be an integer >= 1, got 0"),
    ],
)
def test_bad_argument_same_message_from_each_function(tmp_path, kwargs, message) -> None:
    args = dict(customers=10, orders=20) | kwargs
    pattern = "^" + re.escape(message) + "$"
    with pytest.raises(InputError, match=pattern):
        generate_orders(tmp_path / "o.parquet", **args)
    with pytest.raises(InputError, match=pattern):
        generate_frame(**args)
    with pytest.raises(InputError, match=pattern):
        generate_customers_frame(**args)
    assert os.listdir(tmp_path) == []
