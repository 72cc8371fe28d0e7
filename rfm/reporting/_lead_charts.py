"""Leads section (appended to a report when leads are given): data shaping, charts and blocks.

Everything here takes a polars frame of lead scores (``rfm.leads.score_leads(...).table``:
fit_grade, engagement_level, tier, stage, ...) and, when outcomes were given, a
:class:`rfm.leads.Calibration`; the frames are grouped to at most 16 rows before plotting.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from rfm.leads import GRADES, LEVELS, STAGES, TIERS
from rfm.reporting._blocks import Block, BlockFn, Built, Context, Figure, FigureFn, Note
from rfm.reporting._charts import (
    COUNT,
    HEAT_SCHEME,
    LEADS_TIP,
    SHARE,
    axis_for,
    bar_height,
    chart_title,
    contrast_color,
)
from rfm.reporting._charts import TIER_SCALE as TIER_COLORS

# --- data ----------------------------------------------------------------------------


def matrix_frame(table: pl.DataFrame, grades: tuple[str, ...], levels: tuple[int, ...]) -> pl.DataFrame:
    """Leads per (fit_grade, engagement_level): every cell, empty ones with 0."""
    counts = table.group_by("fit_grade", "engagement_level").agg(
        pl.len().cast(pl.Int64).alias("leads"), pl.col("tier").mode().first().alias("tier")
    )
    cells = pl.DataFrame(
        [(g, lvl) for g in grades for lvl in levels],
        schema={"fit_grade": pl.String, "engagement_level": pl.Int32},
        orient="row",
    )
    counts = counts.with_columns(pl.col("engagement_level").cast(pl.Int32), pl.col("fit_grade").cast(pl.String))
    return cells.join(counts, on=["fit_grade", "engagement_level"], how="left").with_columns(
        pl.col("leads").fill_null(0)
    )


def tiers_frame(table: pl.DataFrame, tiers: tuple[str, ...]) -> pl.DataFrame:
    counts = table.group_by("tier").agg(pl.len().cast(pl.Int64).alias("leads"))
    full = (
        pl.DataFrame({"tier": list(tiers)})
        .join(counts, on="tier", how="left")
        .with_columns(pl.col("leads").fill_null(0))
    )
    return full.with_columns((pl.col("leads") / max(1, table.height)).alias("share"))


def funnel_frame(table: pl.DataFrame, stages: tuple[str, ...]) -> pl.DataFrame:
    """Leads that reached each stage: a lead at stage k counts for stages 0..k."""
    counts = dict(table.group_by("stage").agg(pl.len()).iter_rows())
    reached, rows = 0, []
    for stage in reversed(stages):
        reached += int(counts.get(stage, 0))
        rows.append({"stage": stage, "leads": reached})
    frame = pl.DataFrame(list(reversed(rows)), schema={"stage": pl.String, "leads": pl.Int64}, orient="row")
    return frame.with_columns((pl.col("leads") / max(1, table.height)).alias("share"))


# --- charts --------------------------------------------------------------------------


def lead_matrix(
    frame: pl.DataFrame, *, title: str = "Fit × engagement", subtitle: str | None = None, width: int = 300
) -> alt.LayerChart:
    """Leads per fit grade (A best) and engagement level (1 most engaged), 16 cells."""
    base = alt.Chart(frame, title=chart_title(title, subtitle)).encode(
        x=alt.X("engagement_level:O", title="Engagement level (1 = most engaged)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("fit_grade:O", title="Fit grade (A = best fit)"),
        tooltip=[
            alt.Tooltip("fit_grade:N", title="Fit grade"),
            alt.Tooltip("engagement_level:O", title="Engagement level"),
            alt.Tooltip("tier:N", title="Tier"),
            LEADS_TIP,
        ],
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("leads:Q", scale=alt.Scale(scheme=HEAT_SCHEME), title="Leads (count)")
    )
    labels = base.mark_text(fontSize=12).encode(
        text=alt.Text("leads:Q", format=COUNT),
        color=contrast_color("leads", frame),
    )
    return alt.layer(cells, labels).properties(width=width, height=width)


def lead_tiers(
    frame: pl.DataFrame, *, title: str = "Leads per tier", subtitle: str | None = None, width: int = 300
) -> alt.Chart:
    return (
        alt.Chart(frame.select("tier", "leads", "share"), title=chart_title(title, subtitle))
        .mark_bar()
        .encode(
            y=alt.Y("tier:N", sort=TIER_COLORS.sort(), title=None),
            x=alt.X("leads:Q", title="Leads (count)", axis=axis_for(frame, "leads")),
            color=TIER_COLORS.color(),
            tooltip=[
                alt.Tooltip("tier:N", title="Tier"),
                LEADS_TIP,
                alt.Tooltip("share:Q", title="Share of leads", format=SHARE),
            ],
        )
        .properties(width=width, height=bar_height(frame.height))
    )


def lead_funnel(
    frame: pl.DataFrame, *, title: str = "Stage funnel", subtitle: str | None = None, width: int = 300
) -> alt.Chart:
    """Leads that reached each stage (a stage includes the leads beyond it)."""
    return (
        alt.Chart(frame.select("stage", "leads", "share"), title=chart_title(title, subtitle))
        .mark_bar(color="#76b7b2")
        .encode(
            y=alt.Y("stage:N", sort=frame["stage"].to_list(), title=None, axis=alt.Axis(labelLimit=180)),
            x=alt.X("leads:Q", title="Leads that reached the stage (count)", axis=axis_for(frame, "leads")),
            tooltip=[
                alt.Tooltip("stage:N", title="Stage"),
                LEADS_TIP,
                alt.Tooltip("share:Q", title="Share of all leads", format=SHARE),
            ],
        )
        .properties(width=width, height=bar_height(frame.height))
    )


def tier_conversion(
    frame: pl.DataFrame,
    *,
    base_rate: float,
    title: str = "Conversion by tier",
    subtitle: str | None = None,
    width: int = 300,
) -> alt.LayerChart:
    """Conversion rate per tier, with the overall base rate marked."""
    bars = (
        alt.Chart(frame.select("tier", "leads", "conversions", "conversion_rate", "lift"))
        .mark_bar()
        .encode(
            y=alt.Y("tier:N", sort=TIER_COLORS.sort(), title=None),
            x=alt.X("conversion_rate:Q", title="Leads that converted (%)", axis=alt.Axis(format="%")),
            color=TIER_COLORS.color(),
            tooltip=[
                alt.Tooltip("tier:N", title="Tier"),
                LEADS_TIP,
                alt.Tooltip("conversions:Q", title="Conversions", format=COUNT),
                alt.Tooltip("conversion_rate:Q", title="Conversion rate", format=".2%"),
                alt.Tooltip("lift:Q", title="Lift (rate / base rate)", format=".2f"),
            ],
        )
    )
    base = alt.Chart().mark_rule(
        strokeDash=[4, 4], color="#555", tooltip=f"Base rate: {base_rate:.1%} of leads converted"
    ).encode(x=alt.datum(base_rate))
    subtitle = subtitle or f"dashed line: all leads ({base_rate:.2%})"
    return alt.layer(bars, base, title=chart_title(title, subtitle)).properties(
        width=width, height=bar_height(frame.height)
    )


# --- blocks --------------------------------------------------------------------------


def _lead_matrix(ctx: Context, block: Block, action: str | None) -> Built:
    args = ctx.titles(block, "Fit × engagement")
    args["width"] = min(args["width"], 320)
    return lead_matrix(matrix_frame(ctx.leads.table, GRADES, LEVELS), **args)


def _lead_tiers(ctx: Context, block: Block, action: str | None) -> Built:
    return lead_tiers(tiers_frame(ctx.leads.table, TIERS), **ctx.titles(block, "Leads per tier"))


def _lead_funnel(ctx: Context, block: Block, action: str | None) -> Built:
    return lead_funnel(funnel_frame(ctx.leads.table, STAGES), **ctx.titles(block, "Stage funnel"))


def _tier_conversion(ctx: Context, block: Block, action: str | None) -> Built:
    cal = ctx.leads.calibration
    if cal is None:
        return Note(ctx.leads.calibration_note or "No outcomes given: pass --outcomes to see conversion by tier.")
    return tier_conversion(cal.tiers, base_rate=cal.base_rate, **ctx.titles(block, "Conversion by tier"))


def _top_leads(ctx: Context, block: Block, action: str | None) -> Built:
    t = ctx.leads.table
    rank = {tier: i for i, tier in enumerate(TIERS)}
    order = [pl.col("tier").replace_strict(rank, default=len(rank), return_dtype=pl.Int32)]
    if {"fit_score", "engagement_score"} <= set(t.columns):
        order.append(-(pl.col("fit_score") + pl.col("engagement_score")))
    top = t.sort([*order, pl.col("lead_id")]).head(ctx.settings.preview_rows)
    wanted = [
        ("lead_id", "Lead", "{}"),
        ("company", "Company", "{}"),
        ("email", "Email", "{}"),
        ("tier", "Tier", "{}"),
        ("priority", "Cell", "{}"),
        ("stage", "Stage", "{}"),
        ("explanation", "Why", "{}"),
    ]
    cols = [c for c in wanted if c[0] in t.columns]
    return ctx.table(cols, top, caption=f"Top {ctx.count(top.height)} of {ctx.count(t.height)} leads "
                     "(hot first, then fit + engagement).")


def _f_leads(ctx: Context, action: str | None) -> Figure:
    return Figure("Leads", ctx.count(ctx.leads.table.height), f"scored as of {ctx.leads.as_of}")


def _f_hot(ctx: Context, action: str | None) -> Figure:
    hot = int((ctx.leads.table["tier"] == "hot").sum())
    return Figure("Hot leads", ctx.count(hot), f"{ctx.share(hot / max(1, ctx.leads.table.height))} of leads")


def _f_base(ctx: Context, action: str | None) -> Figure:
    cal = ctx.leads.calibration
    if cal is None:
        return Figure("Conversion rate", "n/a", "pass --outcomes")
    return Figure("Conversion rate", ctx.share(cal.base_rate, 2),
                  f"{ctx.count(cal.conversions)} of {ctx.count(cal.leads)} leads converted")


CHARTS: dict[str, BlockFn] = {
    "lead_matrix": _lead_matrix,
    "lead_tiers": _lead_tiers,
    "lead_funnel": _lead_funnel,
    "tier_conversion": _tier_conversion,
}
TABLES: dict[str, BlockFn] = {"top_leads": _top_leads}
FIGURES: dict[str, FigureFn] = {"leads": _f_leads, "hot_leads": _f_hot, "base_rate": _f_base}
