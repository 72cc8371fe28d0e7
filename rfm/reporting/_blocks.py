"""The named blocks a report definition can use: charts, tables and headline figures.

Each block is a small function ``(ctx, block, action) -> chart | Table | Note``
that picks aggregated rows from :class:`rfm.reporting._data.ReportData` (or the
backtest / lead frames in the context) and hands them to a chart function in
:mod:`rfm.reporting._charts`.  A block that cannot be drawn for this data (no
churn model, no offer catalogue, no holdout) returns a :class:`Note` saying why
and how to get it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import altair as alt
import polars as pl

from rfm.reporting import _charts as C
from rfm.reporting import _data as D
from rfm.reporting._definitions import Block, Settings

WIDTHS = {1: 760, 2: 340, 3: 230}


@dataclass
class Table:
    """A small HTML table: (field, header, format) columns; values are escaped when rendered."""

    columns: list[tuple[str, str, str]]
    frame: pl.DataFrame
    caption: str = ""
    link: tuple[str, str] | None = None  # (relative href, text)


@dataclass
class Note:
    text: str


@dataclass
class Figure:
    label: str
    value: str
    note: str = ""


@dataclass
class Leads:
    table: pl.DataFrame  # lead scores: fit_grade, engagement_level, tier, stage, ...
    as_of: date | None = None
    calibration: Any = None  # rfm.leads.Calibration (tiers, base_rate) or None
    calibration_note: str = ""


@dataclass
class Context:
    data: D.ReportData
    settings: Settings
    segments: C.Colors
    actions: C.Colors
    descriptions: dict[str, str] = field(default_factory=dict)
    backtest: Any = None
    backtest_note: str = ""
    offer_names: dict[str, str] | None = None  # None: no catalogue scored
    offers_note: str = "No offer catalogue configured: pass --offers catalogue.yaml to suggest a next best offer."
    migration: pl.DataFrame | None = None
    compare_as_of: date | None = None
    exports: dict[str, str] = field(default_factory=dict)  # action -> CSV file name beside the report
    leads: Leads | None = None
    columns: int = 1

    def width(self) -> int:
        return WIDTHS[self.columns]

    def titles(self, block: Block, default: str) -> dict[str, Any]:
        return {"title": block.title or default, "subtitle": block.subtitle, "width": self.width()}


Built = alt.TopLevelMixin | Table | Note
BlockFn = Callable[[Context, Block, "str | None"], Built]
FigureFn = Callable[[Context, "str | None"], Figure]


NO_CHURN = "No churn model in this run: score with --churn auto (or churn.method in the config) to see it."


def money(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.0f}"


# --- segments ------------------------------------------------------------------------


def _segment_customers(ctx: Context, block: Block, action: str | None) -> Built:
    return C.segment_customers(ctx.data.segments, ctx.segments, **ctx.titles(block, "Customers per segment"))


def _segment_revenue_share(ctx: Context, block: Block, action: str | None) -> Built:
    return C.segment_revenue_share(ctx.data.segments, ctx.segments, **ctx.titles(block, "Share of revenue"))


def _rf_heatmap(ctx: Context, block: Block, action: str | None) -> Built:
    args = ctx.titles(block, "Recency × frequency")
    args["width"] = min(args["width"], 260)
    return C.rf_heatmap(ctx.data.rf_grid, **args)


def _rf_segments(ctx: Context, block: Block, action: str | None) -> Built:
    args = ctx.titles(block, "Largest segment per cell")
    args["width"] = min(args["width"], 260)
    return C.rf_segments(ctx.data.rf_segments, ctx.segments, **args)


HISTOGRAMS = {
    "recency_histogram": ("recency_days", "Days since the last order", "Recency"),
    "frequency_histogram": ("frequency", "Orders (count)", "Frequency"),
    "monetary_histogram": ("monetary", f"Monetary value ({C.MONEY_UNIT})", "Monetary value"),
}


def _histogram(name: str) -> BlockFn:
    metric, x_title, default = HISTOGRAMS[name]

    def build(ctx: Context, block: Block, action: str | None) -> Built:
        hist = ctx.data.histogram(metric, ctx.settings.histogram_bins)
        args = ctx.titles(block, default)
        if not args["subtitle"]:
            args["subtitle"] = hist.note()
        return C.histogram(hist.frame, x_title=x_title, money=metric == "monetary", **args)

    return build


def _segment_table(ctx: Context, block: Block, action: str | None) -> Built:
    frame = ctx.data.segments.with_columns(
        pl.col("segment").replace_strict(ctx.descriptions, default="", return_dtype=pl.String).alias("description")
    )
    return Table(
        [
            ("segment", "Segment", "{}"),
            ("description", "Who", "{}"),
            ("action", "Action", "{}"),
            ("customers", "Customers", "{:,}"),
            ("customer_share", "Share", "{:.1%}"),
            ("revenue", "Revenue (net)", "{:,.0f}"),
            ("revenue_share", "Rev. share", "{:.1%}"),
            ("median_recency_days", "Med. recency (days)", "{:,.0f}"),
            ("median_frequency", "Med. orders", "{:,.1f}"),
            ("median_monetary", "Med. monetary", "{:,.2f}"),
        ],
        frame,
        caption=block.title or "",
    )


# --- campaign ------------------------------------------------------------------------


def _action_customers(ctx: Context, block: Block, action: str | None) -> Built:
    return C.action_customers(ctx.data.action_table, ctx.actions, **ctx.titles(block, "List size per action"))


def _action_value(ctx: Context, block: Block, action: str | None) -> Built:
    frame = ctx.data.action_table
    if ctx.data.has_churn:
        frame, what = (
            frame.with_columns(pl.col("clv").fill_null(0.0).alias("value")),
            f"Expected value ({ctx.data.clv_months}-month CLV)",
        )
    else:
        frame, what = frame.with_columns(pl.col("revenue").alias("value")), "Past revenue (net; no CLV without churn)"
    return C.action_value(
        frame, ctx.actions, value_title=f"{what}, {C.MONEY_UNIT}", **ctx.titles(block, "Expected value per action")
    )


def _action_segments(ctx: Context, block: Block, action: str | None) -> Built:
    seg = ctx.data.segments.filter(pl.col("action") == action)
    if seg.height == 0:
        return Note(f"No customer has the action {action}.")
    seg = seg.with_columns((pl.col("customers") / pl.col("customers").sum()).alias("customer_share"))
    return C.action_segments(seg, ctx.segments, **ctx.titles(block, "Segments in this list"))


def _top_offers(ctx: Context, block: Block, action: str | None) -> Built:
    if ctx.offer_names is None:
        return Note(ctx.offers_note)
    frame = ctx.data.action_offers(action or "", ctx.settings.top_offers, ctx.offer_names)
    if frame.height == 0:
        return Note(f"No customer with the action {action} is eligible for any offer in the catalogue.")
    return C.top_offers(frame, **ctx.titles(block, "Top next best offers"))


def _customer_preview(ctx: Context, block: Block, action: str | None) -> Built:
    n = ctx.settings.preview_rows
    frame = ctx.data.preview(action or "", n)
    total = int(ctx.data.action_table.filter(pl.col("action") == action)["customers"].sum())
    cols = [
        ("customer_id", "Customer", "{}"),
        ("segment", "Segment", "{}"),
        ("recency_days", "Recency (days)", "{:,}"),
        ("frequency", "Orders", "{:,}"),
        ("monetary", "Monetary", "{:,.2f}"),
    ]
    if ctx.data.has_churn:
        cols += [("clv", "CLV", "{:,.2f}"), ("churn_risk", "Churn risk", "{:.1f}")]
    if ctx.offer_names is not None:
        cols += [("offer", "Next best offer", "{}"), ("offer_reason", "Why", "{}")]
        frame = frame.with_columns(
            pl.col("next_best_offer")
            .replace_strict(ctx.offer_names, default=pl.col("next_best_offer"), return_dtype=pl.String)
            .alias("offer")
        )
    ranked = "CLV" if ctx.data.has_churn else "monetary value"
    caption = f"Top {min(n, total):,} of {total:,} customers by {ranked}."
    link = None
    if action in ctx.exports:
        name = ctx.exports[action]
        caption += " The full list is in"
        link = (name, name)
    return Table(cols, frame, caption=caption, link=link)


def _action_table(ctx: Context, block: Block, action: str | None) -> Built:
    cols = [
        ("action", "Action", "{}"),
        ("customers", "Customers", "{:,}"),
        ("customer_share", "Share", "{:.1%}"),
        ("revenue", "Revenue (net)", "{:,.0f}"),
    ]
    if ctx.data.has_churn:
        cols += [("clv", "Expected value (CLV)", "{:,.0f}"), ("mean_churn_risk", "Mean churn risk", "{:.1f}")]
    return Table(cols, ctx.data.action_table, caption=block.title or "")


# --- churn ---------------------------------------------------------------------------


def _churn_risk(ctx: Context, block: Block, action: str | None) -> Built:
    if not ctx.data.has_churn:
        return Note(NO_CHURN)
    return C.churn_risk_by_segment(
        ctx.data.segments,
        ctx.segments,
        horizon_days=ctx.data.horizon_days,
        **ctx.titles(block, "Churn risk by segment"),
    )


def _revenue_at_risk(ctx: Context, block: Block, action: str | None) -> Built:
    if not ctx.data.has_churn:
        return Note(NO_CHURN)
    if _no_p_alive(ctx):
        return Note(f"Revenue at risk weighs recent revenue by 1 − P(alive): {NO_P_ALIVE}.")
    return C.revenue_at_risk(
        ctx.data.segments,
        ctx.segments,
        recent_days=ctx.data.recent_days,
        **ctx.titles(block, "Revenue at risk by segment"),
    )


def _churn_table(ctx: Context, block: Block, action: str | None) -> Built:
    if not ctx.data.has_churn:
        return Note(NO_CHURN)
    return Table(
        [
            ("segment", "Segment", "{}"),
            ("customers", "Customers", "{:,}"),
            ("mean_churn_risk", "Mean churn risk", "{:.1f}"),
            ("likely_gone_share", "Likely gone", "{:.1%}"),
            ("recent_revenue", f"Revenue, last {ctx.data.recent_days} d", "{:,.0f}"),
            ("revenue_at_risk", "Revenue at risk", "{:,.0f}"),
            ("clv", "CLV (total)", "{:,.0f}"),
        ],
        ctx.data.segments,
        caption=block.title or "",
    )


def _migration(ctx: Context, block: Block, action: str | None) -> Built:
    if ctx.migration is None:
        return Note("No earlier date to compare with.")
    from_order = [*ctx.segments.domain, D.NEW_CUSTOMERS]
    return C.migration_heatmap(
        ctx.migration,
        from_order=from_order,
        to_order=list(ctx.segments.domain),
        from_title=f"Segment on {ctx.compare_as_of}",
        to_title=f"Segment on {ctx.data.as_of}",
        **ctx.titles(block, "Segment migration"),
    )


# --- headline figures ----------------------------------------------------------------


def _head(ctx: Context) -> dict[str, Any]:
    return ctx.data.headline(ctx.settings.active_days)


def _f_customers(ctx: Context, action: str | None) -> Figure:
    return Figure("Customers", f"{_head(ctx)['customers']:,}", "scored, with at least one purchase")


def _f_revenue(ctx: Context, action: str | None) -> Figure:
    return Figure("Revenue (net)", money(_head(ctx)["revenue"]), f"{C.MONEY_UNIT}, all orders to the as-of date")


def _f_active(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    share = h["active_customers"] / h["customers"] if h["customers"] else 0.0
    return Figure(
        "Active", f"{share:.1%}", f"{h['active_customers']:,} ordered in the last {ctx.settings.active_days} days"
    )


def _f_as_of(ctx: Context, action: str | None) -> Figure:
    return Figure("As of", ctx.data.as_of.isoformat(), "orders up to and including this day")


def _f_clv(ctx: Context, action: str | None) -> Figure:
    if not ctx.data.has_churn:
        return Figure("Expected value (CLV)", "n/a", "score with --churn auto")
    return Figure(
        "Expected value (CLV)",
        money(_head(ctx)["clv"]),
        f"{C.MONEY_UNIT}, next {ctx.data.clv_months} months, discounted",
    )


def _f_risk(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    if h["mean_churn_risk"] is None:
        return Figure("Mean churn risk", "n/a", "score with --churn auto")
    return Figure(
        "Mean churn risk", f"{h['mean_churn_risk']:.1f}", f"% chance of no order in {ctx.data.horizon_days} days"
    )


def _no_p_alive(ctx: Context) -> bool:
    """churn.method propensity predicts orders in the horizon, not P(alive): no figure may pretend it does."""
    return ctx.data.has_churn and ctx.data.churn_method == "propensity"


NO_P_ALIVE = "churn.method propensity does not model P(alive); see the churn risk"


def _f_gone(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    if not ctx.data.has_churn:
        return Figure("Likely gone", "n/a", "score with --churn auto")
    if _no_p_alive(ctx):
        return Figure("Likely gone", "n/a", NO_P_ALIVE)
    share = h["likely_gone"] / h["customers"] if h["customers"] else 0.0
    return Figure("Likely gone", f"{h['likely_gone']:,}", f"{share:.1%} of customers have P(alive) < 0.5")


def _f_at_risk(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    if _no_p_alive(ctx):
        return Figure("Revenue at risk", "n/a", NO_P_ALIVE)
    if h["revenue_at_risk"] is None:
        return Figure("Revenue at risk", "n/a", "score with --churn auto")
    share = h["revenue_at_risk"] / h["recent_revenue"] if h["recent_revenue"] else 0.0
    return Figure(
        "Revenue at risk",
        money(h["revenue_at_risk"]),
        f"{share:.1%} of the last {ctx.data.recent_days} days' revenue, weighted by 1 − P(alive)",
    )


def _f_method(ctx: Context, action: str | None) -> Figure:
    method = ctx.data.churn_method or "none"
    return Figure("Churn model", method, f"horizon {ctx.data.horizon_days} days")


def _f_offers(ctx: Context, action: str | None) -> Figure:
    if ctx.offer_names is None:
        return Figure("Offers", "none", "no catalogue configured (--offers)")
    return Figure("Offers", f"{len(ctx.offer_names):,}", "in the catalogue")


def _action_row(ctx: Context, action: str | None) -> dict[str, Any]:
    rows = ctx.data.action_table.filter(pl.col("action") == action)
    return (
        rows.row(0, named=True) if rows.height else {"customers": 0, "customer_share": 0.0, "revenue": 0.0, "clv": None}
    )


def _f_list_size(ctx: Context, action: str | None) -> Figure:
    row = _action_row(ctx, action)
    return Figure("List size", f"{row['customers']:,}", f"{row['customer_share']:.1%} of customers")


def _f_list_value(ctx: Context, action: str | None) -> Figure:
    row = _action_row(ctx, action)
    if not ctx.data.has_churn:
        return Figure("Expected value", "n/a", "no CLV without a churn model (--churn auto)")
    per = (row["clv"] or 0.0) / row["customers"] if row["customers"] else 0.0
    return Figure(
        "Expected value (CLV)", money(row["clv"]), f"{per:,.2f} per customer, next {ctx.data.clv_months} months"
    )


def _f_list_revenue(ctx: Context, action: str | None) -> Figure:
    row = _action_row(ctx, action)
    return Figure("Past revenue (net)", money(row["revenue"]), f"{C.MONEY_UNIT}, all orders to the as-of date")


# --- what a definition can name (collected by rfm.reporting._registry) ----------------

CHARTS: dict[str, BlockFn] = {
    "segment_customers": _segment_customers,
    "segment_revenue_share": _segment_revenue_share,
    "rf_heatmap": _rf_heatmap,
    "rf_segments": _rf_segments,
    **{name: _histogram(name) for name in HISTOGRAMS},
    "action_customers": _action_customers,
    "action_value": _action_value,
    "action_segments": _action_segments,
    "top_offers": _top_offers,
    "churn_risk_by_segment": _churn_risk,
    "revenue_at_risk": _revenue_at_risk,
    "migration": _migration,
}
TABLES: dict[str, BlockFn] = {
    "segment_table": _segment_table,
    "customer_preview": _customer_preview,
    "action_table": _action_table,
    "churn_segment_table": _churn_table,
}
FIGURES: dict[str, FigureFn] = {
    "customers": _f_customers,
    "revenue": _f_revenue,
    "active_share": _f_active,
    "as_of": _f_as_of,
    "clv": _f_clv,
    "mean_churn_risk": _f_risk,
    "likely_gone": _f_gone,
    "revenue_at_risk": _f_at_risk,
    "churn_method": _f_method,
    "offers": _f_offers,
    "list_size": _f_list_size,
    "list_value": _f_list_value,
    "list_revenue": _f_list_revenue,
}
