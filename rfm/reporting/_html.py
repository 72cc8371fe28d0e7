"""Page assembly: one self-contained HTML file per report.

The Vega, Vega-Lite and vega-embed JavaScript comes inlined from
``vl_convert.javascript_bundle()``; each chart spec sits in a
``<script type="application/json">`` block (with ``<``, ``>`` and ``&``
escaped as ``\\u003c`` etc., so customer text can never close the script) and
is drawn by vegaEmbed.  Every other text goes through :func:`html.escape`.
A Content-Security-Policy allows no network access at all, so the page works
offline and cannot phone home; script errors are shown in a box at the top.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import vl_convert as vlc

from rfm.reporting._blocks import Figure, Note, Table

#: No fetches, frames, fonts or images from anywhere; inline scripts and styles only.
#: Vega compiles expressions with ``new Function`` ('unsafe-eval').
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass
class ChartItem:
    id: str
    name: str
    spec: dict[str, Any]
    text: str = ""


@dataclass
class TableItem:
    table: Table
    text: str = ""


@dataclass
class NoteItem:
    note: Note
    title: str = ""


@dataclass
class SectionOut:
    id: str
    title: str
    text: str = ""
    columns: int = 1
    figures: list[Figure] = field(default_factory=list)
    items: list[ChartItem | TableItem | NoteItem] = field(default_factory=list)


@dataclass
class Page:
    title: str
    subtitle: str
    intro: str
    headline: list[Figure]
    sections: list[SectionOut]
    footer: str = ""
    notes: list[str] = field(default_factory=list)

    def charts(self) -> list[ChartItem]:
        return [item for s in self.sections for item in s.items if isinstance(item, ChartItem)]


@cache
def vega_bundle() -> str:
    """vega + vega-lite + vega-embed as one script (matching Altair's Vega-Lite version when available).

    Building it takes vl-convert about a second; it is built once per process and kept on disk
    (``$XDG_CACHE_HOME/rfm``, else ``~/.cache/rfm``) under the vl-convert and Vega-Lite versions, with
    its sha256 on the first line, so the next command reuses it and a damaged copy is built again.  A
    cache that cannot be read or written is simply not used."""
    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    version = wanted if wanted in vlc.get_vegalite_versions() else None
    path = _cache_dir() / f"vega-bundle-vlc{getattr(vlc, '__version__', 'unknown')}-vl{version or 'default'}.js"
    bundle = _cached(path)
    if not _inlinable(bundle):  # absent, damaged, or not a bundle that can sit in a page: built again
        bundle = vlc.javascript_bundle(vl_version=version)
        _keep(path, f"{_SEAL}{hashlib.sha256(bundle.encode()).hexdigest()} */\n{bundle}")
    if not _inlinable(bundle):
        raise RuntimeError("the Vega bundle contains '</script' or '<!--' and cannot be inlined")
    return bundle


_SEAL = "/* rfm cache sha256:"


def _cached(path: Path) -> str:
    """The bundle kept at ``path`` if its first line's sha256 matches the rest (a cut-short or edited
    copy does not), else ""."""
    try:
        head, _, bundle = path.read_text(encoding="utf-8").partition("\n")
    except (OSError, UnicodeDecodeError):
        return ""
    ok = head.startswith(_SEAL) and head[len(_SEAL):].removesuffix(" */") == hashlib.sha256(bundle.encode()).hexdigest()
    return bundle if ok else ""


def _inlinable(bundle: str) -> bool:
    return len(bundle) > 100_000 and "</script" not in bundle.lower() and "<!--" not in bundle


def _keep(path: Path, text: str) -> None:
    """Write a cache file atomically, outside the run's outputs (it is not one: it lands even when the
    run fails, and two reports of one run may both want it)."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rfm"


def library_versions() -> str:
    return (
        f"Vega {vlc.get_vega_version()}, Vega-Lite {vega_lite_version()}, "
        f"vega-embed {vlc.get_vega_embed_version()} (inlined)"
    )


def vega_lite_version() -> str:
    return alt.SCHEMA_VERSION.lstrip("v")


