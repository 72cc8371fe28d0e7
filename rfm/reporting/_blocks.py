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
from rfm.reporting import _grid_charts as G
from rfm.reporting._definitions import Block, Settings
from rfm.reporting._numbers import Numbers

WIDTHS = {1: 760, 2: 340, 3: 230}


@dataclass
class Table:
    """A small HTML table: (field, header, format) columns; a format is Python's (``"{:,}"``) or a
    function of the value (:meth:`Context.table` makes them locale-aware); values are escaped when rendered."""

    columns: list[tuple[str, str, Any]]
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
    numbers: Numbers = field(default_factory=Numbers)

    def width(self) -> int:
        return WIDTHS[self.columns]

    def titles(self, block: Block, default: str) -> dict[str, Any]:
        return {"title": block.title or default, "subtitle": block.subtitle, "width": self.width()}

    def money(self, value: float | None, digits: int = 0) -> str:
        return self.numbers.money(value, digits)

    def action_row(self, action: str | None) -> dict[str, Any]:
        """The action table's row of ``action`` (customers, share, revenue, clv); zeros when it has none."""
        rows = self.data.action_table.filter(pl.col("action") == action)
        return (
            rows.row(0, named=True) if rows.height
            else {"customers": 0, "customer_share": 0.0, "revenue": 0.0, "clv": None}
        )

    def count(self, value: int) -> str:
        """A whole number with the locale's grouping: 1,955 (en), 1 955 (fr)."""
        return self.numbers.number("{:,}")(value)

    def share(self, value: float, digits: int = 1) -> str:
        """A share as a percentage in the locale's marks: 27.7% (en), 27,7% (fr)."""
        return self.numbers.number(f"{{:.{digits}%}}")(value)

    def table(self, columns: list[tuple[str, str, str]], frame: pl.DataFrame, **kw: Any) -> Table:
        """A :class:`Table` whose formats print in the report's locale: ``"money"`` / ``"money2"`` are
        amounts with the currency, ``"{}"`` text as it is, any other a Python number format."""
        def fmt(spec: str) -> Any:
            if spec in ("money", "money2"):
                return self.numbers.money_cells(2 if spec == "money2" else 0)
            return spec if spec == "{}" else self.numbers.number(spec)

        return Table([(f, header, fmt(spec)) for f, header, spec in columns], frame, **kw)


Built = alt.TopLevelMixin | Table | Note
BlockFn = Callable[[Context, Block, "str | None"], Built]
FigureFn = Callable[[Context, "str | None"], Figure]


NO_CHURN = "No churn model in this run: score with --churn auto (or churn.method in the config) to see it."


# --- segments ------------------------------------------------------------------------


def _segment_customers(ctx: Context, block: Block, action: str | None) -> Built:
    return C.segment_customers(ctx.data.segments, ctx.segments, **ctx.titles(block, "Customers per segment"))


def _segment_revenue_share(ctx: Context, block: Block, action: str | None) -> Built:
    return C.segment_revenue_share(ctx.data.segments, ctx.segments, **ctx.titles(block, "Share of revenue"))


def _rf_axes(ctx: Context) -> dict[str, list[int]]:
    """The R and F scores some customer has: both grids show exactly these, so they line up
    (a score no customer has, e.g. F = 2 when the frequency cut points tie, is left out of both)."""
    grid = ctx.data.rf_grid.filter(pl.col("customers") > 0)
    return {
        "f_scores": sorted(set(grid["f_score"].to_list())) or [1],
        "r_scores": sorted(set(grid["r_score"].to_list())) or [1],
    }


def _rf_heatmap(ctx: Context, block: Block, action: str | None) -> Built:
    args = ctx.titles(block, "Recency × frequency")
    args["width"] = min(args["width"], 260)
    return G.rf_heatmap(ctx.data.rf_grid, **args, **_rf_axes(ctx))


def _rf_segments(ctx: Context, block: Block, action: str | None) -> Built:
    args = ctx.titles(block, "Largest segment per cell")
    args["width"] = min(args["width"], 260)
    return G.rf_segments(ctx.data.rf_segments, ctx.segments, **args, **_rf_axes(ctx))


HISTOGRAMS = {
    "recency_histogram": ("recency_days", "Days since the last order", "Recency"),
    "frequency_histogram": ("frequency", "Orders (count)", "Frequency"),
    "monetary_histogram": ("monetary", "Monetary value", "Monetary value"),
}


