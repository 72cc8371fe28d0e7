"""Aggregates behind the report charts: SQL (``queries/reports/reports.sql``) and polars group-bys.

:class:`ReportData` snapshots one scoring into a report table once (the scores
with their churn columns and recent revenue), then every chart and table reads
a few aggregated rows from it.  Lead and backtest frames are reshaped with
polars (they are already small or are grouped here before plotting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import polars as pl

from rfm.customers import CustomerScores, OrderHistory
from rfm.engine import Engine, QueryRows, Table
from rfm.reporting._numbers import Numbers

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


def _label(
    metric: str, a: float, b: float, first: bool, last: bool, clipped_low: bool, clipped_high: bool,
    numbers: Numbers = Numbers(),
) -> str:
    if metric in INTEGER_METRICS:
        lo, hi = (numbers.number("{:,}")(v) for v in (int(a), int(b) - 1))
        if last and clipped_high:
            return f"{lo} or more"
        return lo if lo == hi else f"{lo}–{hi}"
    lo, hi = numbers.money(a, 2), numbers.money(b, 2)
    if first and clipped_low:
        return f"below {hi}"
    if last and clipped_high:
        return f"{lo} or more"
    return f"{lo} to {hi}"


@dataclass
class ReportData:
    """Aggregates of one scored snapshot, computed on first use (tables in the scoring's engine)."""

    engine: Engine
    customers: Table  # the report's customer table (queries/reports: snapshot)
    grid: Table  # the segment grid of the scoring
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
    offers: Table | None = None  # next best offers (customer_id, next_best_offer, offer_fit, offer_reason)
    _headline: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def capture(cls, orders: OrderHistory, scores: CustomerScores, *, recent_days: int = 365) -> ReportData:
        """Snapshot ``scores`` (with the order table of ``orders``) for the report."""
        engine = orders.engine
        has_churn = scores.churn is not None
        customers = engine.create(
            "reports.snapshot",
            {"scores": scores.sql_table, "churn": scores.churn_columns(), "orders": orders.order_table},
            as_of=scores.as_of,
            recent_days=recent_days,
        )
        cfg = scores.config
        return cls(
            engine=engine,
            customers=customers,
            grid=scores.grid_table,
            as_of=scores.as_of,
            bins=scores.scoring.bins,
            segment_order=list(scores.ruleset.segment_order),
            other_segment=scores.ruleset.other.name,
            actions=list(cfg.actions),
            has_churn=has_churn,
            horizon_days=int(cfg.churn.horizon_days),
            recent_days=recent_days,
            clv_months=int(cfg.churn.clv.horizon_months),
            churn_method=scores.churn.method if has_churn else None,
        )

    def _fetch(self, block: str, **params: Any) -> pl.DataFrame:
        return self.engine.fetch(block, {"customers": self.customers}, **params)

    # --- whole base ---------------------------------------------------------

    def headline(self, active_days: int) -> dict[str, Any]:
        if active_days not in self._headline:
            row = self._fetch("reports.headline", active_days=active_days).row(0, named=True)
            self._headline[active_days] = row
        return self._headline[active_days]

    @cached_property
    def segments(self) -> pl.DataFrame:
        return self.engine.fetch("reports.segments", {"customers": self.customers, "grid": self.grid})

    @cached_property
    def rf_grid(self) -> pl.DataFrame:
        return self._fetch("reports.rf_grid", bins=self.bins)

    @cached_property
    def rf_segments(self) -> pl.DataFrame:
        return self._fetch("reports.rf_segments")

    @cached_property
    def _ranges(self) -> dict[str, dict[str, float]]:
        frame = self._fetch("reports.metric_ranges")
        return {row["metric"]: row for row in frame.iter_rows(named=True)}

    def histogram(self, metric: str, bins: int, numbers: Numbers = Numbers()) -> Histogram:
        """Customers in ``bins`` bins of ``metric``, labelled in ``numbers``' locale and currency."""
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
        counts = self._fetch("reports.histogram", metric=metric, lo=start, step=step, bins=n)
        full = pl.DataFrame({"k": list(range(n))}, schema={"k": pl.Int32}).join(counts, on="k", how="left")
        full = full.with_columns(pl.col("customers").fill_null(0).cast(pl.Int64))
        clipped_low = r["lo"] < start
        top = start + n * step - (1 if metric in INTEGER_METRICS else 0)  # last value inside the bins
        clipped_high = r["hi"] > top if metric in INTEGER_METRICS else r["hi"] >= top
        total = max(1, int(full["customers"].sum()))
        rows = []
        for k, customers in full.select("k", "customers").iter_rows():
            a, b = start + k * step, start + (k + 1) * step
            label = _label(metric, a, b, k == 0, k == n - 1, clipped_low, clipped_high, numbers)
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
        counts = self._fetch("reports.actions")
        order = self.actions + [a for a in counts["action"].to_list() if a not in self.actions]
        full = pl.DataFrame({"action": order}).join(counts, on="action", how="left")
        total = max(1, int(full["customers"].fill_null(0).sum()))
        return full.with_columns(
            pl.col("customers").fill_null(0).cast(pl.Int64),
            pl.col("revenue").fill_null(0.0),
            (pl.col("customers").fill_null(0) / total).alias("customer_share"),
        )

    def _offers(self) -> Table:
        if self.offers is None:
            self.offers = self.engine.create("reports.no_offers", {"customers": self.customers})
        return self.offers

    def campaign_list(self, action: str) -> QueryRows:
        """The full list of ``action``, most valuable first (written to CSV, previewed with a limit)."""
        return self.engine.query(
            "reports.campaign_list", {"customers": self.customers, "offers": self._offers()}, action=action
        )

    def campaign_lists(self) -> QueryRows:
        """Every action's list in one table, with the as-of date (for a database table)."""
        return self.engine.query(
            "reports.campaign_lists", {"customers": self.customers, "offers": self._offers()}, as_of=self.as_of
        )

    def preview(self, action: str, rows: int) -> pl.DataFrame:
        return self.campaign_list(action).pl(limit=rows)

    def action_offers(self, action: str, top: int, names: dict[str, str]) -> pl.DataFrame:
        frame = self.engine.fetch(
            "reports.action_offers", {"customers": self.customers, "offers": self._offers()}, action=action, top=top
        )
        return frame.with_columns(
            pl.col("offer_id").replace_strict(names, default=pl.col("offer_id"), return_dtype=pl.String).alias("offer")
        )

    def use_offers(self, best: Table) -> None:
        """Attach next best offers (the offer step's best table) to the lists."""
        self.offers = self.engine.create("reports.offers", {"best": best})

    # --- migration ----------------------------------------------------------

    def migration(self, before: CustomerScores, before_label: str = NEW_CUSTOMERS) -> pl.DataFrame:
        """Customers by (segment at ``before``'s date, segment now), with each from-row's shares."""
        frame = self.engine.fetch(
            "reports.migration", {"customers": self.customers, "before": before.sql_table}
        ).with_columns(pl.col("from_segment").fill_null(before_label))
        return frame.with_columns(
            (pl.col("customers") / pl.col("customers").sum().over("from_segment")).alias("row_share")
        )