def spec_json(spec: dict[str, Any]) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` survive."""
    text = json.dumps(spec, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.strip().split("\n\n") if p.strip()]
    return "".join(f"<p>{esc(' '.join(p.split()))}</p>" for p in parts)


def cell(value: Any, fmt: Any) -> str:
    """One table cell: ``fmt`` is a Python format string or a function of the value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        return fmt(value) if callable(fmt) else fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def render_table(table: Table) -> str:
    frame: pl.DataFrame = table.frame
    cols = [c for c in table.columns if c[0] in frame.columns]
    numeric = {c[0]: frame.schema[c[0]].is_numeric() for c in cols}
    head = "".join(f'<th class="{"num" if numeric[f] else ""}">{esc(h)}</th>' for f, h, _ in cols)
    body = []
    for row in frame.select([c[0] for c in cols]).iter_rows(named=True):
        cells = "".join(
            f'<td class="{"num" if numeric[f] else ""}">{esc(cell(row[f], fmt))}</td>' for f, _, fmt in cols
        )
        body.append(f"<tr>{cells}</tr>")
    caption = esc(table.caption)
    if table.link:
        href, text = table.link
        caption += f' <a href="{esc(href)}">{esc(text)}</a>.'
    cap = f'<p class="caption">{caption}</p>' if caption else ""
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{cap}"
    )


def render_figures(figures: list[Figure], cls: str = "cards") -> str:
    if not figures:
        return ""
    cards = "".join(
        f'<div class="card"><div class="label">{esc(f.label)}</div><div class="value">{esc(f.value)}</div>'
        f'<div class="note">{esc(f.note)}</div></div>'
        for f in figures
    )
    return f'<div class="{cls}">{cards}</div>'


def render_item(item: ChartItem | TableItem | NoteItem) -> str:
    if isinstance(item, ChartItem):
        caption = f'<p class="caption">{esc(item.text)}</p>' if item.text else ""
        return (
            f'<figure class="chart-box"><div class="chart" id="{esc(item.id)}" data-chart="{esc(item.name)}" '
            f'data-spec="{esc(item.id)}-spec"></div>{caption}'
            f'<script type="application/json" id="{esc(item.id)}-spec">{spec_json(item.spec)}</script></figure>'
        )
    if isinstance(item, TableItem):
        text = f'<p class="caption">{esc(item.text)}</p>' if item.text else ""
        return f'<div class="table-box">{render_table(item.table)}{text}</div>'
    title = f"<strong>{esc(item.title)}:</strong> " if item.title else ""
    return f'<div class="note-box"><p>{title}{esc(item.note.text)}</p></div>'


def render_section(section: SectionOut) -> str:
    charts = [i for i in section.items if isinstance(i, (ChartItem, NoteItem))]
    others = [i for i in section.items if isinstance(i, TableItem)]
    grid = f'<div class="grid cols-{section.columns}">{"".join(render_item(i) for i in charts)}</div>' if charts else ""
    return (
        f'<section id="{esc(section.id)}"><h2>{esc(section.title)}</h2>{paragraphs(section.text)}'
        f"{render_figures(section.figures, 'cards small')}{grid}{''.join(render_item(i) for i in others)}</section>"
    )


STYLE = """
:root { --ink: #222; --muted: #666; --line: #e3e3e3; --bg: #f7f7f5; --card: #fff; --accent: #4e79a7; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); background: var(--bg); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
header .subtitle { color: var(--muted); margin: 0 0 12px; }
h2 { font-size: 20px; margin: 0 0 8px; padding-top: 4px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px;
          margin: 18px 0; }
section > p { max-width: 80ch; margin: 0 0 10px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px; margin: 16px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--accent);
        border-radius: 6px; padding: 10px 14px; }
.cards.small .card { background: var(--bg); }
.card .label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 13px; }
.grid { display: grid; gap: 16px; margin: 10px 0; align-items: start; }
.grid.cols-1 { grid-template-columns: minmax(0, 1fr); }
.grid.cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.grid.cols-3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
figure.chart-box { margin: 0; min-width: 0; overflow-x: auto; }
.caption { color: var(--muted); font-size: 13px; margin: 6px 0 0; max-width: 90ch; }
.note-box { background: #fff8e6; border: 1px solid #f1ce63; border-radius: 6px; padding: 8px 12px; }
.note-box p { margin: 0; }
.table-box { margin: 14px 0 4px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
#rfm-errors { background: #fdecea; border: 1px solid #e15759; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
nav { margin: 8px 0 0; font-size: 14px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 24px; }
.notes { color: var(--muted); font-size: 13px; }
@media (max-width: 900px) { .grid.cols-2, .grid.cols-3 { grid-template-columns: minmax(0, 1fr); } }
"""

#: Collects script errors into the visible #rfm-errors box (runs before the bundle).
ERRORS_JS = """
(function () {
  var box = document.getElementById("rfm-errors");
  window.rfmReportError = function (message) {
    box.hidden = false;
    var li = document.createElement("li");
    li.textContent = String(message);
    box.querySelector("ul").appendChild(li);
  };
  window.addEventListener("error", function (e) { window.rfmReportError("Script error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) { window.rfmReportError("Script error: " + e.reason); });
})();
"""

#: Draws every chart from its JSON block; marks each div data-rendered="true" or "error".
RENDER_JS = """
(function () {
  var charts = Array.prototype.slice.call(document.querySelectorAll("div.chart[data-spec]"));
  var pending = charts.length;
  function done() { if (--pending <= 0) { document.body.setAttribute("data-charts-done", "true"); } }
  if (!pending) { document.body.setAttribute("data-charts-done", "true"); }
  function failed(div, e) {
    div.setAttribute("data-rendered", "error"); window.rfmReportError("Chart " + div.id + ": " + e); done();
  }
  // Clicking a segment (a bar, a grid cell or a legend entry) highlights it in every chart that
  // declares the "highlight" variable; clicking it again, or elsewhere, clears it.  #segment=Name in
  // the URL highlights Name on load.  <html data-highlight> holds the current segment.
  var views = [];
  function highlight(segment) {
    document.documentElement.setAttribute("data-highlight", segment || "");
    views.forEach(function (view) { view.signal("highlight", segment || null).runAsync(); });
  }
  function clicked(event, item) {
    var datum = item && item.datum, role = item && item.mark && item.mark.role || "";
    var segment = datum && (datum.segment || (/legend/.test(role) ? datum.value : null));
    highlight(segment && segment !== document.documentElement.getAttribute("data-highlight") ? segment : null);
  }
  var last = done;
  done = function () {
    last();
    var wanted = /^#segment=(.+)$/.exec(window.location.hash);
    if (pending <= 0 && wanted) { highlight(decodeURIComponent(wanted[1])); }
  };
  charts.forEach(function (div) {
    var spec;
    try { spec = JSON.parse(document.getElementById(div.getAttribute("data-spec")).textContent); }
    catch (e) { failed(div, e); return; }
    var linked = (spec.params || []).some(function (p) { return p.name === "highlight"; });
    vegaEmbed(div, spec, {actions: false, renderer: "svg", mode: "vega-lite"}).then(function (result) {
      if (linked) { views.push(result.view); }
      result.view.addEventListener("click", clicked);
      div.setAttribute("data-rendered", "true"); done();
    }).catch(function (e) { failed(div, e); });
  });
})();
"""


def render_page(page: Page) -> str:
    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in page.sections)
    notes = "".join(f"<li>{esc(n)}</li>" for n in page.notes)
    notes_html = f'<section class="notes" id="notes"><h2>Notes</h2><ul>{notes}</ul></section>' if notes else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="rfm">
<title>{esc(page.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<div id="rfm-errors" hidden><strong>Some charts could not be drawn:</strong><ul></ul></div>
<script>{ERRORS_JS}</script>
<header><h1>{esc(page.title)}</h1><p class="subtitle">{esc(page.subtitle)}</p>{paragraphs(page.intro)}
<nav>{nav}</nav></header>
{render_figures(page.headline)}
{"".join(render_section(s) for s in page.sections)}
{notes_html}
<footer>{esc(page.footer)}</footer>
</main>
<script>{vega_bundle()}</script>
<script>{RENDER_JS}</script>
</body>
</html>
"""
