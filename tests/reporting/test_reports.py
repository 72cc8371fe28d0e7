"""Reports (issue 6): chart specs, aggregates, definitions, HTML, escaping and exports.

Charts are tested as specs (``to_dict()``) and validated against the
Vega-Lite schema that Altair ships; every chart of the built reports is also
run through the Vega runtime of vl-convert, which catches expression errors a
schema cannot.  The browser test is in ``test_browser.py``.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import altair as alt
import jsonschema
import polars as pl
import pytest
import vl_convert as vlc
from polars.testing import assert_frame_equal

from rfm.customers import load_config
from rfm.engine import DuckDBEngine as Engine
from rfm.errors import ConfigError, InputError
from rfm.pipeline import Orders
from rfm.reporting import KINDS, Leads, final_spec, load_definition, run_report, write_report
from rfm.reporting import _backtest_charts as B
from rfm.reporting import _charts as C
from rfm.reporting import _data as D
from rfm.reporting import _grid_charts as G
from rfm.reporting import _lead_charts as L
from rfm.reporting._html import spec_json
from tests.conftest import DATA as DATA_ROOT

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORDERS = ROOT / "rfm" / "data" / "demo_orders.csv"
DEMO_CONFIG = ROOT / "rfm" / "presets" / "demo.yaml"
LEADS_DIR = DATA_ROOT / "leads"
SEGMENTS = ["Champions", "Loyal", "Other"]
COLORS = C.segment_colors(SEGMENTS, other="Other")

#: The only URL strings in the inlined Vega bundle (SVG/XML namespaces the
#: renderer must use, and text in code paths the reports do not reach: an
#: error-message link, the Vega schema id, the editor link of the actions menu,
#: which the reports switch off).  None is loaded by the page.
BUNDLE_URLS = {
    "http://www.w3.org/2000/svg",
    "http://www.w3.org/1999/xlink",
    "http://www.w3.org/2000/xmlns/",
    "https://github.com/vega/vega-lite/issues/2415",
    "https://vega.github.io/schema/vega/v6.json",
    "https://vega.github.io/editor/",
}


@pytest.fixture(scope="module")
def vl_schema() -> jsonschema.Draft7Validator:
    path = Path(alt.__file__).parent / "vegalite" / "v6" / "schema" / "vega-lite-schema.json"
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def validate(spec: dict, validator: jsonschema.Draft7Validator) -> None:
    errors = sorted(validator.iter_errors(spec), key=str)
    assert not errors, errors[0].message


def rows(spec: dict) -> list[dict]:
    """The data rows of a single-dataset spec."""
    (values,) = [v for k, v in spec["datasets"].items() if k != "empty"]
    return values


def demo_config():
    """The demo config with churn on and without its offer catalogue (tests that want offers give one)."""
    cfg = load_config(DEMO_CONFIG)
    return cfg.model_copy(update={"offers": None, "churn": cfg.churn.model_copy(update={"method": "auto"})})


@pytest.fixture(scope="module")
def demo():
    orders = Orders(DEMO_ORDERS, demo_config())
    scores = orders.score()
    return orders, scores


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo):
    """The three reports on the demo data; the segments report carries the leads section."""
    out = tmp_path_factory.mktemp("reports")
    orders, scores = demo
    from rfm.leads import score_leads

    lead_scores = score_leads(LEADS_DIR / "leads.csv", LEADS_DIR / "events.csv", LEADS_DIR / "grid.yaml")
    files = {
        "segments": write_report(
            "segments", orders, scores, out=out / "segments.html", leads=Leads(lead_scores.table, lead_scores.as_of)
        ),
        "campaign": write_report("campaign", orders, scores, out=out / "campaign.html"),
        "churn": write_report("churn", orders, scores, out=out / "churn.html", backtest=fake_backtest()),
    }
    return out, files


def html_of(built, kind: str) -> str:
    return built[1][kind][0].read_text(encoding="utf-8")


def specs_of(page: str) -> dict[str, dict]:
    """chart id -> spec, from the JSON blocks of a page."""
    found = re.findall(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', page, re.DOTALL)
    return {cid: json.loads(text) for cid, text in found}


def fake_backtest():
    """A Backtest-shaped object with hand-made summaries (8 frequency groups, 21 gains points)."""
    groups = ["0", "1", "2", "3", "4", "5", "6", "7+"]
    by_frequency = pl.DataFrame(
        {
            "x_group": groups,
            "customers": [50, 20, 10, 8, 6, 4, 3, 9],
            "actual": [5, 6, 7, 5, 4, 3, 3, 20],
            "predicted_bgnbd": [6.0, 5.5, 6.5, 5.0, 4.2, 3.1, 2.8, 19.0],
            "predicted_recency_ratio": [8.0, 4.0, 5.0, 4.0, 3.0, 2.0, 2.0, 15.0],
        }
    )
    gains = [{"share_customers": i / 20, "share_captured": min(1.0, (i / 20) ** 0.5)} for i in range(21)]
    methods = {
        m: {
            "auc": auc,
            "predicted_orders": 50.0,
            "actual_orders": 53,
            "lift_top_decile_risk": 1.2,
            "lift_top_decile_clv": 4.0,
            "gains_risk": gains,
            "gains_clv": gains,
        }
        for m, auc in (("bgnbd", 0.75), ("recency_ratio", 0.7))
    }
    by_segment = pl.DataFrame(
        {
            "segment": ["Champions", "Loyal"],
            "customers": [40, 70],
            "repurchase_rate": [0.6, 0.3],
            "actual_revenue": [900.0, 400.0],
        }
    )
    return SimpleNamespace(
        calibration_end=date(2024, 10, 3),
        holdout_end=date(2025, 1, 1),
        horizon_days=90,
        methods=methods,
        by_frequency=by_frequency,
        by_segment=by_segment,
    )


# --- chart specs -----------------------------------------------------------------------


def test_segment_customers_spec(vl_schema):
    frame = pl.DataFrame(
        {
            "segment": ["Champions", "Loyal"],
            "action": ["retain", "retain"],
            "customers": [30, 70],
            "customer_share": [0.3, 0.7],
        }
    )
    spec = final_spec(C.segment_customers(frame, COLORS, title="Customers per segment"))
    validate(spec, vl_schema)
    enc = spec["encoding"]
    assert spec["mark"]["type"] == "bar"
    assert spec["title"]["text"] == "Customers per segment"
    assert (enc["y"]["field"], enc["y"]["type"], enc["y"]["sort"]) == ("segment", "nominal", SEGMENTS)
    assert (enc["x"]["field"], enc["x"]["type"], enc["x"]["title"]) == (
        "customers",
        "quantitative",
        "Customers (count)",
    )
    assert enc["color"]["scale"] == {"domain": SEGMENTS, "range": ["#1b7837", "#4e79a7", C.OTHER_COLOR]}
    assert [t["field"] for t in enc["tooltip"]] == ["segment", "action", "customers", "customer_share"]
    assert [t.get("format") for t in enc["tooltip"]] == [None, None, ",d", ".1%"]
    assert rows(spec) == frame.to_dicts()
    assert "$schema" not in spec


def test_rf_heatmap_has_one_row_per_cell(vl_schema):
    grid = pl.DataFrame(
        {
            "r_score": [r for r in range(5, 0, -1) for _ in range(5)],
            "f_score": list(range(1, 6)) * 5,
            "customers": list(range(25)),
            "mean_monetary": [float(i) for i in range(25)],
            "revenue": [0.0] * 25,
        }
    )
    spec = final_spec(G.rf_heatmap(grid, title="R x F"))
    validate(spec, vl_schema)
    muted, cells, labels = spec["layer"]
    assert (muted["mark"]["type"], cells["mark"]["type"], labels["mark"]["type"]) == ("rect", "rect", "text")
    assert muted["mark"]["color"] == G.MUTED and "color" not in muted.get("encoding", {})
    assert cells["encoding"]["x"]["title"] == "Frequency score F (1 = fewest orders, 5 = most)"
    assert cells["encoding"]["y"] == labels["encoding"]["y"]
    assert cells["encoding"]["y"]["scale"]["domain"] == [5, 4, 3, 2, 1]  # R = 5 on top
    assert cells["encoding"]["x"]["scale"]["domain"] == [1, 2, 3, 4, 5]
    assert [t["field"] for t in cells["encoding"]["tooltip"]] == [
        "r_score",
        "f_score",
        "customers",
        "mean_monetary",
        "revenue",
    ]
    assert cells["encoding"]["color"]["field"] == "mean_monetary"
    assert cells["encoding"]["color"]["title"] == "Mean monetary"
    assert labels["encoding"]["text"] == {"field": "customers", "format": ",d", "type": "quantitative"}
    # 300 customers: a cell under 0.5 % of them (1.5) is muted, so the cells of 0 and 1 customer
    # are grey and leave the colour scale; white labels from 55 % of the shown range (2..24) up
    data = {r["customers"]: r for r in rows(spec)}
    assert sorted(c for c, r in data.items() if not r["shown"]) == [0, 1]
    assert sorted(c for c, r in data.items() if r["dark"]) == list(range(15, 25))
    assert muted["transform"] == [{"filter": "!datum.shown"}] and cells["transform"] == [{"filter": "datum.shown"}]


def test_rf_grids_share_their_axes_and_list_only_present_segments(vl_schema):
    """The two R x F grids show the same scores (F = 2 left out of both when no customer has it)
    and the segment legend lists only the segments that occur, each in its fixed colour."""
    colors = C.segment_colors(["Champions", "Loyal", "New", "Lost"])
    cells = pl.DataFrame({"r_score": [5, 1], "f_score": [3, 1], "segment": ["Champions", "Lost"],
                          "cell_share": [1.0, 0.8]})
    spec = final_spec(G.rf_segments(cells, colors, f_scores=[1, 3], r_scores=[1, 5]))
    validate(spec, vl_schema)
    enc = spec["encoding"]
    assert enc["x"]["scale"]["domain"] == [1, 3] and enc["y"]["scale"]["domain"] == [5, 1]
    assert enc["color"]["scale"] == {"domain": ["Champions", "Lost"], "range": [colors.range[0], colors.range[3]]}


def test_histogram_spec_uses_sql_bins(vl_schema):
    frame = pl.DataFrame(
        {
            "bin_start": [0.5, 1.5],
            "bin_end": [1.5, 2.5],
            "label": ["1", "2 or more"],
            "customers": [3, 1],
            "share": [0.75, 0.25],
        }
    )
    spec = final_spec(C.histogram(frame, x_title="Orders (count)", title="Orders per customer"))
    validate(spec, vl_schema)
    enc = spec["encoding"]
    assert enc["x"]["bin"] == "binned" and enc["x2"]["field"] == "bin_end"
    assert (enc["x"]["title"], enc["y"]["title"]) == ("Orders (count)", "Customers (count)")
    assert [t["field"] for t in enc["tooltip"]] == ["label", "customers", "share"]
    assert len(rows(spec)) == 2


def test_migration_heatmap_spec(vl_schema):
    frame = pl.DataFrame(
        {
            "from_segment": ["Champions", "Champions", D.NEW_CUSTOMERS],
            "to_segment": ["Champions", "Loyal", "Loyal"],
            "customers": [8, 2, 5],
            "row_share": [0.8, 0.2, 1.0],
        }
    )
    spec = final_spec(
        G.migration_heatmap(
            frame,
            from_order=[*SEGMENTS, D.NEW_CUSTOMERS],
            to_order=SEGMENTS,
            from_title="Segment on 2024-10-03",
            to_title="Segment on 2025-01-01",
        )
    )
    validate(spec, vl_schema)
    cells = spec["layer"][0]["encoding"]
    assert cells["y"]["sort"] == [*SEGMENTS, D.NEW_CUSTOMERS]
    assert cells["x"]["title"] == "Segment on 2025-01-01"
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0, 1]
    assert len(rows(spec)) == 3


def test_backtest_charts(vl_schema):
    bt = fake_backtest()
    tx = B.transactions_frame(bt)
    assert tx.height == 8 * 3 and tx["series"].unique(maintain_order=True).to_list() == [
        "actual",
        "bgnbd",
        "recency_ratio",
    ]
    assert tx.filter(pl.col("x_group") == "7+")["transactions"].to_list() == [20.0, 19.0, 15.0]
    spec = final_spec(
        B.backtest_transactions(tx, C.method_colors(["actual", "bgnbd", "recency_ratio"]), horizon_days=90)
    )
    validate(spec, vl_schema)
    assert spec["encoding"]["y"]["title"] == "Transactions in the 90-day holdout (count)"
    assert spec["encoding"]["xOffset"]["field"] == "series"
    assert len(rows(spec)) == 24

    gains = B.gains_frame(bt, "gains_risk")
    assert gains.height == 21 * 3
    assert gains.filter(pl.col("series") == "random")["share_captured"].to_list() == [i / 20 for i in range(21)]
    spec = final_spec(
        B.gains_curve(gains, C.method_colors(["bgnbd", "recency_ratio", "random"]), y_title="Found (%)", title="Gains")
    )
    validate(spec, vl_schema)
    assert spec["encoding"]["x"]["axis"]["format"] == "%"

    spec = final_spec(B.auc_bars(B.auc_frame(bt), C.method_colors(["bgnbd", "recency_ratio"])))
    validate(spec, vl_schema)
    bars = spec["layer"][0]
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert spec["layer"][2]["encoding"]["x"] == {"datum": 0.5}
    assert [r["auc"] for r in spec["datasets"][bars["data"]["name"]]] == [0.75, 0.7]


def lead_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5", "L6", "L7"],
            "fit_grade": ["A", "A", "B", "D", "D", "D", "C"],
            "engagement_level": [1, 1, 2, 4, 4, 3, 2],
            "tier": ["hot", "hot", "warm", "cold", "cold", "cold", "warm"],
            "stage": [
                "opportunity",
                "sales_qualified",
                "sales_qualified",
                "contact",
                "contact",
                "marketing_qualified",
                "sales_qualified",
            ],
            "fit_score": [90, 80, 60, 10, 5, 20, 40],
            "engagement_score": [50, 40, 30, 0, 0, 10, 25],
            "company": ["<img src=x onerror=alert(1)>", "Acme", "Beta", "Gamma", "Delta", "Eps", "Zeta"],
            "email": ['"quoted" & <b>@x.io', "a@acme.io", "b@beta.io", "g@g.io", "d@d.io", "e@e.io", "z@z.io"],
        }
    )


def test_lead_frames_hand_computed(vl_schema):
    from rfm.leads import GRADES, LEVELS, STAGES, TIERS

    matrix = L.matrix_frame(lead_frame(), GRADES, LEVELS)
    assert matrix.height == 16
    counts = {(g, lvl): n for g, lvl, n in matrix.select("fit_grade", "engagement_level", "leads").iter_rows()}
    assert counts == {
        **{(g, lvl): 0 for g in GRADES for lvl in LEVELS},
        ("A", 1): 2,
        ("B", 2): 1,
        ("D", 4): 2,
        ("D", 3): 1,
        ("C", 2): 1,
    }
    assert_frame_equal(
        L.tiers_frame(lead_frame(), TIERS),
        pl.DataFrame({"tier": ["hot", "warm", "cold"], "leads": [2, 2, 3], "share": [2 / 7, 2 / 7, 3 / 7]}),
        check_dtypes=False,
    )
    # reached a stage = at it or beyond: contact 7, marketing_qualified 5, sales_qualified 4, opportunity 1
    assert_frame_equal(
        L.funnel_frame(lead_frame(), STAGES),
        pl.DataFrame({"stage": list(STAGES), "leads": [7, 5, 4, 1], "share": [1.0, 5 / 7, 4 / 7, 1 / 7]}),
    )
    spec = final_spec(L.lead_matrix(matrix))
    validate(spec, vl_schema)
    assert len(rows(spec)) == 16
    assert spec["layer"][0]["encoding"]["y"]["title"] == "Fit grade (A = best fit)"
    tiers = pl.DataFrame(
        {
            "tier": ["hot", "warm", "cold"],
            "leads": [10, 20, 70],
            "conversions": [5, 4, 3],
            "conversion_rate": [0.5, 0.2, 3 / 70],
            "lift": [4.2, 1.7, 0.36],
        }
    )
    spec = final_spec(L.tier_conversion(tiers, base_rate=0.12))
    validate(spec, vl_schema)
    assert spec["layer"][1]["encoding"]["x"] == {"datum": 0.12}
    assert spec["title"]["subtitle"] == "dashed line: all leads (12.00%)"


# --- aggregates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "lo", "p01", "p99", "bins", "expected"),
    [
        ("frequency", 1, 1, 25, 30, (1.0, 1.0, 25)),  # one bar per order count
        ("recency_days", 0, 2, 1000, 30, (0.0, 50.0, 21)),  # 1001 days / 30 -> 33.4 -> nice 50
        ("monetary", 0.0, 3.0, 2600.0, 30, (0.0, 100.0, 26)),  # 2600 / 30 = 86.7 -> 100
        ("monetary", -500.0, -40.0, 2600.0, 30, (-100.0, 100.0, 27)),  # refunds: start at the 1st percentile
    ],
)
def test_histogram_bins(metric, lo, p01, p99, bins, expected):
    assert D.histogram_bins(metric, lo, p01, p99, bins) == expected


def tiny_data(values: list[int]) -> D.ReportData:
    engine = Engine()
    customers = engine.register(
        pl.DataFrame({"frequency": values, "recency_days": 1, "monetary": 1.0}), label="report_customers"
    )
    grid = engine.register(pl.DataFrame({"segment": SEGMENTS, "segment_order": range(len(SEGMENTS))}), label="grid")
    return D.ReportData(engine, customers, grid, date(2025, 1, 1), 5, SEGMENTS, "Other", ["retain"], False, 90)


def test_histogram_counts_hand_computed():
    # values 1,1,1,2,3,10: p99 = 3 + 0.95 * 7 = 9.65 -> 10 bins of 1 from 1; 10 falls in the last bin
    hist = tiny_data([1, 1, 1, 2, 3, 10]).histogram("frequency", 30)
    assert hist.frame["customers"].to_list() == [3, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    assert hist.frame["label"].to_list() == [str(i) for i in range(1, 11)]
    assert (hist.frame["bin_start"][0], hist.frame["bin_end"][0]) == (0.5, 1.5)
    assert not hist.clipped_high and hist.note() == ""
    # 100 orders is beyond the 99th percentile: counted in the last bar, labelled "or more"
    hist = tiny_data([1] * 200 + [2] * 50 + [100]).histogram("frequency", 30)
    assert hist.frame["customers"].sum() == 251 and hist.frame["customers"][-1] == 51
    assert hist.frame["label"][-1] == "2 or more" and hist.note() == "the last bar also holds the top 1%"


def test_aggregates_match_the_customer_table(demo):
    orders, scores = demo
    data = D.ReportData.capture(orders, scores, recent_days=365)
    table = scores.table
    expected = (
        table.group_by("r_score", "f_score")
        .agg(pl.len().alias("customers"), pl.col("monetary").mean().alias("mean_monetary"))
        .sort("r_score", "f_score")
    )
    grid = data.rf_grid
    assert grid.height == 25
    got = grid.filter(pl.col("customers") > 0).select("r_score", "f_score", "customers", "mean_monetary")
    assert_frame_equal(got.sort("r_score", "f_score"), expected, check_dtypes=False)
    assert_frame_equal(
        data.segments.select("segment", "action", "customers", "revenue"),
        scores.segment_summary().select("segment", "action", "customers", "revenue"),
        check_dtypes=False,
    )
    head = data.headline(365)
    assert head["customers"] == table.height
    assert head["active_customers"] == table.filter(pl.col("recency_days") <= 365).height
    assert head["revenue"] == pytest.approx(float(table["net"].sum()))
    for metric in ("recency_days", "frequency", "monetary"):
        assert data.histogram(metric, 30).frame["customers"].sum() == table.height


def test_migration_counts_and_restored_scores(demo, tmp_path):
    orders, scores = demo
    before_summary = scores.segment_summary()
    paths = write_report("churn", orders, scores, out=tmp_path / "churn.html", compare_as_of="2024-07-01")
    page = paths[0].read_text()
    spec = next(s for cid, s in specs_of(page).items() if cid.endswith("-migration"))
    cells = pl.DataFrame(rows(spec))
    assert cells["customers"].sum() == scores.stats.customers
    new = cells.filter(pl.col("from_segment") == D.NEW_CUSTOMERS)["customers"].sum()
    assert new == scores.table.filter(pl.col("first_order_date") > date(2024, 7, 1)).height
    assert all(abs(s - 1) < 1e-9 for s in cells.group_by("from_segment").agg(pl.col("row_share").sum())["row_share"])
    # the caller's scores still answer for the as-of date
    assert_frame_equal(scores.segment_summary(), before_summary)
    assert scores.table["as_of"].unique().to_list() == [scores.as_of]


# --- built reports -------------------------------------------------------------------------


def test_every_chart_validates_and_renders(built, vl_schema):
    """Schema-valid, and drawn by the Vega runtime (vl-convert) without an expression error."""
    for kind in KINDS:
        specs = specs_of(html_of(built, kind))
        assert specs, kind
        for cid, spec in specs.items():
            validate(spec, vl_schema)
            svg = vlc.vegalite_to_svg(spec)
            assert svg.startswith("<svg") and "<text" in svg, cid


def test_chart_blocks_match_the_definitions(built):
    for kind, expected in {
        "segments": [
            "sizes-segment_customers",
            "sizes-segment_revenue_share",
            "grid-rf_heatmap",
            "grid-rf_segments",
            "distributions-recency_histogram",
            "distributions-frequency_histogram",
            "distributions-monetary_histogram",
            "leads-lead_matrix",
            "leads-lead_tiers",
            "leads-lead_funnel",
        ],
        "churn": [
            "risk-churn_risk_by_segment",
            "risk-revenue_at_risk",
            "migration-migration",
            "backtest-backtest_transactions",
            "backtest-auc",
            "backtest-gains_risk",
            "backtest-gains_clv",
            "backtest-repurchase_by_segment",
        ],
    }.items():
        assert list(specs_of(html_of(built, kind))) == expected
    campaign = list(specs_of(html_of(built, "campaign")))
    assert campaign == [
        "overview-action_customers",
        "overview-action_value",
        "action-reactivate-action_segments",
        "action-upsell-action_segments",
        "action-retain-action_segments",
        "action-nurture-action_segments",
    ]
    # without outcomes / a catalogue the page says why, instead of drawing nothing
    assert "No outcomes given: pass --outcomes to see conversion by tier." in html_of(built, "segments")
    assert "No offer catalogue configured: pass --offers catalogue.yaml" in html_of(built, "campaign")


def test_segment_colours_are_the_same_in_every_chart(built, demo):
    _, scores = demo
    scales = []
    for kind in KINDS:
        for spec in specs_of(html_of(built, kind)).values():
            for unit in [spec, *spec.get("layer", [])]:
                color = unit.get("encoding", {}).get("color", {})
                if color.get("field") == "segment":
                    scales.append(color["scale"])
    assert len(scales) >= 8
    order = scores.ruleset.segment_order
    expected = dict(zip(order, [*C.SEGMENT_PALETTE[: len(order) - 1], C.OTHER_COLOR]))
    # a scale may list fewer segments (a legend lists only those present), never another colour
    assert all(dict(zip(scale["domain"], scale["range"])).items() <= expected.items() for scale in scales)
    assert any(scale["domain"] == order for scale in scales)


def test_every_mark_has_a_tooltip(built):
    """Every mark of every chart (reference lines included) says what it is on hover."""
    missing = []
    for kind in KINDS:
        for cid, spec in specs_of(html_of(built, kind)).items():
            for unit in spec.get("layer") or [spec]:
                mark = unit.get("mark")
                if not ("tooltip" in spec.get("encoding", {}) or "tooltip" in unit.get("encoding", {})
                        or (isinstance(mark, dict) and mark.get("tooltip"))):
                    missing.append((cid, mark))
    assert missing == []


def test_html_is_self_contained(built):
    from rfm.reporting._html import vega_bundle

    bundle = vega_bundle()
    for kind in KINDS:
        page = html_of(built, kind)
        assert bundle in page
        assert "window.vegaEmbed=" in bundle and "window.vega=" in bundle and "window.vegaLite=" in bundle
        assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
        assert not re.search(r"<link\b", page, re.IGNORECASE)
        assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
        (csp,) = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
        assert "default-src 'none'" in html.unescape(csp) and "connect-src 'none'" in html.unescape(csp)
        outside = page.replace(bundle, "")
        assert "http://" not in outside and "https://" not in outside
        assert set(re.findall(r"https?://[^\s\"'`)]+", bundle)) <= BUNDLE_URLS
    assert 0.8e6 < len(html_of(built, "segments")) < 1.5e6


def test_campaign_lists_are_written_beside_the_report(built, demo):
    _out, files = built
    _, scores = demo
    csvs = [p for p in files["campaign"] if p.suffix == ".csv"]
    assert [p.name for p in csvs] == [f"campaign.{a}.csv" for a in ("reactivate", "upsell", "retain", "nurture")]
    table = scores.table
    for path in csvs:
        action = path.stem.split(".")[1]
        frame = pl.read_csv(path)
        assert frame.height == table.filter(pl.col("action") == action).height
        assert frame["clv"].to_list() == sorted(frame["clv"].to_list(), reverse=True)
        assert frame.columns[:3] == ["customer_id", "segment", "action"]
        assert f'<a href="{path.name}">{path.name}</a>' in html_of(built, "campaign")
    # previews: the top rows only
    from rfm.reporting._html import vega_bundle

    page = html_of(built, "campaign").replace(vega_bundle(), "")
    assert page.count("<tr>") == 4 * (1 + 15)  # header + 15 customers per list


def test_campaign_with_offers(tmp_path):
    orders = Orders(DEMO_ORDERS, demo_config())
    scores = orders.score()
    catalogue = {
        "offers": [
            {"id": "books", "name": "Book <bundle>", "categories": ["Books"], "price": 30},
            {"id": "music", "name": "Music box", "categories": ["Music"], "price": 40},
        ]
    }
    page = write_report("campaign", orders, scores, out=tmp_path / "c.html", offers=catalogue)[0].read_text()
    specs = specs_of(page)
    offers = [s for cid, s in specs.items() if cid.endswith("top_offers")]
    assert len(offers) == 4
    names = {r["offer"] for s in offers for r in rows(s)}
    assert names <= {"Book <bundle>", "Music box"}
    assert "Book &lt;bundle&gt;" in page and "Book <bundle>" not in page
    lists = pl.read_csv(tmp_path / "c.retain.csv")
    assert set(lists["next_best_offer"].drop_nulls()) <= {"books", "music"}


def test_customer_text_is_escaped(tmp_path):
    """Hostile customer ids and segment names: escaped in tables, inert in the JSON blocks."""
    evil_id, quoted = "<script>alert(1)</script>", '"quoted" & <b>'
    segment = 'Top </script><b>"&'
    frame = pl.DataFrame(
        {
            "customer_id": [evil_id, quoted, "c3"],
            "order_id": ["o1", "o2", "o3"],
            "order_date": [date(2024, 12, 1), date(2024, 6, 1), date(2023, 1, 1)],
            "amount": [100.0, 50.0, 20.0],
        }
    )
    config = {
        "scoring": {"bins": 2},
        "segments": {
            "rules": [{"name": segment, "action": "retain", "r": 2}],
            "other": {"name": "Rest", "action": "reactivate"},
        },
    }
    orders = Orders(frame, config)
    scores = orders.score()
    page = write_report(
        "campaign", orders, scores, out=tmp_path / "c.html", leads=Leads(lead_frame(), date(2024, 7, 1))
    )[0].read_text()
    for raw in (evil_id, quoted, segment, "<img src=x onerror=alert(1)>", "<b>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert page.lower().count("</script>") == page.lower().count("<script")
    # the JSON blocks hold the names \u003c-escaped and give them back unchanged
    assert 'Top \\u003c/script\\u003e\\u003cb\\u003e\\"\\u0026' in page
    specs = specs_of(page)
    segs = {r["segment"] for s in specs.values() for r in rows(s) if "segment" in r}
    assert segment in segs
    assert json.loads(spec_json({"x": segment})) == {"x": segment}


def test_html_size_does_not_grow_with_customers(tmp_path):
    from rfm.synthetic import generate_frame

    sizes = {}
    for n in (2_000, 50_000):
        orders = Orders(generate_frame(customers=n, orders=3 * n, seed=1), {"churn": {"method": "recency_ratio"}})
        scores = orders.score()
        path = write_report("campaign", orders, scores, out=tmp_path / f"c{n}.html")[0]
        sizes[n] = path.stat().st_size
        assert scores.stats.customers > 0.9 * n
    # 25x the customers: only digits in tables and tooltips change
    assert abs(sizes[50_000] - sizes[2_000]) < 20_000, sizes


def test_png_and_svg_export(demo, tmp_path):
    orders, scores = demo
    paths = write_report("segments", orders, scores, out=tmp_path / "s.html", png=True, svg=True)
    pngs = [p for p in paths if p.suffix == ".png"]
    svgs = [p for p in paths if p.suffix == ".svg"]
    assert len(pngs) == len(svgs) == 7
    assert pngs[0].name == "s.sizes-segment_customers.png"
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert all(p.read_text().startswith("<svg") for p in svgs)


# --- definitions and errors ------------------------------------------------------------------


def test_shipped_definitions_load():
    for kind in (*KINDS, "leads"):
        assert load_definition(kind).sections


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "title: T\nsections: [{id: a, title: A, blocks: [{chart: rf_heatmapp}]}]",
            r'sections.0 \(a\): blocks.0: unknown chart "rf_heatmapp"; did you mean "rf_heatmap"\?',
        ),
        (
            "title: T\nsections: [{id: a, title: A}]\nsectoins: []",
            r'unknown key "sectoins" in the top level; did you mean "sections"\?',
        ),
        (
            "title: T\nsections: [{id: a, title: 'As of {asof}'}]",
            r'sections.0 \(a\): unknown placeholder "\{asof\}"; did you mean "as_of"\?',
        ),
        (
            "title: T\nheadline: [revenu]\nsections: [{id: a, title: A}]",
            r'headline: unknown figure "revenu"; did you mean "revenue"\?',
        ),
        (
            "title: T\nsections: [{id: a, title: A, blocks: [{chart: rf_heatmap, table: segment_table}]}]",
            r"a block names exactly one of chart: or table:",
        ),
    ],
)
def test_bad_definitions(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_definition(path)


def test_run_report_errors(tmp_path):
    with pytest.raises(ConfigError, match=r'report "segmets": no such report; did you mean "segments"\?'):
        run_report("segmets", DEMO_ORDERS, out=tmp_path / "r.html")
    with pytest.raises(InputError, match=r"r.pdf: cannot write .pdf; use .html"):
        run_report("segments", DEMO_ORDERS, out=tmp_path / "r.pdf")
    with pytest.raises(InputError, match=r"directory .*nowhere does not exist; create it first"):
        run_report("segments", DEMO_ORDERS, out=tmp_path / "nowhere" / "r.html")
    with pytest.raises(InputError, match=r"^--leads and --events go together"):
        run_report("segments", DEMO_ORDERS, out=tmp_path / "r.html", leads=LEADS_DIR / "leads.csv")
    assert not (tmp_path / "r.html").exists()


def test_run_report_churn_with_backtest_and_notes(tmp_path):
    paths = run_report("churn", DEMO_ORDERS, config={"churn": {"method": "none"}}, out=tmp_path / "churn.html")
    page = paths[0].read_text()
    assert "this report scored with churn.method auto" in page
    assert "Scored as of 2024-10-03 and compared with the orders up to 2025-01-01." in page
    specs = specs_of(page)
    tx = next(s for cid, s in specs.items() if cid.endswith("backtest_transactions"))
    assert len(rows(tx)) == 8 * 3  # actual, the method that scored (bgnbd) and the recency_ratio baseline
    # a calibration end with no holdout: the backtest is skipped with the reason, the rest is drawn
    page = run_report(
        "churn", DEMO_ORDERS, config=DEMO_CONFIG, out=tmp_path / "late.html", calibration_end="2024-12-31"
    )[0].read_text()
    assert "Backtest skipped: " in page and "leaves no holdout" in page
    assert any(cid.endswith("-migration") for cid in specs_of(page))
    page = run_report("churn", DEMO_ORDERS, config=DEMO_CONFIG, out=tmp_path / "nb.html", backtest=False)[0].read_text()
    assert "Backtest left out (--no-backtest)." in page
    assert not any(cid.startswith("backtest-") for cid in specs_of(page))


def test_vega_bundle_is_kept_on_disk_and_rebuilt_when_unusable(tmp_path, monkeypatch):
    from rfm.reporting import _html

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    _html.vega_bundle.cache_clear()
    try:
        import hashlib

        def sealed(text: str) -> str:
            return f"/* rfm cache sha256:{hashlib.sha256(text.encode()).hexdigest()} */\n{text}"

        built = _html.vega_bundle()
        kept = list((tmp_path / "rfm").glob("vega-bundle-vlc*-vl*.js"))
        assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == sealed(built)
        marked = built.replace("vega", "VEGA-FROM-CACHE", 1)  # a cached copy is what the next process reads
        kept[0].write_text(sealed(marked), encoding="utf-8")
        _html.vega_bundle.cache_clear()
        assert _html.vega_bundle() == marked
        for damaged in (sealed(built)[:500_000], sealed(built).replace("vega", "VEGA", 1), "<!-- not a bundle -->"):
            kept[0].write_text(damaged, encoding="utf-8")  # cut short, edited, or not a bundle: built again
            _html.vega_bundle.cache_clear()
            assert _html.vega_bundle() == built and kept[0].read_text(encoding="utf-8") == sealed(built)
    finally:
        _html.vega_bundle.cache_clear()


def test_churn_report_with_propensity_makes_up_no_p_alive(tmp_path):
    """The learned propensity predicts orders, not P(alive): "likely gone" says so instead of counting
    0 customers below a P(alive) that does not exist.  Revenue at risk needs no P(alive): it is the sum
    over customers of churn_risk / 100 x clv, recomputed here from the scores."""
    config = {"churn": {"method": "propensity"}}
    page = run_report("churn", DEMO_ORDERS, config=config, out=tmp_path / "p.html", backtest=False)[0].read_text()
    cards = dict((label, (value, note)) for label, value, note in re.findall(
        r'<div class="card"><div class="label">(.*?)</div><div class="value">(.*?)</div>'
        r'<div class="note">(.*?)</div></div>', page))
    assert cards["Churn model"][0] == "propensity"
    assert cards["Likely gone"] == ("n/a", "churn.method propensity does not model P(alive); see the churn risk")
    with Orders(DEMO_ORDERS, config) as orders:
        table = orders.score(churn="propensity").table
    at_risk = float((table["churn_risk"] / 100 * table["clv"]).sum())
    share = at_risk / float(table["clv"].sum())
    assert at_risk > 0
    assert cards["Revenue at risk"] == (
        f"{at_risk:,.0f}",
        f"{share:.1%} of the 12-month expected value, weighted by each customer&#x27;s chance of no order in 90 days",
    )
    assert float(cards["Mean churn risk"][0]) > 0


def test_demo_writes_every_report(demo_reports):
    assert sorted(demo_reports) == sorted(
        [
            "scores.parquet",
            "scores.csv",
            "scoring.json",
            "scores.churn.json",
            "offers.csv",
            "segments.csv",
            "segments.html",
            "campaign.html",
            "churn.html",
            "campaign.reactivate.csv",
            "campaign.upsell.csv",
            "campaign.retain.csv",
            "campaign.nurture.csv",
            "leads.parquet",
            "events.parquet",
            "outcomes.parquet",
            "rfm-run.json",
        ]
    )
    campaign = demo_reports["campaign.html"].read_text(encoding="utf-8")
    charts = list(specs_of(campaign))
    # offers from the demo catalogue, and the leads section with conversion by tier after calibration
    assert sum(cid.endswith("-top_offers") for cid in charts) == 4
    assert {"leads-lead_matrix", "leads-tier_conversion"} <= set(charts)
    churn = demo_reports["churn.html"].read_text(encoding="utf-8")
    assert "Backtest skipped" not in churn and "backtest-gains_clv" in specs_of(churn)


def test_campaign_lists_do_not_carry_spreadsheet_formulas(tmp_path):
    """Customer ids that a spreadsheet would run (=, +, -, @) are written as text: prefixed with '."""
    hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+1-2", "@SUM(A1)", "-5", "plain"]
    frame = pl.DataFrame(
        {
            "customer_id": hostile,
            "order_id": [f"o{i}" for i in range(5)],
            "order_date": [date(2024, 1, 1 + i) for i in range(5)],
            "amount": [10.0, 20.0, 30.0, 40.0, 50.0],
        }
    )
    config = {"scoring": {"bins": 2}, "segments": {"rules": [{"name": "All", "action": "retain"}]}}
    orders = Orders(frame, config)
    files = write_report("campaign", orders, orders.score(), out=tmp_path / "c.html")
    (csv,) = [p for p in files if p.name.endswith(".retain.csv")]
    written = pl.read_csv(csv, infer_schema=False)["customer_id"].to_list()
    assert sorted(written) == sorted(["'" + h for h in hostile[:4]] + ["plain"])
