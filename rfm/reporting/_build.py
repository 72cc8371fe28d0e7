"""Build a report: definition (``reports/<kind>.yaml``) + aggregates + charts -> one HTML file.

:func:`write_report` / :func:`build_report` work on loaded orders and their
:class:`rfm.customers.CustomerScores`; :func:`run_report` is what ``rfm
report`` calls: it loads the orders once, scores them (with the steps the
report needs: churn, offers), runs the backtest and lead scoring, then builds
the page.
Besides the HTML it writes, next to it, the campaign lists as CSV
(``<name>.<action>.csv``) and, on request, every chart as PNG / SVG
(``<name>.<chart-id>.png``).
"""

from __future__ import annotations

import re
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import vl_convert as vlc

from rfm._files import check_writable, output_format, write_atomic, write_text
from rfm.churn import Backtest
from rfm.customers import Config, CustomerScores, load_config
from rfm.engine import check_database_output
from rfm.errors import InputError, ModelError, RfmWarning
from rfm.inputs import parse_date
from rfm.leads import calibrate, score_leads
from rfm.offers import OfferScores, load_catalogue, score_offers
from rfm.pipeline import Orders, run_backtest
from rfm.reporting import _charts as C
from rfm.reporting._blocks import Context, Leads, Note, Table
from rfm.reporting._data import ReportData
from rfm.reporting._definitions import KINDS, LEADS, PLACEHOLDERS, ReportDefinition, Section
from rfm.reporting._html import ChartItem, NoteItem, Page, SectionOut, TableItem, library_versions, render_page
from rfm.reporting._numbers import Numbers, check_currency, check_locale
from rfm.reporting._public import Scrubber, scrub_page
from rfm.reporting._registry import CHARTS, FIGURES, TABLES, load_definition

#: Page-wide chart styling, applied to every spec (HTML and PNG/SVG alike).
CHART_CONFIG: dict[str, Any] = {
    "font": "Helvetica Neue, Arial, sans-serif",
    "title": {"fontSize": 14, "subtitleFontSize": 12, "subtitleColor": "#666666", "anchor": "start"},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "titleColor": "#333333"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
    "view": {"stroke": None},
}


def final_spec(chart: alt.TopLevelMixin, numbers: Numbers = Numbers()) -> dict[str, Any]:
    """The Vega-Lite dict written into the page: validated, page config and the number locale
    (decimal and grouping marks, currency) merged, no ``$schema`` URL."""
    spec = chart.to_dict(validate=True)
    spec.pop("$schema", None)
    config = spec.get("config", {})
    # merged a level deep, as Altair merges its theme, so a notebook's chart has the page's config
    for key, value in {**CHART_CONFIG, "locale": numbers.vega_locale()}.items():
        config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    spec["config"] = config
    return spec


def with_title(config: Config, title: str | None) -> Config:
    """``config`` with ``report.title`` set to ``title`` (``--title``), when one is given."""
    if not title:
        return config
    return config.model_copy(update={"report": config.report.model_copy(update={"title": title})})


def report_numbers(config: Config) -> Numbers:
    """The config's ``report.currency`` and ``report.locale``, checked against CLDR (a ConfigError
    naming the key), so a bad code fails before any data is read."""
    numbers = Numbers(config.report.currency, config.report.locale)
    check_locale(numbers.locale)
    if numbers.currency is not None:
        check_currency(numbers.currency)
    return numbers


def check_out(out: str | Path) -> Path:
    """Fail before any work on a bad output name or a missing directory."""
    output_format(out, ("html",))
    return check_writable(out)


def _fill(text: str, values: dict[str, Any]) -> str:
    return text.format_map({k: values.get(k, "n/a") for k in PLACEHOLDERS}) if text else ""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "list"


def _action_order(defn: ReportDefinition, actions: list[str]) -> list[str]:
    first = [a for a in defn.settings.action_order if a in actions]
    return first + [a for a in actions if a not in first]


