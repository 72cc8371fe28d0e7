"""Reports an analyst can mail (issue 17): no machine paths, money in its currency and the reader's
locale, only what exists, campaign value without asking, one line for an empty list, a churn page
that reads right.  Exact strings are built by hand from the scores, not copied from a run."""

from __future__ import annotations

import html
import json
import re
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from rfm.cli import main
from rfm.errors import ConfigError
from rfm.pipeline import Orders
from rfm.reporting import _backtest_charts as B
from rfm.reporting import final_spec, run_job, run_report
from rfm.reporting._numbers import Numbers
from tests.conftest import CDNOW, CDNOW_CONFIG

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORDERS = ROOT / "rfm" / "data" / "demo_orders.csv"
NNBSP, NBSP = "\u202f", "\xa0"


def d3(value: float, digits: int) -> str:
    """``value`` as d3-format's ``,.Nf`` writes it: halves away from zero on the binary value."""
    rounded = Decimal(abs(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return ("-" if value < 0 and rounded else "") + f"{rounded:,.{digits}f}"


def cards(page: str) -> dict[str, tuple[str, str]]:
    """Label -> (value, note) of the page's cards; the headline's first when a label repeats."""
    found: dict[str, tuple[str, str]] = {}
    for label, value, note in re.findall(
        r'<div class="card"><div class="label">(.*?)</div><div class="value">(.*?)</div>'
        r'<div class="note">(.*?)</div></div>', page):
        found.setdefault(label, (value, note))
    return found


def specs(page: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', page, re.DOTALL)
    return {cid: json.loads(text) for cid, text in found}


def table_rows(page: str, first_header: str) -> list[list[str]]:
    """The body cells of the first table whose first header is ``first_header``."""
    table = re.search(rf"<table><thead><tr><th[^>]*>{first_header}</th>.*?</table>", page, re.DOTALL)
    assert table, first_header
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(0))[1:]]


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "locale", "amount", "digits", "expected"),
    [
        (None, "en", 1234.5, 2, "1,234.50"),
        ("EUR", "en", 1234.5, 2, "€1,234.50"),
        ("EUR", "en", -1234.5, 0, "-€1,235"),  # an exact half rounds away from zero, as d3 / toFixed do
        ("EUR", "en", 2.5, 0, "€3"),
        ("EUR", "en", 455.455, 2, "€455.45"),  # 455.455 is 455.45499... in binary: toFixed gives .45
        ("EUR", "fr", 1234.5, 2, f"1{NNBSP}234,50{NBSP}€"),
        ("EUR", "de", 1234567.891, 2, f"1.234.567,89{NBSP}€"),
        ("GBP", "en_GB", 0.4, 0, "£0"),
        ("USD", "en", -0.4, 0, "$0"),  # no "-0"
        ("CHF", "de_CH", 1234.5, 2, f"CHF{NBSP}1'234.50"),
    ],
)
def test_money_follows_cldr(currency, locale, amount, digits, expected):
    assert Numbers(currency, locale).money(amount, digits) == expected


def test_vega_locale_carries_the_same_marks_as_python():
    fr = Numbers("EUR", "fr").vega_locale()["number"]
    assert fr == {"decimal": ",", "thousands": NNBSP, "grouping": [3], "currency": ["", f"{NBSP}€"], "minus": "-"}
    assert Numbers(None, "en").vega_locale()["number"]["currency"] == ["", ""]
    assert Numbers("EUR", "fr").number("{:,.1f}")(12345.67) == f"12{NNBSP}345,7"
    assert Numbers("USD", "de").number("{:.1%}")(0.1234) == "12,3%"
    assert Numbers().number("{:.1f}")(0.25) == "0.3" and Numbers().number("{:.0%}")(0.125) == "13%"  # halves up


def test_money_formats_in_charts_use_the_locale_currency():
    frame = pl.DataFrame({"series": ["bgnbd"] * 2, "share_customers": [0.5, 1.0], "share_captured": [0.7, 1.0]})
    spec = final_spec(B.gains_curve(frame, B.method_colors(["bgnbd"]), y_title="y", title="t"), Numbers("EUR", "fr"))
    assert spec["config"]["locale"]["number"]["currency"] == ["", f"{NBSP}€"]
    # the gains axes end at 100 %, not at a rounded-up 110 %
    assert spec["encoding"]["x"]["scale"] == {"domain": [0, 1], "nice": False}
    assert spec["encoding"]["y"]["scale"] == {"domain": [0, 1.0], "nice": False}


