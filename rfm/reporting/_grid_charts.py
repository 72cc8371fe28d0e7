"""The heat-map grids of the reports: recency x frequency (mean value, largest segment) and
the segment migration matrix.  Shared encodings and colours come from :mod:`rfm.reporting._charts`.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from rfm.reporting._charts import (
    COUNT,
    CUSTOMERS_TIP,
    DIMMED,
    HEAT_SCHEME,
    HIGHLIGHTED,
    MONEY,
    MONEY2,
    REVENUE_TIP,
    SEGMENT_TIP,
    SHARE,
    Colors,
    chart_title,
    highlight_param,
)

#: A grid cell holding fewer customers than this share of everyone (and fewer than
#: MIN_CELL customers) is muted: its mean is noise and must not set the colour scale.
TINY_CELL_SHARE = 0.005
MIN_CELL = 10
MUTED = "#eeeeee"


def rf_cells(frame: pl.DataFrame) -> pl.DataFrame:
    """The R x F grid with ``shown`` (not a tiny cell) and ``dark`` (a white label reads on it)."""
    total = max(1, int(frame["customers"].sum())) if frame.height else 1
    floor = min(MIN_CELL, TINY_CELL_SHARE * total)
    shown = frame.with_columns(shown=pl.col("customers") >= max(1.0, floor))
    values = shown.filter("shown")["mean_monetary"]
    lo, hi = (float(values.min()), float(values.max())) if values.len() else (0.0, 0.0)  # type: ignore[arg-type]
    position = (pl.col("mean_monetary") - lo) / (hi - lo) if hi > lo else pl.lit(1.0)
    return shown.with_columns(dark=pl.col("shown") & (position > 0.55).fill_null(False))


def rf_axes(
    frame: pl.DataFrame, f_scores: list[int] | None, r_scores: list[int] | None
) -> tuple[alt.X, alt.Y, pl.Expr]:
    """F across, R up (5 on top), over exactly the given scores (default: those in ``frame``), so two
    grids given the same scores line up cell for cell; and the filter keeping the cells shown."""
    f = sorted(f_scores or set(frame["f_score"].to_list()))
    r = sorted(r_scores or set(frame["r_score"].to_list()), reverse=True)
    return (
        alt.X("f_score:O", scale=alt.Scale(domain=f), title=F_TITLE, axis=alt.Axis(labelAngle=0)),
        alt.Y("r_score:O", scale=alt.Scale(domain=r), title=R_TITLE),
        pl.col("f_score").is_in(f) & pl.col("r_score").is_in(r),
    )


F_TITLE = "Frequency score F (1 = fewest orders, 5 = most)"
R_TITLE = "Recency score R (5 = most recent)"


def rf_heatmap(
    frame: pl.DataFrame,
    *,
    title: str = "Recency × frequency",
    subtitle: str | None = None,
    width: int = 360,
    f_scores: list[int] | None = None,
    r_scores: list[int] | None = None,
) -> alt.LayerChart:
    """R x F grid coloured by mean monetary value, each cell labelled with its customers.

    Tiny cells (see :data:`TINY_CELL_SHARE`) are grey and left out of the colour scale;
    ``f_scores`` / ``r_scores`` fix the axes (default: the scores in ``frame``)."""
    x, y, shown = rf_axes(frame, f_scores, r_scores)
    base = alt.Chart(rf_cells(frame).filter(shown), title=chart_title(title, subtitle)).encode(
        x=x,
        y=y,
        tooltip=[
            alt.Tooltip("r_score:O", title="R"),
            alt.Tooltip("f_score:O", title="F"),
            CUSTOMERS_TIP,
            alt.Tooltip("mean_monetary:Q", title="Mean monetary", format=MONEY2),
            REVENUE_TIP,
        ],
    )
    cells = base.transform_filter("datum.shown").mark_rect(stroke="white").encode(
        color=alt.Color(
            "mean_monetary:Q",
            scale=alt.Scale(scheme=HEAT_SCHEME),
            title="Mean monetary",
            legend=alt.Legend(format=MONEY),
        )
    )
    muted = base.transform_filter("!datum.shown").mark_rect(stroke="white", color=MUTED)
    labels = base.mark_text(fontSize=12).encode(
        text=alt.Text("customers:Q", format=COUNT),
        color=alt.condition("datum.dark", alt.value("white"), alt.value("#222")),
    )
    return alt.layer(muted, cells, labels).properties(width=width, height=width)


def rf_segments(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "Largest segment per cell",
    subtitle: str | None = None,
    width: int = 360,
    f_scores: list[int] | None = None,
    r_scores: list[int] | None = None,
) -> alt.Chart:
    """R x F grid coloured by the segment holding most of each cell's customers (axes as
    :func:`rf_heatmap`'s, so the two grids line up cell for cell)."""
    x, y, _ = rf_axes(frame, f_scores, r_scores)
    present = [s for s in colors.domain if s in set(frame["segment"].to_list())]
    return (
        alt.Chart(frame, title=chart_title(title, subtitle))
        .mark_rect(stroke="white")
        .encode(
            x=x,
            y=y,
            color=colors.only(present).color(legend=True),
            opacity=alt.condition(  # the page-wide segment highlight dims other cells
                HIGHLIGHTED,
                alt.Opacity("cell_share:Q", scale=alt.Scale(domain=[0, 1], range=[0.35, 1]), legend=None),
                alt.value(DIMMED),
            ),
            tooltip=[
                alt.Tooltip("r_score:O", title="R"),
                alt.Tooltip("f_score:O", title="F"),
                SEGMENT_TIP,
                alt.Tooltip("cell_share:Q", title="Share of the cell's customers", format=SHARE),
            ],
        )
        .properties(width=width, height=width)
        .add_params(highlight_param())
    )


def migration_heatmap(
    frame: pl.DataFrame,
    *,
    from_order: list[str],
    to_order: list[str],
    from_title: str,
    to_title: str,
    title: str = "Segment migration",
    subtitle: str | None = None,
    width: int = 560,
) -> alt.LayerChart:
    """Transition matrix: rows = segment at the earlier date, columns = segment now."""
    base = alt.Chart(frame, title=chart_title(title, subtitle)).encode(
        x=alt.X("to_segment:N", sort=to_order, title=to_title, axis=alt.Axis(labelAngle=-35, labelLimit=140)),
        y=alt.Y("from_segment:N", sort=from_order, title=from_title, axis=alt.Axis(labelLimit=160)),
        tooltip=[
            alt.Tooltip("from_segment:N", title="Was"),
            alt.Tooltip("to_segment:N", title="Is now"),
            CUSTOMERS_TIP,
            alt.Tooltip("row_share:Q", title="Share of the earlier segment", format=SHARE),
        ],
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "row_share:Q",
            scale=alt.Scale(scheme=HEAT_SCHEME, domain=[0, 1]),
            title=["Share of the", "earlier segment"],
            legend=alt.Legend(format="%"),
        )
    )
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("customers:Q", format=COUNT),
        color=alt.condition("datum.row_share > 0.55", alt.value("white"), alt.value("#222")),
    )
    return alt.layer(cells, labels).properties(width=width, height=max(160, 26 * len(from_order)))