def _expand(section: Section, actions: list[str]) -> list[tuple[Section, str | None]]:
    if section.for_each == "action":
        return [(section, a) for a in actions]
    return [(section, None)]


def _build_section(
    ctx: Context, section: Section, action: str | None, values: dict[str, Any], seen: set[str]
) -> SectionOut:
    values = {**values, "action": action} if action else values
    sid = f"{section.id}-{_safe(action)}" if action else section.id
    title = _fill(section.title, values)
    text = _fill(section.text, values)
    if action and action in section.action_text:
        text = f"{text}\n\n{_fill(section.action_text[action], values)}"
    ctx.columns = section.columns
    heading = title[:1].upper() + title[1:]
    if action and not ctx.action_row(action)["customers"]:  # one line, not empty charts, tables and a link
        listed = f"; its list ({ctx.exports[action]}) is empty" if action in ctx.exports else ""
        return SectionOut(sid, heading, f"No customer has the action {action} as of {ctx.data.as_of}{listed}.", 1)
    out = SectionOut(
        sid,
        heading,
        text,
        section.columns,
        figures=[FIGURES[f](ctx, action) for f in section.figures],
    )
    for block in section.blocks:
        fn = CHARTS[block.chart] if block.chart else TABLES[block.table or ""]
        block = block.model_copy(
            update={
                "title": _fill(block.title or "", values) or None,
                "subtitle": _fill(block.subtitle or "", values) or None,
            }
        )
        built = fn(ctx, block, action)
        caption = _fill(block.text, values)
        if isinstance(built, Note):
            out.items.append(NoteItem(built, block.title or ""))
        elif isinstance(built, Table):
            out.items.append(TableItem(built, caption))
        else:
            cid = f"{sid}-{block.name}"
            while cid in seen:
                cid += "-2"
            seen.add(cid)
            out.items.append(ChartItem(cid, block.name, final_spec(built, ctx.numbers), caption))
    return out


def report_values(ctx: Context, scores: CustomerScores) -> dict[str, Any]:
    """The ``{placeholders}`` a definition's texts and titles may use, for this context."""
    backtest = ctx.backtest
    return {
        "as_of": ctx.data.as_of.isoformat(),
        "compare_as_of": ctx.compare_as_of or "n/a",
        "horizon_days": ctx.data.horizon_days,
        "clv_months": ctx.data.clv_months,
        "active_days": ctx.settings.active_days,
        "recent_days": ctx.settings.recent_days,
        "customers": ctx.count(scores.stats.customers),
        "calibration_end": getattr(backtest, "calibration_end", "n/a"),
        "holdout_end": getattr(backtest, "holdout_end", "n/a"),
        "leads_as_of": ctx.leads.as_of if ctx.leads is not None else "n/a",
    }


def report_context(
    kind: str,
    orders: Orders,
    scores: CustomerScores,
    *,
    compare_as_of: date | str | None = None,
    backtest: Backtest | None = None,
    backtest_note: str = "",
    offers: Any = None,
    notes: list[str] | None = None,
) -> tuple[ReportDefinition, Context, list[str]]:
    """The definition of report ``kind``, the context its blocks draw from (aggregates, colours,
    number formats, offers or migration) and its actions in report order; ``notes`` collects what
    the page should say."""
    defn = load_definition(kind)
    if kind not in KINDS:
        raise InputError(f'report "{kind}" cannot be built on its own; choose one of {", ".join(KINDS)}')
    notes = notes if notes is not None else []
    data = ReportData.capture(orders, scores, recent_days=defn.settings.recent_days)
    ruleset = scores.ruleset
    actions = _action_order(defn, data.actions)
    ctx = Context(
        data=data,
        settings=defn.settings,
        segments=C.segment_colors(ruleset.segment_order, other=ruleset.other.name),
        actions=C.action_colors(actions),
        descriptions={r.name: r.description for r in ruleset.rules},
        backtest=backtest,
        backtest_note=backtest_note,
        numbers=report_numbers(scores.config),
    )
    if kind == "campaign":
        _attach_offers(ctx, orders, scores, offers, notes)
    if kind == "churn":
        _attach_migration(ctx, orders, scores, compare_as_of, defn.settings.migration_days, notes)
    return defn, ctx, actions