# --- reports ---------------------------------------------------------------------------


def test_currency_and_locale_reach_cards_tables_and_charts(tmp_path):
    config = {"report": {"currency": "EUR", "locale": "fr"}}
    page = run_report("segments", DEMO_ORDERS, config=config, out=tmp_path / "s.html")[0].read_text()
    with Orders(DEMO_ORDERS, config) as orders:
        table = orders.score().table
    revenue = float(table["net"].sum())
    by_hand = d3(revenue, 0).replace(",", NNBSP) + f"{NBSP}€"
    assert cards(page)["Revenue (net)"][0] == by_hand
    champions = table.filter(pl.col("segment") == "Champions")
    median = float(champions["monetary"].median())
    row = next(r for r in table_rows(page, "Segment") if r[0] == "Champions")
    assert row[-1] == d3(median, 2).replace(",", " ").replace(".", ",").replace(" ", NNBSP) + f"{NBSP}€"
    assert row[-2] == f"{float(champions['frequency'].median()):,.10g}"  # an order count prints 5, not 5.0
    for spec in specs(page).values():
        assert spec["config"]["locale"]["number"]["currency"] == ["", f"{NBSP}€"]
    formats = {t.get("format") for s in specs(page).values() for u in [s, *s.get("layer", [])]
               for t in u.get("encoding", {}).get("tooltip", []) if t.get("field") in ("revenue", "mean_monetary")}
    assert formats == {"$,.0f", "$,.2f"}
    assert "Amounts in EUR." in page


