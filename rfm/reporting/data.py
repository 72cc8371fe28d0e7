"""Aggregates behind the report charts: DuckDB SQL (``queries/reports.sql``) and polars group-bys.

:class:`ReportData` snapshots the scored customers into ``rfm_report_customers``
once, then every chart and table reads a few aggregated rows from it.  Lead
and backtest frames are reshaped with polars (they are already small or are
grouped here before plotting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import polars as pl

from rfm import sql

#: Histogram bin widths are 1, 2, 2.5 or 5 times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
INTEGER_METRICS = ("recency_days", "frequency")
#: Label of the migration row for customers who had not ordered by the earlier date.
NEW_CUSTOMERS = "(not a customer yet)"


@dataclass
class Histogram:
    metric: str
    frame: pl.DataFrame  # bin_start, bin_end, label, customers, share
    clipped_low: bool
    clipped_high: bool

    def note(self) -> str:
        """Which end bars also hold the values beyond the plotted range."""
        ends = []
        if self.clipped_low:
            ends.append(f"the first bar also holds values below {self.frame['bin_start'][0]:,.2f}")
        if self.clipped_high:
            ends.append("the last bar also holds the top 1%")
        return "; ".join(ends)


def nice_step(raw: float, *, integer: bool) -> float:
    """The smallest 'nice' width >= ``raw`` (whole numbers for integer metrics)."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in NICE_STEPS if m * power >= raw - 1e-12)
    return float(max(1, math.ceil(step))) if integer else step


def histogram_bins(metric: str, lo: float, p01: float, p99: float, bins: int) -> tuple[float, float, int]:
    """(start, step, n): ``n`` bins of width ``step`` from ``start`` up to the 99th percentile.

    Counts (recency, frequency) start at their minimum and bin whole numbers;
    money starts at 0, or at the 1st percentile when refunds make it negative.
    Values beyond the range are counted in the end bins (labelled so).
    """
    if metric in INTEGER_METRICS:
        start = float(lo)
        values = max(p99, start) - start + 1  # whole numbers start..p99
        step = nice_step(values / bins, integer=True)
        return start, step, max(1, math.ceil(values / step))
    base = 0.0 if p01 >= 0 else p01
    step = nice_step((p99 - base) / bins, integer=False) if p99 > base else 1.0
    start = math.floor(base / step) * step
    return start, step, max(1, math.ceil((p99 - start) / step))


def _label(metric: str, a: float, b: float, first: bool, last: bool, clipped_low: bool, clipped_high: bool) -> str:
    if metric in INTEGER_METRICS:
        lo, hi = int(a), int(b) - 1
        text = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
        if last and clipped_high:
            text = f"{lo:,} or more"
        return text
    if first and clipped_low:
        return f"below {b:,.2f}"
    if last and clipped_high:
        return f"{a:,.2f} or more"
    return f"{a:,.2f} to {b:,.2f}"


