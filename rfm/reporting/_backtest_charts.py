"""Backtest section of the churn report: its data shaping, charts and blocks.

The :class:`rfm.churn.Backtest` summaries are already small (8 frequency
groups, 21 gains points per method); they are reshaped to long frames here and
drawn with the shared encodings of :mod:`rfm.reporting._charts`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from rfm.reporting._blocks import Block, BlockFn, Built, Context, Note
from rfm.reporting._charts import (
    CUSTOMERS_TIP,
    MONEY,
    SEGMENT_TIP,
    SHARE,
    Colors,
    bar_height,
    chart_title,
    method_colors,
    segment_bars,
)

# --- data ----------------------------------------------------------------------------


def transactions_frame(backtest: Any) -> pl.DataFrame:
    """Long frame: x_group, series (actual / method), transactions, customers."""
    frame = backtest.by_frequency
    series = ["actual", *[m for m in backtest.methods if f"predicted_{m}" in frame.columns]]
    cols = {"actual": "actual", **{m: f"predicted_{m}" for m in series[1:]}}
    return pl.concat(
        [
            frame.select(
                "x_group", pl.lit(name).alias("series"), pl.col(col).cast(pl.Float64).alias("transactions"), "customers"
            )
            for name, col in cols.items()
        ]
    )


def gains_frame(backtest: Any, key: str) -> pl.DataFrame:
    """Long frame: series (method or random), share_customers, share_captured."""
    frames = [
        pl.DataFrame(m[key]).select(pl.lit(name).alias("series"), "share_customers", "share_captured")
        for name, m in backtest.methods.items()
    ]
    grid = frames[0]["share_customers"] if frames else pl.Series([0.0, 1.0])
    frames.append(pl.DataFrame({"series": "random", "share_customers": grid, "share_captured": grid}))
    return pl.concat(frames)


def auc_frame(backtest: Any) -> pl.DataFrame:
    return pl.DataFrame({"series": list(backtest.methods), "auc": [float(m["auc"]) for m in backtest.methods.values()]})


# --- charts --------------------------------------------------------------------------


def backtest_transactions(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    horizon_days: int,
    title: str = "Predicted vs actual transactions",
    subtitle: str | None = None,
    width: int = 560,
) -> alt.Chart:
    """Grouped bars per calibration repeat-transaction group: actual and each model's prediction."""
    return (
        alt.Chart(frame.select("x_group", "series", "transactions", "customers"), title=chart_title(title, subtitle))
        .mark_bar()
        .encode(
            x=alt.X(
                "x_group:N",
                sort=frame["x_group"].unique(maintain_order=True).to_list(),
                title="Repeat transactions in the calibration period (count)",
                axis=alt.Axis(labelAngle=0),
            ),
            xOffset=alt.XOffset("series:N", sort=colors.sort()),
            y=alt.Y("transactions:Q", title=f"Transactions in the {horizon_days}-day holdout (count)"),
            color=colors.color(legend=True),
            tooltip=[
                alt.Tooltip("x_group:N", title="Calibration repeat transactions"),
                alt.Tooltip("series:N", title="Series"),
                alt.Tooltip("transactions:Q", title="Holdout transactions", format=",.1f"),
                CUSTOMERS_TIP,
            ],
        )
        .properties(width=width, height=220)
    )


def gains_curve(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    y_title: str,
    title: str,
    subtitle: str | None = None,
    width: int = 300,
) -> alt.Chart:
    """Cumulative share captured by the top x % of customers, per ranking method (random = diagonal)."""
    # refunds can push a revenue curve past 100 % on the way; otherwise the axis ends at 100 %
    top = max(1.0, float(frame["share_captured"].max() or 1.0)) if frame.height else 1.0
    return (
        alt.Chart(frame.select("series", "share_customers", "share_captured"), title=chart_title(title, subtitle))
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            # shares run 0..100 %: a fixed domain, so the axis never rounds up to 110 %
            x=alt.X("share_customers:Q", title="Customers contacted, top-ranked first (%)",
                    scale=alt.Scale(domain=[0, 1], nice=False), axis=alt.Axis(format="%")),
            y=alt.Y("share_captured:Q", title=y_title, scale=alt.Scale(domain=[0, top], nice=False),
                    axis=alt.Axis(format="%")),
            color=colors.color(legend=True),
            strokeDash=alt.condition("datum.series == 'random'", alt.value([4, 4]), alt.value([1, 0])),
            tooltip=[
                alt.Tooltip("series:N", title="Ranking"),
                alt.Tooltip("share_customers:Q", title="Customers contacted", format=SHARE),
                alt.Tooltip("share_captured:Q", title="Captured", format=SHARE),
            ],
        )
        .properties(width=width, height=width)
    )


