"""The CDNOW 1/10 sample loads with a column mapping and matches an independent computation."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import polars as pl
from polars.testing import assert_frame_equal

import rfm
from tests.conftest import CDNOW_CONFIG


def independent(path, as_of: date) -> pl.DataFrame:
    """Plain-Python RFM over the raw text: one order per customer-day."""
    days: dict[str, set[date]] = defaultdict(set)
    spend: dict[str, float] = defaultdict(float)
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        _, cust, day, _, amount = line.split()
        d = datetime.strptime(day, "%Y%m%d").date()
        if d <= as_of:
            days[cust].add(d)
            spend[cust] += float(amount)
    rows = [
        (cust, len(ds), round(spend[cust], 2), (as_of - max(ds)).days, (as_of - min(ds)).days)
        for cust, ds in sorted(days.items())
    ]
    return pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "frequency": pl.Int32, "monetary": pl.Float64,
                "recency_days": pl.Int32, "tenure_days": pl.Int32},
        orient="row",
    )


def test_cdnow_loads_with_mapping(cdnow_path):
    result = rfm.score_customers(cdnow_path, CDNOW_CONFIG)
    assert result.stats.lines_read == 6919
    assert result.stats.customers == 2357
    assert result.stats.purchase_orders == 6696  # customer-days, as the README of the data says
    assert result.as_of == date(1998, 7, 1)  # day after the last order, 1998-06-30


def test_cdnow_metrics_match_independent_computation(cdnow_path):
    for as_of in (date(1998, 7, 1), date(1997, 9, 30)):
        table = rfm.score(cdnow_path, CDNOW_CONFIG, as_of=as_of)
        ours = table.select("customer_id", "frequency", "monetary", "recency_days", "tenure_days").with_columns(
            pl.col("monetary").round(2)
        )
        assert_frame_equal(ours, independent(cdnow_path, as_of))


def test_cdnow_calibration_period_figures(cdnow_path):
    # Published: calibration to 1997-09-30 has 2,357 customers, sum of repeat
    # transactions (customer-days - 1) = 2,457 and 1,411 customers with none.
    table = rfm.score(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30")
    repeats = table["frequency"] - 1
    assert (table.height, int(repeats.sum()), int((repeats == 0).sum())) == (2357, 2457, 1411)


def test_cdnow_frequency_bins_are_reported(cdnow_path):
    result = rfm.score_customers(cdnow_path, CDNOW_CONFIG)
    freq = result.bins.filter(pl.col("metric") == "frequency")
    # 1,218 of 2,357 customers (52 %) bought on one day only.  Tie-safe scoring puts
    # them all in F = 1; the next value, 2 days, has 1,218 customers strictly below
    # it: 1 + floor(5 * 1218 / 2357) = 3, so score 2 is never produced.
    assert freq.select("score", "customers", "min_value", "max_value").rows() == [
        (1, 1218, 1.0, 1.0), (3, 403, 2.0, 2.0), (4, 358, 3.0, 4.0), (5, 378, 5.0, 44.0)
    ]
    assert result.scoring.cut_points["frequency"] == [1.0, 1.0, 2.0, 4.0]
