"""Report charts: one small function per chart, the chart its last expression.

Every function takes a few aggregated rows (a polars frame built by
:mod:`rfm.reporting._data`) and returns an Altair chart; none sees one row per
customer.  Encodings, number formats and colour scales are defined once here
and shared, so a segment has the same colour in every chart of a report
(:func:`segment_colors` maps the rule set's segment order to a fixed palette).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt
import polars as pl

# --- formats and colours -----------------------------------------------------------

COUNT = ",d"
#: Money formats start with d3's ``$``: the report locale's currency prefix and suffix
#: (empty without report.currency; see rfm.reporting._numbers).
MONEY = "$,.0f"
MONEY2 = "$,.2f"
SHARE = ".1%"
RISK = ".1f"

#: Colours of the rule set's segments in priority order (the default preset's
#: eleven read green = best, blue/teal = loyal/new, yellow = middling,
#: red/orange = at risk, purple/brown/grey = asleep or lost).
SEGMENT_PALETTE = (
    "#1b7837",
    "#4e79a7",
    "#76b7b2",
    "#8cd17d",
    "#b6992d",
    "#f1ce63",
    "#d62728",
    "#f28e2b",
    "#b07aa1",
    "#9c755f",
    "#79706e",
    "#ff9da7",
    "#499894",
    "#86bcb6",
    "#d4a6c8",
    "#fabfd2",
    "#a0cbe8",
    "#ffbe7d",
)
#: The catch-all segment ("Other") is always light grey.
OTHER_COLOR = "#bab0ac"
ACTION_COLORS = {"retain": "#4e79a7", "upsell": "#59a14f", "reactivate": "#e15759", "nurture": "#edc948"}
EXTRA_ACTION_COLORS = ("#b07aa1", "#76b7b2", "#ff9da7", "#9c755f")
METHOD_COLORS = {"actual": "#333333", "bgnbd": "#4e79a7", "recency_ratio": "#f28e2b", "random": "#bab0ac"}
TIER_COLORS = {"hot": "#e15759", "warm": "#f28e2b", "cold": "#4e79a7"}
HEAT_SCHEME = "blues"


@dataclass(frozen=True)
class Colors:
    """A nominal colour scale: the same domain -> range mapping in every chart."""

    field: str
    domain: tuple[str, ...]
    range: tuple[str, ...]
    title: str

    def scale(self) -> alt.Scale:
        return alt.Scale(domain=list(self.domain), range=list(self.range))

    def color(self, *, legend: bool = False) -> alt.Color:
        return alt.Color(
            # symbols at full opacity: a dimmed mark (the segment highlight) must not fade its legend
            f"{self.field}:N", scale=self.scale(), title=self.title, legend=alt.Legend(symbolOpacity=1) if legend else None
        )

    def sort(self) -> list[str]:
        return list(self.domain)

    def only(self, present: list[str]) -> Colors:
        """The scale narrowed to the ``present`` names (a legend lists only what occurs); each keeps its colour."""
        keep = [i for i, name in enumerate(self.domain) if name in set(present)]
        return Colors(self.field, tuple(self.domain[i] for i in keep), tuple(self.range[i] for i in keep), self.title)


def segment_colors(segment_order: list[str], other: str | None = None) -> Colors:
    """Colour per segment in rule order; the catch-all ``other`` gets grey."""
    palette = iter(SEGMENT_PALETTE * (1 + len(segment_order) // len(SEGMENT_PALETTE)))
    colors = tuple(OTHER_COLOR if name == other else next(palette) for name in segment_order)
    return Colors("segment", tuple(segment_order), colors, "Segment")


def action_colors(actions: list[str]) -> Colors:
    extra = iter(EXTRA_ACTION_COLORS * (1 + len(actions)))
    return Colors("action", tuple(actions), tuple(ACTION_COLORS.get(a) or next(extra) for a in actions), "Action")


def method_colors(methods: list[str], title: str = "Series") -> Colors:
    return Colors("series", tuple(methods), tuple(METHOD_COLORS.get(m, OTHER_COLOR) for m in methods), title)


TIER_SCALE = Colors("tier", tuple(TIER_COLORS), tuple(TIER_COLORS.values()), "Tier")

# --- shared encodings ---------------------------------------------------------------

CUSTOMERS_TIP = alt.Tooltip("customers:Q", title="Customers", format=COUNT)
SHARE_TIP = alt.Tooltip("customer_share:Q", title="Share of customers", format=SHARE)
REVENUE_TIP = alt.Tooltip("revenue:Q", title="Revenue (net)", format=MONEY)
REVENUE_SHARE_TIP = alt.Tooltip("revenue_share:Q", title="Share of revenue", format=SHARE)
SEGMENT_TIP = alt.Tooltip("segment:N", title="Segment")
ACTION_TIP = alt.Tooltip("action:N", title="Action")
LEADS_TIP = alt.Tooltip("leads:Q", title="Leads", format=COUNT)


def axis_for(frame: pl.DataFrame, field: str, *, money: bool = False) -> alt.Axis:
    """Whole numbers with thousands separators; SI prefixes (1.2M) only for millions and up."""
    top = frame[field].abs().max() if frame.height else None
    big = top is not None and float(top) >= 1e6
    if money:
        return alt.Axis(format="$~s" if big else MONEY)
    return alt.Axis(format="~s" if big else ",d")


def customers_x(frame: pl.DataFrame) -> alt.X:
    return alt.X("customers:Q", title="Customers (count)", axis=axis_for(frame, "customers"))


def segment_y(colors: Colors) -> alt.Y:
    return alt.Y("segment:N", sort=colors.sort(), title=None, axis=alt.Axis(labelLimit=160))


#: Clicking a segment in one chart highlights it in every chart of the page: each chart coloured by
#: segment declares this variable and dims the other segments' marks; the page script
#: (rfm.reporting._html) sets it in every chart on a click (or from ``#segment=Name`` in the URL).
HIGHLIGHT = "highlight"
HIGHLIGHTED = f"{HIGHLIGHT} == null || datum.segment == {HIGHLIGHT}"
DIMMED = 0.2


def highlight_param() -> alt.Parameter:
    """The page-wide segment highlight a segment-coloured chart declares (null: nothing highlighted)."""
    return alt.param(name=HIGHLIGHT, value=None)


def segment_bars(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    columns: list[str],
    x: alt.X,
    tooltip: list[alt.Tooltip],
    title: str,
    subtitle: str | None,
    width: int,
) -> alt.Chart:
    """Horizontal bars, one per segment in rule order, in the segment's colour, linked to the page's
    segment highlight (the other segments' bars dim)."""
    return (
        alt.Chart(frame.select(columns), title=chart_title(title, subtitle))
        .mark_bar()
        .encode(
            y=segment_y(colors),
            x=x,
            color=colors.color(),
            opacity=alt.condition(HIGHLIGHTED, alt.value(1.0), alt.value(DIMMED)),
            tooltip=tooltip,
        )
        .add_params(highlight_param())
        .properties(width=width, height=bar_height(frame.height))
    )


def chart_title(text: str, subtitle: str | None) -> alt.Title:
    return alt.Title(text, subtitle=subtitle or "", anchor="start")


def contrast_color(field: str, frame: pl.DataFrame) -> Any:
    """White labels on the darkest cells of a sequential colour scale, dark ones elsewhere."""
    top = frame[field].max() if frame.height else None
    threshold = 0.6 * float(top) if top is not None else 0.0
    return alt.condition(f"datum.{field} > {threshold!r}", alt.value("white"), alt.value("#222"))


def bar_height(rows: int) -> int:
    return max(60, 22 * rows)


# --- segments -----------------------------------------------------------------------


def segment_customers(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "Customers per segment",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Horizontal bars: customers per segment, in rule order."""
    return segment_bars(
        frame, colors, columns=["segment", "action", "customers", "customer_share"], x=customers_x(frame),
        tooltip=[SEGMENT_TIP, ACTION_TIP, CUSTOMERS_TIP, SHARE_TIP], title=title, subtitle=subtitle, width=width,
    )


def segment_revenue_share(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "Share of revenue",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Horizontal bars: each segment's share of net revenue."""
    return segment_bars(
        frame, colors, columns=["segment", "revenue", "revenue_share", "customer_share"],
        x=alt.X("revenue_share:Q", title="Share of net revenue (%)", axis=alt.Axis(format="%")),
        tooltip=[SEGMENT_TIP, REVENUE_TIP, REVENUE_SHARE_TIP, SHARE_TIP], title=title, subtitle=subtitle, width=width,
    )


def histogram(
    frame: pl.DataFrame,
    *,
    x_title: str,
    title: str,
    subtitle: str | None = None,
    width: int = 260,
    money: bool = False,
) -> alt.Chart:
    """Pre-binned counts: bars from ``bin_start`` to ``bin_end`` (bins computed in SQL)."""
    return (
        alt.Chart(
            frame.select("bin_start", "bin_end", "label", "customers", "share"), title=chart_title(title, subtitle)
        )
        .mark_bar(color="#4e79a7", binSpacing=1)
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title=x_title, axis=axis_for(frame, "bin_end", money=money)),
            x2="bin_end:Q",
            y=alt.Y("customers:Q", title="Customers (count)", axis=axis_for(frame, "customers")),
            tooltip=[
                alt.Tooltip("label:N", title=x_title),
                CUSTOMERS_TIP,
                alt.Tooltip("share:Q", title="Share of customers", format=SHARE),
            ],
        )
        .properties(width=width, height=180)
    )