def write_report(
    kind: str,
    orders: Orders,
    scores: CustomerScores,
    *,
    out: str | Path,
    compare_as_of: date | str | None = None,
    backtest: Backtest | None = None,
    backtest_note: str = "",
    offers: Any = None,
    leads: Leads | pl.DataFrame | None = None,
    notes: list[str] | None = None,
    png: bool = False,
    svg: bool = False,
    lists_table: str | None = None,
    if_exists: str = "fail",
) -> list[Path]:
    """Build the report of ``scores`` (scored from ``orders``) and its side files; every path written, the HTML first.

    ``lists_table`` (campaign report): also every campaign list in one PostgreSQL table
    (``postgresql://.../db?table=schema.name``), written atomically, ``if_exists`` fail, replace or
    append-snapshot."""
    out = check_out(out)
    notes = list(notes or []) + [f"Scoring: {w}" for w in scores.warnings]
    defn, ctx, actions = report_context(
        kind, orders, scores, compare_as_of=compare_as_of, backtest=backtest, backtest_note=backtest_note,
        offers=offers, notes=notes,
    )
    data, numbers = ctx.data, ctx.numbers
    defs = [defn]
    if leads is not None:
        ctx.leads = leads if isinstance(leads, Leads) else Leads(leads)
        defs.append(load_definition(LEADS))
    values = report_values(ctx, scores)
    written: list[Path] = []
    if lists_table is not None:  # first: a failed database write leaves no report claiming it happened
        written.append(data.campaign_lists().write(lists_table, if_exists=if_exists))
    if kind == "campaign":
        written += _write_lists(ctx, defn, actions, out)
    sections: list[SectionOut] = []
    seen: set[str] = set()
    for d in defs:
        for section in d.sections:
            for sec, action in _expand(section, actions):
                sections.append(_build_section(ctx, sec, action, values, seen))
    ctx.columns = 1
    own = _fill(defn.title, values)
    title = scores.config.report.title
    page = Page(
        title=f"{title} · {own}" if title else own,
        subtitle=_fill(defn.subtitle, values),
        intro=_fill(defn.intro, values),
        headline=[FIGURES[f](ctx, None) for f in defn.headline],
        sections=sections,
        footer=f"Made by rfm from {orders.source.label}; charts: {library_versions()}. "
        + (f"Amounts in {numbers.currency}. " if numbers.currency else
           "Amounts in the orders' currency (set report.currency, e.g. EUR, to print its symbol). ")
        + "The page loads nothing from the network.",
        notes=notes,
    )
    # a mailed page names files, never folders of this machine: every text of the page, scrubbed
    scrub_page(page, Scrubber.for_inputs(orders.source.label, scores.config.source, getattr(offers, "source", None)))
    html_path = write_text(out, render_page(page))
    return [html_path, *written, *_export_charts(page, out, png=png, svg=svg)]


def build_report(kind: str, orders: Orders, scores: CustomerScores, *, out: str | Path, **options: Any) -> Path:
    """Build report ``kind`` for ``scores`` (from ``orders.score()``) into ``out`` (.html); return its path.

    Options as for :func:`write_report`.  The churn report scores ``orders``
    a second time (at ``compare_as_of``) for the migration matrix; ``scores``
    is a value and stays as it is.
    """
    return write_report(kind, orders, scores, out=out, **options)[0]


def _attach_offers(ctx: Context, orders: Orders, scores: CustomerScores, offers: Any, notes: list[str]) -> None:
    """Next best offers: ``offers`` (OfferScores or a catalogue) if given, else those scored with ``scores``."""
    if offers is None:
        offers = scores.offers  # from orders.score(offers=...) or the config's offers:
        if offers is None:
            return
    if not isinstance(offers, OfferScores):
        offers = score_offers(orders, scores, load_catalogue(offers))
        notes.extend(f"Offers: {w}" for w in offers.warnings)
    ctx.data.use_offers(offers.best_table)
    ctx.offer_names = {o.id: (o.name or o.id) for o in offers.catalogue.offers}


