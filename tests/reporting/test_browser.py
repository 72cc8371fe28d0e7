"""The reports in a real browser: headless Chromium (Debian's ``chromium``), offline.

For each report: a screenshot is taken, and the DOM after rendering is dumped
and checked: every chart div drew an ``<svg>``, vegaEmbed marked it rendered,
the page's own error box stayed empty, and nothing reached ``console.error``
/ ``console.warn``, ``window.onerror`` or the Content-Security-Policy (which
forbids every network request).  A small script injected at the top of
``<head>`` records those into an attribute the DOM dump shows.

Skipped when Chromium is not installed; ``.ci/run`` installs it, so CI runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and os.environ.get("RFM_REQUIRE_ENGINES"):  # CI: a real browser, never skipped
    raise RuntimeError("Chromium not installed and RFM_REQUIRE_ENGINES is set; .ci/run installs it")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium); .ci/run installs it"
)

#: Records console errors/warnings, uncaught errors and CSP violations on <html data-console>.
CONSOLE_HOOK = """<script>(function () {
  var log = [];
  function keep(kind, args) {
    log.push(kind + ": " + Array.prototype.map.call(args, String).join(" "));
    document.documentElement.setAttribute("data-console", JSON.stringify(log));
  }
  var error = console.error, warn = console.warn;
  console.error = function () { keep("console.error", arguments); error.apply(console, arguments); };
  console.warn = function () { keep("console.warn", arguments); warn.apply(console, arguments); };
  window.addEventListener("error", function (e) { keep("uncaught", [e.message]); });
  window.addEventListener("unhandledrejection", function (e) { keep("unhandled rejection", [e.reason]); });
  document.addEventListener("securitypolicyviolation", function (e) {
    keep("CSP violation", [e.violatedDirective, e.blockedURI]);
  });
  document.documentElement.setAttribute("data-console", "[]");
})();</script>"""

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=15000",
]


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def reports(demo_reports):  # noqa: F811 - the imported fixture
    """The demo reports: every chart kind, with offers, the leads section and a real backtest."""
    return {kind: demo_reports[f"{kind}.html"] for kind in ("segments", "campaign", "churn")}


@pytest.mark.parametrize("kind", ["segments", "campaign", "churn"])
def test_report_renders_in_chromium(reports, kind, tmp_path):
    page = reports[kind]
    html = page.read_text(encoding="utf-8")
    charts = re.findall(r'<div class="chart" id="([^"]+)"', html)
    assert charts
    hooked = page.with_name(f"{page.stem}.hooked.html")
    hooked.write_text(html.replace("<head>", "<head>\n" + CONSOLE_HOOK, 1), encoding="utf-8")

    shot = tmp_path / f"{kind}.png"
    result = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", hooked.as_uri())
    assert shot.exists(), result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000

    dom = chromium(tmp_path, "--dump-dom", hooked.as_uri()).stdout
    assert 'data-charts-done="true"' in dom, "vegaEmbed did not finish within the time budget"
    console = json.loads(re.search(r'<html[^>]*data-console="([^"]*)"', dom).group(1).replace("&quot;", '"'))
    assert console == []
    assert re.search(r'<div id="rfm-errors" hidden="">', dom), "the page's error box is showing"
    for cid in charts:
        match = re.search(rf'<div class="chart[^"]*" id="{re.escape(cid)}"[^>]*>(.*?)</div>', dom, re.DOTALL)
        assert match, cid
        tag = match.group(0)
        assert 'data-rendered="true"' in tag, f"{cid}: {tag[:300]}"
        assert re.search(r"<svg\b", match.group(1)), f"{cid} drew no SVG"
    assert len(re.findall(r'data-rendered="true"', dom)) == len(charts)


def test_browser_check_catches_a_broken_chart(reports, tmp_path):
    """Negative control: a chart whose expression Vega cannot parse is reported, not silently blank."""
    html = reports["segments"].read_text(encoding="utf-8")
    broken = html.replace('"test":"datum.dark', '"test":"nosuchfunction() || datum.dark', 1)
    assert broken != html
    page = tmp_path / "broken.html"
    page.write_text(broken.replace("<head>", "<head>\n" + CONSOLE_HOOK, 1), encoding="utf-8")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert 'data-charts-done="true"' in dom
    assert re.search(r'<div class="chart[^"]*" id="grid-rf_heatmap"[^>]*data-rendered="error"', dom)
    errors = re.search(r'<div id="rfm-errors">(.*?)</div>', dom, re.DOTALL)
    assert errors and "Chart grid-rf_heatmap" in errors.group(1) and "nosuchfunction" in errors.group(1)
    assert len(re.findall(r'data-rendered="true"', dom)) == len(re.findall(r'<div class="chart"', html)) - 1


def test_a_segment_is_highlighted_in_every_chart(reports, tmp_path):
    """#segment=Champions highlights Champions in every chart coloured by segment: each other
    segment's bar and grid cell is dimmed, nothing else (legend symbols keep their colour)."""
    page = reports["segments"]
    html = page.read_text(encoding="utf-8")
    specs = {cid: json.loads(text) for cid, text in
             re.findall(r'<script type="application/json" id="([^"]+)-spec">(.*?)</script>', html, re.DOTALL)}
    linked = {cid: s for cid, s in specs.items() if any(p["name"] == "highlight" for p in s.get("params", []))}
    assert sorted(linked) == ["grid-rf_segments", "sizes-segment_customers", "sizes-segment_revenue_share"]

    def rows(spec):
        (values,) = [v for k, v in spec["datasets"].items() if k != "empty"]
        return values

    others = sum(r["segment"] != "Champions" for s in linked.values() for r in rows(s))
    assert others > 10
    dom = chromium(tmp_path, "--dump-dom", page.as_uri() + "#segment=Champions").stdout
    assert 'data-charts-done="true"' in dom and 'data-highlight="Champions"' in dom
    assert len(re.findall(r'opacity="0.2"', dom)) == others
    plain = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout  # negative control: no highlight, no dimming
    assert 'data-charts-done="true"' in plain and 'opacity="0.2"' not in plain