def _histogram(name: str) -> BlockFn:
    metric, x_title, default = HISTOGRAMS[name]

    def build(ctx: Context, block: Block, action: str | None) -> Built:
        hist = ctx.data.histogram(metric, ctx.settings.histogram_bins, ctx.numbers)
        args = ctx.titles(block, default)
        if not args["subtitle"]:
            args["subtitle"] = hist.note()
        return C.histogram(hist.frame, x_title=x_title, money=metric == "monetary", **args)

    return build


def _segment_table(ctx: Context, block: Block, action: str | None) -> Built:
    frame = ctx.data.segments.with_columns(
        pl.col("segment").replace_strict(ctx.descriptions, default="", return_dtype=pl.String).alias("description")
    )
    return ctx.table(
        [
            ("segment", "Segment", "{}"),
            ("description", "Who", "{}"),
            ("action", "Action", "{}"),
            ("customers", "Customers", "{:,}"),
            ("customer_share", "Share", "{:.1%}"),
            ("revenue", "Revenue (net)", "money"),
            ("revenue_share", "Rev. share", "{:.1%}"),
            ("median_recency_days", "Med. recency (days)", "{:,.10g}"),  # a median of whole days or orders
            ("median_frequency", "Med. orders", "{:,.10g}"),  # is whole, or half way between two
            ("median_monetary", "Med. monetary", "money2"),
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
    return C.action_value(frame, ctx.actions, value_title=what, **ctx.titles(block, "Expected value per action"))


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
    total = int(ctx.action_row(action)["customers"])
    cols = [
        ("customer_id", "Customer", "{}"),
        ("segment", "Segment", "{}"),
        ("recency_days", "Recency (days)", "{:,}"),
        ("frequency", "Orders", "{:,}"),
        ("monetary", "Monetary", "money2"),
    ]
    if ctx.data.has_churn:
        cols += [("clv", "CLV", "money2"), ("churn_risk", "Churn risk", "{:.1f}")]
    if ctx.offer_names is not None:
        cols += [("offer", "Next best offer", "{}"), ("offer_reason", "Why", "{}")]
        frame = frame.with_columns(
            pl.col("next_best_offer")
            .replace_strict(ctx.offer_names, default=pl.col("next_best_offer"), return_dtype=pl.String)
            .alias("offer")
        )
    ranked = "CLV" if ctx.data.has_churn else "monetary value"
    caption = f"Top {ctx.count(min(n, total))} of {ctx.count(total)} customers by {ranked}."
    link = None
    if action in ctx.exports:
        name = ctx.exports[action]
        caption += " The full list is in"
        link = (name, name)
    return ctx.table(cols, frame, caption=caption, link=link)


def _action_table(ctx: Context, block: Block, action: str | None) -> Built:
    cols = [
        ("action", "Action", "{}"),
        ("customers", "Customers", "{:,}"),
        ("customer_share", "Share", "{:.1%}"),
        ("revenue", "Revenue (net)", "money"),
    ]
    if ctx.data.has_churn:
        cols += [("clv", "Expected value (CLV)", "money"), ("mean_churn_risk", "Mean churn risk", "{:.1f}")]
    return ctx.table(cols, ctx.data.action_table, caption=block.title or "")


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
    if ctx.data.segments["revenue_at_risk"].is_null().all():
        return Note("Revenue at risk weighs each customer's expected value (CLV) by the churn risk; "
                    "this churn model gives no CLV.")
    return C.revenue_at_risk(
        ctx.data.segments,
        ctx.segments,
        recent_days=ctx.data.recent_days,
        **ctx.titles(block, "Revenue at risk by segment"),
    )


def _churn_table(ctx: Context, block: Block, action: str | None) -> Built:
    if not ctx.data.has_churn:
        return Note(NO_CHURN)
    return ctx.table(
        [
            ("segment", "Segment", "{}"),
            ("customers", "Customers", "{:,}"),
            ("mean_churn_risk", "Mean churn risk", "{:.1f}"),
            ("likely_gone_share", "Likely gone", "{:.1%}"),
            ("recent_revenue", f"Revenue, last {ctx.data.recent_days} d", "money"),
            ("revenue_at_risk", "Revenue at risk", "money"),
            ("clv", "CLV (total)", "money"),
        ],
        ctx.data.segments,
        caption=block.title or "",
    )


def _migration(ctx: Context, block: Block, action: str | None) -> Built:
    if ctx.migration is None:
        return Note("No earlier date to compare with.")
    rows = set(ctx.migration["from_segment"].to_list())
    cols = set(ctx.migration["to_segment"].to_list())
    from_order = [seg for seg in [*ctx.segments.domain, D.NEW_CUSTOMERS] if seg in rows]  # only rows that occur
    args = ctx.titles(block, "Segment migration")
    if D.NEW_CUSTOMERS in rows and not args["subtitle"]:
        args["subtitle"] = f"last row: customers whose first order came after {ctx.compare_as_of}"
    return G.migration_heatmap(
        ctx.migration,
        from_order=from_order,
        to_order=[seg for seg in ctx.segments.domain if seg in cols],
        from_title=f"Segment on {ctx.compare_as_of}",
        to_title=f"Segment on {ctx.data.as_of}",
        **args,
    )


# --- headline figures ----------------------------------------------------------------


def _head(ctx: Context) -> dict[str, Any]:
    return ctx.data.headline(ctx.settings.active_days)


def _f_customers(ctx: Context, action: str | None) -> Figure:
    return Figure("Customers", ctx.count(_head(ctx)["customers"]), "scored, with at least one purchase")


def _f_revenue(ctx: Context, action: str | None) -> Figure:
    return Figure("Revenue (net)", ctx.money(_head(ctx)["revenue"]), "all orders to the as-of date")


def _f_active(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    share = h["active_customers"] / h["customers"] if h["customers"] else 0.0
    return Figure(
        "Active", ctx.share(share), f"{ctx.count(h['active_customers'])} ordered in the last {ctx.settings.active_days} days"
    )


def _f_as_of(ctx: Context, action: str | None) -> Figure:
    return Figure("As of", ctx.data.as_of.isoformat(), "orders up to and including this day")


def _f_clv(ctx: Context, action: str | None) -> Figure:
    if not ctx.data.has_churn:
        return Figure("Expected value (CLV)", "n/a", "score with --churn auto")
    return Figure(
        "Expected value (CLV)",
        ctx.money(_head(ctx)["clv"]),
        f"next {ctx.data.clv_months} months, discounted",
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
    return Figure("Likely gone", ctx.count(h["likely_gone"]), f"{ctx.share(share)} of customers have P(alive) < 0.5")


def _f_at_risk(ctx: Context, action: str | None) -> Figure:
    h = _head(ctx)
    if h["revenue_at_risk"] is None:
        return Figure("Revenue at risk", "n/a", "score with --churn auto" if not ctx.data.has_churn else "no CLV")
    share = h["revenue_at_risk"] / h["clv"] if h["clv"] else 0.0
    return Figure(
        "Revenue at risk",
        ctx.money(h["revenue_at_risk"]),
        f"{ctx.share(share)} of the {ctx.data.clv_months}-month expected value, "
        f"weighted by each customer's chance of no order in {ctx.data.horizon_days} days",
    )


def _f_method(ctx: Context, action: str | None) -> Figure:
    method = ctx.data.churn_method or "none"
    return Figure("Churn model", method, f"horizon {ctx.data.horizon_days} days")


def _f_offers(ctx: Context, action: str | None) -> Figure:
    if ctx.offer_names is None:
        return Figure("Offers", "none", "no catalogue configured (--offers)")
    return Figure("Offers", ctx.count(len(ctx.offer_names)), "in the catalogue")


def _f_list_size(ctx: Context, action: str | None) -> Figure:
    row = ctx.action_row(action)
    return Figure("List size", ctx.count(row["customers"]), f"{ctx.share(row['customer_share'])} of customers")


def _f_list_value(ctx: Context, action: str | None) -> Figure:
    row = ctx.action_row(action)
    if not ctx.data.has_churn:
        return Figure("Expected value", "n/a", "no CLV without a churn model (--churn auto)")
    per = (row["clv"] or 0.0) / row["customers"] if row["customers"] else 0.0
    return Figure(
        "Expected value (CLV)", ctx.money(row["clv"]), f"{ctx.money(per, 2)} per customer, next {ctx.data.clv_months} months"
    )


def _f_list_revenue(ctx: Context, action: str | None) -> Figure:
    row = ctx.action_row(action)
    return Figure("Past revenue (net)", ctx.money(row["revenue"]), "all orders to the as-of date")


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