def test_bad_currency_or_locale_is_refused_before_anything_is_read(tmp_path, capsys):
    with pytest.raises(ConfigError, match=r'report\.currency: "EUX" is not an ISO 4217 currency code; use e\.g\. EUR'):
        run_report("segments", DEMO_ORDERS, config={"report": {"currency": "EUX"}}, out=tmp_path / "s.html")
    with pytest.raises(ConfigError, match=r'report\.locale: unknown locale "xx"; use a language code'):
        run_job(DEMO_ORDERS, tmp_path / "run", config={"report": {"locale": "xx"}})
    assert list(tmp_path.iterdir()) == []
    cfg = tmp_path / "c.yaml"
    cfg.write_text("report:\n  currency: eur\n")
    assert main(["report", "segments", str(DEMO_ORDERS), "-c", str(cfg), "-o", str(tmp_path / "s.html")]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "report.currency" in err[0] and "[A-Z]{3}" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_no_path_of_this_machine_in_any_report_or_list(tmp_path):
    """A mailed file names the input by its file name; no absolute path of the machine appears."""
    deep = tmp_path / "home" / "analyst" / "secret-project"
    deep.mkdir(parents=True)
    orders = shutil.copy(DEMO_ORDERS, deep / "orders.csv")
    config = deep / "config.yaml"
    config.write_text((ROOT / "rfm" / "presets" / "demo.yaml").read_text().replace(
        "offers: offers_demo.yaml", f"offers: {ROOT / 'rfm' / 'presets' / 'offers_demo.yaml'}"))
    job = run_job(orders, tmp_path / "out", config=config, title="ACME Ltd")
    mailed = [p for p in job.written if p.suffix in (".html", ".csv")]
    assert {p.name for p in mailed} >= {"segments.html", "campaign.html", "churn.html", "segments.csv"}
    for path in mailed:
        text = path.read_text(encoding="utf-8")
        for secret in (str(tmp_path), "secret-project", str(ROOT)):
            assert secret not in text, (path.name, secret)
    page = (tmp_path / "out" / "segments.html").read_text()
    assert "Made by rfm from orders.csv;" in page
    assert "<h1>ACME Ltd · Customer segments</h1>" in page and "<title>ACME Ltd · Customer segments</title>" in page


def test_campaign_report_scores_churn_itself_unless_told_not_to(tmp_path):
    page = run_report("campaign", DEMO_ORDERS, out=tmp_path / "c.html")[0].read_text()
    with Orders(DEMO_ORDERS) as orders:
        table = orders.score(churn="auto").table
    assert cards(page)["Expected value (CLV)"][0] == d3(float(table["clv"].sum()), 0)
    assert "Churn: the config sets no churn model, so this report scored with churn.method auto" in page
    page = run_report("campaign", DEMO_ORDERS, churn="none", out=tmp_path / "n.html")[0].read_text()
    assert cards(page)["Expected value (CLV)"][0] == "n/a"


def test_an_action_without_customers_is_one_line(tmp_path):
    """On CDNOW as of 1998-04-02 nobody is to upsell: one line, the (header-only) list named, no table."""
    written = run_report("campaign", CDNOW, config=CDNOW_CONFIG, as_of="1998-04-02", out=tmp_path / "c.html")
    page = written[0].read_text()
    section = re.search(r'<section id="action-upsell">(.*?)</section>', page, re.DOTALL).group(1)
    assert "No customer has the action upsell as of 1998-04-02; its list (c.upsell.csv) is empty." in section
    assert "<table" not in section and "<a " not in section and "chart" not in section
    assert (tmp_path / "c.upsell.csv").read_text().count("\n") == 1  # the header: a list tool gets an empty list


def test_churn_page_on_cdnow_reads_right(tmp_path):
    page = run_report("churn", CDNOW, config=CDNOW_CONFIG, as_of="1998-04-02", out=tmp_path / "c.html",
                      backtest=False)[0].read_text()
    with Orders(CDNOW, CDNOW_CONFIG) as orders:
        table = orders.score(as_of="1998-04-02", churn="auto").table
    # revenue at risk = sum of P(no order in the horizon) x expected value, in every segment
    risk = table.group_by("segment").agg((pl.col("churn_risk") / 100 * pl.col("clv")).sum().alias("at_risk"))
    assert risk["at_risk"].min() > 0
    rows = {r[0]: r for r in table_rows(page, "Segment")}
    for segment, at_risk in risk.iter_rows():
        assert rows[segment][5] == d3(at_risk, 0)
    # every CDNOW customer first bought in 1997 Q1: the migration has no "not a customer yet" row and
    # says nothing of one; its rows and columns are the segments that occur
    migration = next(s for cid, s in specs(page).items() if cid.startswith("migration"))
    assert "first order came" not in page
    present = set(table["segment"].to_list())
    assert set(migration["layer"][0]["encoding"]["x"]["sort"]) == present


# --- the charts in a notebook ------------------------------------------------------------


def test_notebook_charts_are_the_report_charts(tmp_path):
    """rfm.charts returns the very charts of the mailed report: the same spec, data and config."""
    import rfm

    config = {"report": {"currency": "EUR", "locale": "de"}, "churn": {"method": "bgnbd"}}
    with Orders(DEMO_ORDERS, config) as orders:
        scores = orders.score()
        charts = rfm.charts.segments(orders, scores)
        churn = rfm.charts.churn(orders, scores)
        from rfm.reporting import write_report

        page = write_report("segments", orders, scores, out=tmp_path / "s.html")[0].read_text()
    in_page = specs(page)
    assert list(charts) == ["segment_customers", "segment_revenue_share", "rf_heatmap", "rf_segments",
                            "recency_histogram", "frequency_histogram", "monetary_histogram"]
    for name, chart in charts.items():
        spec = chart.to_dict()
        spec.pop("$schema")
        (page_spec,) = [s for cid, s in in_page.items() if cid.endswith(f"-{name}")]
        assert spec == page_spec, name
    assert charts["rf_heatmap"].to_dict()["config"]["locale"]["number"]["currency"] == ["", f"{NBSP}€"]
    # a chart the scores cannot give is missing with its reason, and asking for it says so
    assert "backtest_transactions" not in churn and churn.notes["backtest_transactions"] == "No backtest in this run."
    with pytest.raises(KeyError, match="backtest_transactions: No backtest in this run"):
        churn["backtest_transactions"]


def test_no_folder_in_section_notes_either(tmp_path):
    """A note inside a section (the skipped backtest quotes the input error) names the file only,
    even when its folder holds spaces."""
    folder = tmp_path / "Jane Doe" / "acme"
    folder.mkdir(parents=True)
    orders = shutil.copy(DEMO_ORDERS, folder / "orders.csv")
    page = run_report("churn", orders, out=tmp_path / "c.html", calibration_end="2021-06-01")[0].read_text()
    assert "Backtest skipped: orders.csv: " in html.unescape(page)
    assert "Jane Doe" not in page and str(tmp_path) not in page