def _attach_migration(
    ctx: Context, orders: Orders, scores: CustomerScores, compare_as_of: Any, days: int, notes: list[str]
) -> None:
    earlier = parse_date(compare_as_of, "compare_as_of") if compare_as_of else scores.as_of - timedelta(days=days)
    if earlier >= scores.as_of:
        raise InputError(f"compare_as_of {earlier} must be before as_of {scores.as_of}; choose an earlier date")
    if orders.first_date is not None and earlier < orders.first_date:
        notes.append(f"Migration: no orders before {earlier} (first order {orders.first_date}); matrix left out")
        return
    with warnings.catch_warnings():  # the earlier snapshot's drop counts would repeat the as-of ones
        warnings.simplefilter("ignore", RfmWarning)
        before = orders.score_rfm(as_of=earlier, scoring=scores.scoring)  # the same cut points
    ctx.migration = ctx.data.migration(before)
    ctx.compare_as_of = earlier


def _write_lists(ctx: Context, defn: ReportDefinition, actions: list[str], out: Path) -> list[Path]:
    """One CSV per action with a customer preview in the definition, beside the report."""
    wanted = any(s.for_each == "action" and any(b.table == "customer_preview" for b in s.blocks) for s in defn.sections)
    if not wanted:
        return []
    written = []
    for action in actions:
        path = out.with_name(f"{out.stem}.{_safe(action)}.csv")
        written.append(ctx.data.campaign_list(action).write(path, spreadsheet_safe=True))  # no formulas
        ctx.exports[action] = path.name
    return written


def _export_charts(page: Page, out: Path, *, png: bool, svg: bool) -> list[Path]:
    if not (png or svg):
        return []

    written = []
    for item in page.charts():
        if png:
            data = vlc.vegalite_to_png(item.spec, scale=2)
            written.append(write_atomic(out.with_name(f"{out.stem}.{item.id}.png"), lambda t, d=data: t.write_bytes(d)))
        if svg:
            written.append(write_text(out.with_name(f"{out.stem}.{item.id}.svg"), vlc.vegalite_to_svg(item.spec)))
    return written


def lead_section(leads: Any, events: Any, outcomes: Any, grid: Any) -> Leads:
    """The leads section's data: lead scores, and conversion by tier when outcomes are given."""
    scored = score_leads(leads, events, grid)
    result = Leads(scored.table, scored.as_of)
    if outcomes is None:
        result.calibration_note = "No outcomes given: pass --outcomes to see conversion by tier."
        return result
    try:
        result.calibration = calibrate(leads, events, outcomes, grid, as_of=scored.as_of)
    except InputError as exc:
        result.calibration_note = f"Calibration not possible: {exc}"
    return result