@dataclass
class ReportData:
    """Aggregates of one scored snapshot (``orders.con``), computed on first use."""

    con: Any
    as_of: date
    bins: int
    segment_order: list[str]
    other_segment: str
    actions: list[str]
    has_churn: bool
    horizon_days: int
    recent_days: int = 365
    clv_months: int = 12
    churn_method: str | None = None
    _headline: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def capture(cls, scores: Any, *, recent_days: int = 365) -> ReportData:
        """Snapshot ``scores`` (a :class:`rfm.customers.CustomerScores`) for the report."""
        orders = scores.orders
        con = orders.con
        has_churn = scores.churn is not None
        # A later score() on the same Orders detaches `scores` (rfm_result then holds another date): use its rows.
        live = scores.is_current
        if live:
            sql.execute(con, "report_source_live")
        else:
            con.register("rfm_report_source", scores.table)
        try:
            sql.execute(
                con,
                "report_snapshot_with_churn" if has_churn else "report_snapshot_without_churn",
                as_of=scores.as_of,
                recent_days=recent_days,
            )
        finally:
            sql.execute(con, "report_drop_source") if live else con.unregister("rfm_report_source")
        con.register("rfm_report_grid", scores.ruleset.grid)
        sql.execute(con, "report_no_offers")
        return cls(
            con=orders.con,
            as_of=scores.as_of,
            bins=scores.scoring.bins,
            segment_order=list(scores.ruleset.segment_order),
            other_segment=scores.ruleset.other.name,
            actions=list(orders.config.actions),
            has_churn=has_churn,
            horizon_days=int(orders.config.churn.horizon_days),
            recent_days=recent_days,
            clv_months=int(orders.config.churn.clv.horizon_months),
            churn_method=scores.churn.method if has_churn else None,
        )

    # --- whole base ---------------------------------------------------------

    def headline(self, active_days: int) -> dict[str, Any]:
        if active_days not in self._headline:
            row = sql.fetch(self.con, "report_headline", active_days=active_days).row(0, named=True)
            self._headline[active_days] = row
        return self._headline[active_days]

    @cached_property
    def segments(self) -> pl.DataFrame:
        return sql.fetch(self.con, "report_segments")

    @cached_property
    def rf_grid(self) -> pl.DataFrame:
        return sql.fetch(self.con, "report_rf_grid", bins=self.bins)

    @cached_property
    def rf_segments(self) -> pl.DataFrame:
        return sql.fetch(self.con, "report_rf_segments")

    @cached_property
    def _ranges(self) -> dict[str, dict[str, float]]:
        frame = sql.fetch(self.con, "report_metric_ranges")
        return {row["metric"]: row for row in frame.iter_rows(named=True)}

    def histogram(self, metric: str, bins: int) -> Histogram:
        r = self._ranges[metric]
        if r["lo"] is None:
            empty = pl.DataFrame(
                schema={
                    "bin_start": pl.Float64,
                    "bin_end": pl.Float64,
                    "label": pl.String,
                    "customers": pl.Int64,
                    "share": pl.Float64,
                }
            )
            return Histogram(metric, empty, False, False)
        start, step, n = histogram_bins(metric, r["lo"], r["p01"], r["p99"], bins)
        counts = sql.fetch(self.con, "report_histogram", metric=metric, lo=start, step=step, bins=n)
        full = pl.DataFrame({"k": list(range(n))}, schema={"k": pl.Int32}).join(counts, on="k", how="left")
        full = full.with_columns(pl.col("customers").fill_null(0).cast(pl.Int64))
        clipped_low = r["lo"] < start
        top = start + n * step - (1 if metric in INTEGER_METRICS else 0)  # last value inside the bins
        clipped_high = r["hi"] > top if metric in INTEGER_METRICS else r["hi"] >= top
        total = max(1, int(full["customers"].sum()))
        rows = []
        for k, customers in full.select("k", "customers").iter_rows():
            a, b = start + k * step, start + (k + 1) * step
            label = _label(metric, a, b, k == 0, k == n - 1, clipped_low, clipped_high)
            if metric in INTEGER_METRICS:  # bars centred on whole numbers: [a - 0.5, b - 0.5]
                a, b = a - 0.5, b - 0.5
            rows.append(
                {"bin_start": a, "bin_end": b, "label": label, "customers": customers, "share": customers / total}
            )
        return Histogram(metric, pl.DataFrame(rows), clipped_low, clipped_high)

    # --- actions and campaign lists ----------------------------------------

    @cached_property
    def action_table(self) -> pl.DataFrame:
        """Per action in ``actions`` order (actions without customers included with 0)."""
        counts = sql.fetch(self.con, "report_actions")
        order = self.actions + [a for a in counts["action"].to_list() if a not in self.actions]
        full = pl.DataFrame({"action": order}).join(counts, on="action", how="left")
        total = max(1, int(full["customers"].fill_null(0).sum()))
        return full.with_columns(
            pl.col("customers").fill_null(0).cast(pl.Int64),
            pl.col("revenue").fill_null(0.0),
            (pl.col("customers").fill_null(0) / total).alias("customer_share"),
        )

    def campaign_list(self, action: str) -> Any:
        """The full list of ``action`` as a DuckDB relation (written to CSV, previewed with a limit)."""
        q = sql.query("report_campaign_list")
        return self.con.sql(q.sql, params=q.bind({"action": action}))

    def preview(self, action: str, rows: int) -> pl.DataFrame:
        return self.campaign_list(action).limit(rows).pl()

    def action_offers(self, action: str, top: int, names: dict[str, str]) -> pl.DataFrame:
        frame = sql.fetch(self.con, "report_action_offers", action=action, top=top)
        return frame.with_columns(
            pl.col("offer_id").replace_strict(names, default=pl.col("offer_id"), return_dtype=pl.String).alias("offer")
        )

    def use_offers(self, best: pl.DataFrame) -> None:
        """Attach next best offers (customer_id, next_best_offer, offer_fit, reason) to the lists."""
        self.con.register("rfm_report_offers_in", best.select("customer_id", "next_best_offer", "offer_fit", "reason"))
        try:
            sql.execute(self.con, "report_offers")
        finally:
            self.con.unregister("rfm_report_offers_in")

    # --- migration ----------------------------------------------------------

    def capture_before(self) -> None:
        """Keep the segments of the connection's current scoring as the 'before' snapshot."""
        sql.execute(self.con, "report_snapshot_before")

    def migration(self, before_label: str = NEW_CUSTOMERS) -> pl.DataFrame:
        frame = sql.fetch(self.con, "report_migration").with_columns(pl.col("from_segment").fill_null(before_label))
        return frame.with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("from_segment")).alias("row_share")
        )
