"""Invariants of customer scoring, checked on random order histories (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import rfm

START = date(2023, 1, 1)
AS_OF = START + timedelta(days=365)

order_st = st.tuples(
    st.integers(0, 9),  # customer
    st.integers(0, 365),  # day offset, on or before as_of
    st.sampled_from([-20.0, 0.0, 5.5, 10.0, 10.0, 25.0, 99.99]),
    st.integers(1, 3),  # lines in the order
)


def frame(orders: list[tuple[int, int, float, int]], first_id: int = 0) -> pl.DataFrame:
    rows = []
    for i, (cust, day, amount, lines) in enumerate(orders, start=first_id):
        for line in range(lines):
            rows.append((f"C{cust}", f"o{i}", START + timedelta(days=day), amount + line))
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "order_date", "amount"], orient="row")


histories = st.lists(order_st, min_size=1, max_size=40).map(lambda o: [(o[0][0], o[0][1], 10.0, 1), *o[1:]])
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
bins_st = st.integers(2, 7)


def score(df: pl.DataFrame, bins: int = 5) -> pl.DataFrame:
    return rfm.score(df, {"scoring": {"bins": bins}, "segments": {"rules": [{"name": "All", "action": "retain"}]}},
                     as_of=AS_OF)


@SETTINGS
@given(histories, bins_st)
def test_scores_in_range_and_ties_share_a_score(orders, bins):
    table = score(frame(orders), bins)
    for metric, col in (("recency_days", "r_score"), ("frequency", "f_score"), ("monetary", "m_score")):
        assert table[col].min() >= 1 and table[col].max() <= bins
        per_value = table.group_by(metric).agg(pl.col(col).n_unique().alias("n"))
        assert per_value["n"].max() == 1, f"{metric}: equal values got different scores"


@SETTINGS
@given(histories, bins_st)
def test_scores_are_monotone_in_their_metric(orders, bins):
    table = score(frame(orders), bins)
    by_recency = table.sort("recency_days")
    assert by_recency["r_score"].diff().drop_nulls().max() is None or by_recency["r_score"].diff().drop_nulls().max() <= 0
    for metric, col in (("frequency", "f_score"), ("monetary", "m_score")):
        ordered = table.sort(metric)[col].diff().drop_nulls()
        assert ordered.len() == 0 or ordered.min() >= 0


@SETTINGS
@given(histories, st.lists(order_st, min_size=1, max_size=10))
def test_orders_after_as_of_change_nothing(orders, future):
    base = frame(orders)
    # shift the extra orders past as_of, for known and new customers
    later = frame([(c + 5, d + 366, a, n) for c, d, a, n in future], first_id=1000)
    assert_frame_equal(score(pl.concat([base, later])), score(base))


@SETTINGS
@given(histories, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(orders, rnd):
    base = frame(orders)
    idx = list(range(base.height))
    rnd.shuffle(idx)
    assert_frame_equal(score(base[idx]), score(base))


@SETTINGS
@given(histories)
def test_score_is_one_plus_floor_bins_times_share_strictly_worse(orders):
    # Independent restatement of the documented rule, in polars.
    table = score(frame(orders), 5)
    n = table.height
    for metric, col, worse in (
        ("recency_days", "r_score", lambda v: (table["recency_days"] > v).sum()),
        ("frequency", "f_score", lambda v: (table["frequency"] < v).sum()),
        ("monetary", "m_score", lambda v: (table["monetary"] < v).sum()),
    ):
        for value, got in table.select(metric, col).unique().iter_rows():
            assert got == min(5, 1 + (5 * worse(value)) // n), (metric, value)


# The one-scan fast path (build_customer_totals, straight from the lines) and the
# order-table path (build_orders + customer_totals_from_orders) must agree row
# for row and count for count, on lines with returns, cancelled and null-customer
# lines, orders spanning dates and lines after as_of.
line_st = st.tuples(
    st.sampled_from(["A", "B", "C", "D", None]),  # customer (None: no customer id)
    st.integers(0, 6),  # order id; an order can span dates and even customers' lines
    st.integers(0, 400),  # day offset: after AS_OF past 365
    # more than 4 decimals: both paths round each line once, the same way
    st.sampled_from([-30.0, -0.01, -0.00001, 0.0, 0.00004, 1.00005, 4.99, 10.0, 123.45]),
    st.sampled_from(["complete", "complete", "Cancelled", None]),
)


def line_frame(lines: list[tuple]) -> pl.DataFrame:
    rows = [(c, f"o{o}", START + timedelta(days=d), a, s) for c, o, d, a, s in lines]
    return pl.DataFrame(rows, schema=["customer_id", "order_id", "order_date", "amount", "status"], orient="row")


def both_paths(df: pl.DataFrame, as_of, cfg: dict) -> tuple:
    fast = rfm.Orders(df, cfg).score(as_of=as_of)
    slow_orders = rfm.Orders(df, cfg)
    slow_orders.build_order_table()
    slow = slow_orders.score(as_of=as_of)
    return fast, slow


@SETTINGS
@given(
    st.lists(line_st, min_size=1, max_size=40).map(lambda ls: [("A", 0, 10, 10.0, "complete"), *ls]),
    st.sampled_from([None, AS_OF, START + timedelta(days=200)]),
    st.sampled_from([None, 90]),
)
def test_fast_path_equals_order_table_path(lines, as_of, window_days):
    cfg = {"scoring": {"window_days": window_days}, "segments": {"rules": [{"name": "All", "action": "retain"}]}}
    fast, slow = both_paths(line_frame(lines), as_of, cfg)
    assert fast.as_of == slow.as_of
    assert_frame_equal(fast.table, slow.table)
    a, b = fast.stats.__dict__.copy(), slow.stats.__dict__.copy()
    a.pop("seconds"), b.pop("seconds")
    assert a == b


@SETTINGS
@given(
    st.lists(line_st, min_size=1, max_size=40).map(lambda ls: [("A", 0, 10, 10.0, "complete"), *ls]),
    st.sampled_from([None, AS_OF, START + timedelta(days=200)]),
    st.sampled_from([None, 90]),
)
def test_order_table_row_count_equals_distinct_orders_when_no_order_spans_dates(lines, as_of, window_days):
    """The order table counts rows instead of distinct order ids when no order's lines carry several
    dates: the same lines, each order moved to one date (its first), must score as the fast path does,
    and the row-count block must be the one that ran."""
    first = {}
    for c, o, d, a, s in lines:
        first.setdefault((c, o), d)
    one_date = [(c, o, first[(c, o)], a, s) for c, o, d, a, s in lines]
    cfg = {"scoring": {"window_days": window_days}, "segments": {"rules": [{"name": "All", "action": "retain"}]}}
    df = line_frame(one_date)
    fast = rfm.Orders(df, cfg).score(as_of=as_of)
    orders = rfm.Orders(df, cfg)
    orders.build_order_table()
    assert orders._spanning_orders() == 0  # so customer_totals_from_orders (rows, not DISTINCT) ran
    slow = orders.score(as_of=as_of)
    assert_frame_equal(fast.table, slow.table)