def auc_bars(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "AUC of churn risk",
    subtitle: str | None = None,
    width: int = 300,
) -> alt.LayerChart:
    """AUC per churn method, with the 0.5 of a random ranking marked."""
    bars = (
        alt.Chart(frame.select("series", "auc"))
        .mark_bar()
        .encode(
            y=alt.Y("series:N", sort=colors.sort(), title=None),
            x=alt.X(
                "auc:Q",
                title="AUC for 'no order in the holdout' (0.5 = random, 1 = perfect)",
                scale=alt.Scale(domain=[0, 1]),
            ),
            color=colors.color(),
            tooltip=[alt.Tooltip("series:N", title="Method"), alt.Tooltip("auc:Q", title="AUC", format=".3f")],
        )
    )
    labels = bars.mark_text(align="left", dx=4).encode(text=alt.Text("auc:Q", format=".3f"), color=alt.value("#222"))
    random = alt.Chart().mark_rule(strokeDash=[4, 4], color="#555", tooltip="AUC 0.5: a random ranking").encode(
        x=alt.datum(0.5)
    )
    subtitle = subtitle or "dashed line: a random ranking (0.5)"
    return alt.layer(bars, labels, random, title=chart_title(title, subtitle)).properties(
        width=width, height=bar_height(frame.height)
    )


def repurchase_by_segment(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    horizon_days: int,
    title: str = "Repurchase in the holdout by segment",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Share of each segment's customers who ordered in the holdout, and their holdout revenue."""
    return segment_bars(
        frame, colors, columns=["segment", "customers", "repurchase_rate", "actual_revenue"],
        x=alt.X(
            "repurchase_rate:Q",
            title=f"Customers who ordered in the {horizon_days}-day holdout (%)",
            axis=alt.Axis(format="%"),
        ),
        tooltip=[
            SEGMENT_TIP,
            CUSTOMERS_TIP,
            alt.Tooltip("repurchase_rate:Q", title="Repurchase rate", format=SHARE),
            alt.Tooltip("actual_revenue:Q", title="Holdout revenue", format=MONEY),
        ],
        title=title, subtitle=subtitle, width=width,
    )


def _backtest_or_note(ctx: Context) -> Note | None:
    if ctx.backtest is None:
        return Note(ctx.backtest_note or "No backtest in this run.")
    return None


def _methods(ctx: Context, first: str) -> Colors:
    return method_colors([first, *ctx.backtest.methods])


def _backtest_transactions(ctx: Context, block: Block, action: str | None) -> Built:
    note = _backtest_or_note(ctx)
    if note:
        return note
    return backtest_transactions(
        transactions_frame(ctx.backtest),
        _methods(ctx, "actual"),
        horizon_days=ctx.backtest.horizon_days,
        **ctx.titles(block, "Predicted vs actual transactions"),
    )


def _gains(key: str, y_title: str, default: str) -> BlockFn:
    def build(ctx: Context, block: Block, action: str | None) -> Built:
        note = _backtest_or_note(ctx)
        if note:
            return note
        return gains_curve(
            gains_frame(ctx.backtest, key),
            method_colors([*ctx.backtest.methods, "random"], "Ranking by"),
            y_title=y_title,
            **ctx.titles(block, default),
        )

    return build


def _auc(ctx: Context, block: Block, action: str | None) -> Built:
    note = _backtest_or_note(ctx)
    if note:
        return note
    return auc_bars(
        auc_frame(ctx.backtest),
        method_colors(list(ctx.backtest.methods), "Model"),
        **ctx.titles(block, "AUC of churn risk"),
    )


def _repurchase(ctx: Context, block: Block, action: str | None) -> Built:
    note = _backtest_or_note(ctx)
    if note:
        return note
    return repurchase_by_segment(
        ctx.backtest.by_segment,
        ctx.segments,
        horizon_days=ctx.backtest.horizon_days,
        **ctx.titles(block, "Repurchase in the holdout by segment"),
    )


def _backtest_table(ctx: Context, block: Block, action: str | None) -> Built:
    note = _backtest_or_note(ctx)
    if note:
        return note
    rows = [
        {"method": name, **{k: v for k, v in m.items() if not k.startswith("gains")}}
        for name, m in ctx.backtest.methods.items()
    ]
    return ctx.table(
        [
            ("method", "Method", "{}"),
            ("auc", "AUC", "{:.3f}"),
            ("predicted_orders", "Predicted transactions", "{:,.1f}"),
            ("actual_orders", "Actual", "{:,}"),
            ("lift_top_decile_risk", "Top-decile lift (risk)", "{:.2f}"),
            ("lift_top_decile_clv", "Top-decile revenue lift (CLV)", "{:.2f}"),
        ],
        pl.DataFrame(rows),
        caption=block.title or "",
    )


CHARTS: dict[str, BlockFn] = {
    "backtest_transactions": _backtest_transactions,
    "gains_risk": _gains("gains_risk", "Customers with no holdout order found (%)", "Gains: churners found"),
    "gains_clv": _gains("gains_clv", "Holdout revenue captured (%)", "Gains: revenue captured"),
    "auc": _auc,
    "repurchase_by_segment": _repurchase,
}
TABLES: dict[str, BlockFn] = {"backtest_table": _backtest_table}