def run_report(
    kind: str,
    orders: Any,
    *,
    config: Config | str | Path | dict[str, Any] | None = None,
    out: str | Path,
    as_of: date | str | None = None,
    compare_as_of: date | str | None = None,
    calibration_end: date | str | None = None,
    horizon: int | None = None,
    offers: Any = None,
    leads: Any = None,
    events: Any = None,
    outcomes: Any = None,
    lead_grid: Any = None,
    churn: str | None = None,
    table: str | None = None,
    backtest: bool = True,
    png: bool = False,
    svg: bool = False,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
    engine: str | None = None,
    spark_remote: str | None = None,
    query: str | None = None,
    lists_table: str | None = None,
    if_exists: str = "fail",
    title: str | None = None,
) -> list[Path]:
    """Load, score and build report ``kind`` (``rfm report``); return every file written, the HTML first.

    The orders are read once: the scoring, the churn report's backtest and its
    migration matrix all use the same order table.  ``backtest=False`` leaves
    the churn report's backtest out (it fits the method that scored and the
    recency_ratio baseline at the calibration end: the heaviest step).  ``engine`` (duckdb or spark, default:
    the config's ``engine.name``) and ``spark_remote`` choose where the
    aggregates are computed; the charts are drawn here from the same few rows.
    """
    check_out(out)
    if lists_table is not None:
        if kind != "campaign":
            raise InputError("--lists-table writes the campaign lists: use it with rfm report campaign")
        check_database_output(lists_table, if_exists)  # before the work
    load_definition(kind)
    if kind not in KINDS:
        raise InputError(f'report "{kind}" cannot be built on its own; choose one of {", ".join(KINDS)}')
    if (leads is None) != (events is None):
        raise InputError("--leads and --events go together: give both files (leads and their engagement events)")
    cfg = with_title(load_config(config), title)
    report_numbers(cfg)  # a bad currency or locale fails before the orders are read
    update: dict[str, Any] = {}
    if kind != "campaign":
        update["offers"] = None  # only the campaign report shows offers: do not score them for the others
    if horizon is not None:
        if horizon <= 0:
            raise InputError(f"--horizon must be a positive number of days, got {horizon}")
        update["churn"] = cfg.churn.model_copy(update={"horizon_days": int(horizon)})
    cfg = cfg.model_copy(update=update)
    notes: list[str] = []
    method = churn or cfg.churn.method
    # the churn report is about churn; the campaign report's expected value is the CLV (a churn method
    # of none said on purpose, by --churn or in the config, keeps it on past revenue)
    said_none = churn == "none" or "method" in cfg.churn.model_fields_set  # --churn none or churn.method: none
    if method == "none" and cfg.churn.model is None and (kind == "churn" or (kind == "campaign" and not said_none)):
        method = "auto"
        notes.append("Churn: the config sets no churn model, so this report scored with churn.method auto")
    with Orders(
        orders, cfg, table=table, query=query, engine=engine, spark_remote=spark_remote,
        memory_limit=memory_limit, temp_directory=temp_directory,
    ) as history:  # closed at the end: a user's Spark session gets its settings back
        history.build_order_table()  # the report reads the order table: build it first, then one scan serves all
        result, backtest_note = None, "Backtest left out (--no-backtest)."
        scores = history.score(as_of=as_of, churn=method, offers=offers if kind == "campaign" else None)
        if kind == "churn" and backtest:
            result, backtest_note = backtest_for(history, calibration_end, scores.as_of, report_methods(scores))
        lead_scores = lead_section(leads, events, outcomes, lead_grid) if leads is not None else None
        return write_report(
            kind,
            history,
            scores,
            out=out,
            compare_as_of=compare_as_of,
            backtest=result,
            backtest_note=backtest_note,
            leads=lead_scores,
            notes=notes,
            png=png,
            svg=svg,
            lists_table=lists_table,
            if_exists=if_exists,
        )


def report_methods(scores: CustomerScores) -> tuple[str, ...]:
    """The methods the churn report backtests: the one that scored, beside the recency_ratio baseline.
    (``rfm backtest`` compares every method; at a million customers Pareto/NBD alone takes minutes.)"""
    used = scores.churn.method if scores.churn is not None else "bgnbd"
    return tuple(dict.fromkeys((used, "recency_ratio")))


def backtest_for(
    orders: Orders, calibration_end: date | str | None = None, as_of: date | str | None = None,
    methods: tuple[str, ...] | None = None,
) -> tuple[Backtest | None, str]:
    """The backtest the churn report shows (calibration end default: as-of minus the churn horizon;
    ``methods`` default: every method), or None and the reason it was skipped."""
    horizon = int(orders.config.churn.horizon_days)
    try:
        if calibration_end is None:
            day = parse_date(as_of, "as_of") if as_of is not None else orders.resolve_as_of(None)
            calibration_end = day - timedelta(days=horizon)
        result = run_backtest(orders, calibration_end=calibration_end, horizon_days=horizon, methods=methods)
    except (InputError, ModelError) as exc:
        return None, f"Backtest skipped: {exc}"
    return result, ""
