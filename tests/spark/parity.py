"""Comparing whole result tables across engines: row for row, exact except floats (1e-9 relative)."""

from __future__ import annotations

import polars as pl

REL = 1e-9


def assert_same(duck: pl.DataFrame, spark: pl.DataFrame, *, label: str = "") -> None:
    """Same columns, same row order, same values: integers, dates and strings exactly, floats
    within 1e-9 relative (DuckDB and Spark sum doubles in different orders)."""
    assert duck.columns == spark.columns, f"{label}: columns differ"
    assert duck.height == spark.height, f"{label}: {duck.height} rows on DuckDB, {spark.height} on Spark"
    for name in duck.columns:
        a, b = duck[name], spark[name]
        same_type = a.dtype == b.dtype or (a.dtype.is_decimal() and b.dtype.is_decimal()) or b.dtype == pl.Null
        assert same_type, f"{label}: column {name!r} is {a.dtype} on DuckDB, {b.dtype} on Spark"
        if a.dtype.is_float() or b.dtype.is_float() or a.dtype.is_decimal() or b.dtype.is_decimal():
            x, y = a.cast(pl.Float64), b.cast(pl.Float64)
            both_null = x.is_null() & y.is_null()
            scale = pl.DataFrame({"x": x.abs(), "y": y.abs()}).select(pl.max_horizontal("x", "y")).to_series()
            # finite on both sides: inf - 1.0 = inf <= REL * inf would pass an infinity for any number
            close = (x.is_finite() & y.is_finite() & ((x - y).abs() <= REL * scale)) | (x == y)
            bad = ~(both_null | close.fill_null(False))
        else:
            if a.dtype != b.dtype:
                a, b = a.cast(pl.String), b.cast(pl.String)
            bad = ~((a == b).fill_null(False) | (a.is_null() & b.is_null()))
        n = int(bad.sum())
        if n:
            i = int(bad.arg_max())  # first differing row
            raise AssertionError(
                f"{label}: column {name!r} differs on {n} of {duck.height} rows; first at row {i}: "
                f"DuckDB {a[i]!r}, Spark {b[i]!r}"
            )