# --- campaign -----------------------------------------------------------------------


def action_customers(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "List size per action",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    return (
        alt.Chart(frame.select("action", "customers", "customer_share"), title=chart_title(title, subtitle))
        .mark_bar()
        .encode(
            y=alt.Y("action:N", sort=colors.sort(), title=None),
            x=customers_x(frame),
            color=colors.color(),
            tooltip=[ACTION_TIP, CUSTOMERS_TIP, SHARE_TIP],
        )
        .properties(width=width, height=bar_height(frame.height))
    )


def action_value(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    value_title: str,
    title: str = "Expected value per action",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Bars of ``value`` per action (total CLV when churn was scored, else net revenue)."""
    return (
        alt.Chart(frame.select("action", "customers", "value"), title=chart_title(title, subtitle))
        .mark_bar()
        .encode(
            y=alt.Y("action:N", sort=colors.sort(), title=None),
            x=alt.X("value:Q", title=value_title, axis=axis_for(frame, "value", money=True)),
            color=colors.color(),
            tooltip=[ACTION_TIP, CUSTOMERS_TIP, alt.Tooltip("value:Q", title=value_title, format=MONEY)],
        )
        .properties(width=width, height=bar_height(frame.height))
    )


def action_segments(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    title: str = "Segments in this list",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Customers per segment among the customers of one action."""
    return segment_bars(
        frame, colors, columns=["segment", "customers", "customer_share"], x=customers_x(frame),
        tooltip=[SEGMENT_TIP, CUSTOMERS_TIP, SHARE_TIP], title=title, subtitle=subtitle, width=width,
    )


def top_offers(
    frame: pl.DataFrame, *, title: str = "Top next best offers", subtitle: str | None = None, width: int = 360
) -> alt.Chart:
    """Bars: customers whose next best offer is each offer (the most frequent few)."""
    return (
        alt.Chart(frame.select("offer", "customers", "mean_offer_fit"), title=chart_title(title, subtitle))
        .mark_bar(color="#59a14f")
        .encode(
            y=alt.Y("offer:N", sort="-x", title=None, axis=alt.Axis(labelLimit=180)),
            x=customers_x(frame),
            tooltip=[
                alt.Tooltip("offer:N", title="Offer"),
                CUSTOMERS_TIP,
                alt.Tooltip("mean_offer_fit:Q", title="Mean offer fit (0-100)", format=".1f"),
            ],
        )
        .properties(width=width, height=bar_height(frame.height))
    )


# --- churn --------------------------------------------------------------------------


def churn_risk_by_segment(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    horizon_days: int,
    title: str = "Churn risk by segment",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Mean churn risk (0-100) per segment."""
    return segment_bars(
        frame, colors, columns=["segment", "customers", "mean_churn_risk", "median_churn_risk", "likely_gone_share"],
        x=alt.X(
            "mean_churn_risk:Q",
            title=f"Mean churn risk (% chance of no order in {horizon_days} days)",
            scale=alt.Scale(domain=[0, 100]),
        ),
        tooltip=[
            SEGMENT_TIP,
            CUSTOMERS_TIP,
            alt.Tooltip("mean_churn_risk:Q", title="Mean churn risk (0-100)", format=RISK),
            alt.Tooltip("median_churn_risk:Q", title="Median churn risk (0-100)", format=RISK),
            alt.Tooltip("likely_gone_share:Q", title="Likely gone (P(alive) < 0.5)", format=SHARE),
        ],
        title=title, subtitle=subtitle, width=width,
    )


def revenue_at_risk(
    frame: pl.DataFrame,
    colors: Colors,
    *,
    recent_days: int,
    title: str = "Revenue at risk by segment",
    subtitle: str | None = None,
    width: int = 360,
) -> alt.Chart:
    """Expected value (CLV) weighted by the chance of no order in the churn horizon, per segment."""
    return segment_bars(
        frame, colors, columns=["segment", "customers", "recent_revenue", "revenue_at_risk"],
        x=alt.X("revenue_at_risk:Q", title="Revenue at risk", axis=axis_for(frame, "revenue_at_risk", money=True)),
        tooltip=[
            SEGMENT_TIP,
            CUSTOMERS_TIP,
            alt.Tooltip("recent_revenue:Q", title=f"Revenue, last {recent_days} days", format=MONEY),
            alt.Tooltip("revenue_at_risk:Q", title="Revenue at risk", format=MONEY),
        ],
        title=title, subtitle=subtitle, width=width,
    )
