"""``rfm run``: the weekly job in one process, from one read of the orders.

The order lines are scanned once into the order table; the scores (with churn
and, given a catalogue, the next best offer), the churn report's backtest and
migration matrix, and the three reports all read that table.  The imports and
the reports' JavaScript bundle are paid once.  ``rfm demo`` is this job on the
bundled demo data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl

from rfm._files import is_uri, output_group, remove_with_outputs, write_frame, write_text
from rfm.customers import Config, CustomerScores, load_config
from rfm.engine import redact
from rfm.errors import InputError
from rfm.pipeline import Orders
from rfm.reporting._build import backtest_for, lead_section, report_methods, report_numbers, with_title, write_report


@dataclass
class JobResult:
    """What ``rfm run`` wrote and scored."""

    scores: CustomerScores  # its engine is closed: read .table, .stats, .churn, not its SQL tables
    summary: pl.DataFrame  # customers, revenue and medians per segment (segments.csv)
    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_job(
    orders: Any,
    out_dir: str | Path,
    *,
    config: Config | str | Path | dict[str, Any] | None = None,
    as_of: Any = None,
    churn: str | None = None,
    offers: Any = None,
    leads: Any = None,
    events: Any = None,
    outcomes: Any = None,
    lead_grid: Any = None,
    backtest: bool = True,
    csv: bool = False,
    table: str | None = None,
    query: str | None = None,
    engine: str | None = None,
    spark_remote: str | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
    leads_files: Callable[[Path], tuple[Any, Any, Any]] | None = None,
    title: str | None = None,
) -> JobResult:
    """Score ``orders`` once and write into ``out_dir``: scores.parquet (and scores.csv with ``csv``),
    scoring.json, scores.churn.json, offers.csv (with a catalogue), segments.csv, segments.html,
    campaign.html with its CSV lists, churn.html, and ``rfm-run.json`` (what was written, as of when).

    Every file lands together when the job succeeds, and none when it fails; a file the previous
    run into ``out_dir`` wrote (listed in its ``rfm-run.json``) that this run does not write is
    removed, so the folder never mixes two runs.  Churn is what ``churn`` or the config says, and
    ``auto`` when the config says ``none`` (the campaign and churn reports need it); ``backtest=False``
    leaves the churn report's backtest out.  ``leads``/``events`` (and ``outcomes``, ``lead_grid``)
    add the campaign report's leads section; ``leads_files(out_dir)`` may write them first (``rfm
    demo``'s synthetic leads)."""
    out = _check_out_dir(out_dir, orders)
    if (leads is None) != (events is None):
        raise InputError("--leads and --events go together: give both files (leads and their engagement events)")
    if churn == "none":
        raise InputError("rfm run writes the campaign and churn reports, which need churn scores: drop --churn none "
                         "or choose a method (auto, best, bgnbd, pnbd, recency_ratio, propensity)")
    cfg = with_title(load_config(config), title)
    report_numbers(cfg)  # a bad currency or locale fails before the orders are read
    notes: list[str] = []
    method = churn or cfg.churn.method
    if method == "none" and cfg.churn.model is None:
        method = "auto"
        notes.append("churn: the config sets churn.method none, so this run scored with churn.method auto")
    previous = _previous_files(out)
    created = not out.exists()
    try:
        with output_group():
            out.mkdir(parents=True, exist_ok=True)
            if leads_files is not None:
                leads, events, outcomes = leads_files(out)
            section = lead_section(leads, events, outcomes, lead_grid) if leads is not None else None  # fails early
            with Orders(
                orders, cfg, table=table, query=query, engine=engine, spark_remote=spark_remote,
                memory_limit=memory_limit, threads=threads, temp_directory=temp_directory,
            ) as history:
                history.build_order_table()  # the one scan of the lines: everything below reads its table
                scores = history.score(as_of=as_of, churn=method, offers=offers)
                written = [scores.write(out / "scores.parquet")]
                if csv:
                    written.append(scores.write(out / "scores.csv"))
                written.append(scores.scoring.save(out / "scoring.json"))
                if scores.churn is not None:
                    written.append(scores.churn.save(out / "scores.churn.json"))
                if scores.offers is not None:
                    written.append(scores.offers.write(out / "offers.csv"))
                summary = scores.segment_summary()
                written.append(write_frame(summary, out / "segments.csv"))
                report_notes = [n[0].upper() + n[1:] for n in notes]
                written += write_report("segments", history, scores, out=out / "segments.html", notes=report_notes)
                if leads_files is not None:
                    written += [Path(p) for p in (leads, events, outcomes) if p is not None]
                written += write_report("campaign", history, scores, out=out / "campaign.html", leads=section,
                                        notes=report_notes)
                result, note = None, "Backtest left out (--no-backtest)."
                if backtest:
                    calibration_end = scores.as_of - timedelta(days=history.config.churn.horizon_days)
                    result, note = backtest_for(history, calibration_end, methods=report_methods(scores))
                written += write_report("churn", history, scores, out=out / "churn.html", backtest=result,
                                        backtest_note=note, notes=report_notes)
                scores.table  # noqa: B018  (read while the engine is open: callers get it after the job)
            written.append(_manifest(out, written, scores, history.source.label))
            for name in previous - {p.name for p in written}:
                remove_with_outputs(out / name)
    except BaseException:
        if created:  # nothing landed in it: a failed run leaves no empty folder either
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    return JobResult(scores=scores, summary=summary, written=written, notes=notes)


MANIFEST = "rfm-run.json"


def _check_out_dir(out_dir: str | Path, orders: Any) -> Path:
    out = Path(out_dir)
    if is_uri(str(out_dir)) or "://" in str(out_dir):
        raise InputError(f"--out {redact(str(out_dir))}: rfm run writes files into a local folder; give a folder "
                         "path (write scores to a database with rfm score --out postgresql://...)")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file; rfm run writes several files, give a folder")
    if isinstance(orders, (str, Path)) and not is_uri(str(orders)):
        source = Path(str(orders).split("*")[0].split("?")[0] or ".").resolve()
        folder = out.resolve()
        if not Path(orders).is_file() and (folder == source or source in folder.parents):
            raise InputError(f"--out {out}: holds the input orders {orders}; the outputs would be read as orders by "
                             "the next run; choose another folder")
    return out


def _previous_files(out: Path) -> set[str]:
    """Files the last rfm run into ``out`` wrote (its manifest), to remove those this run does not write."""
    try:
        listed = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in listed if isinstance(name, str) and name == Path(name).name and name != MANIFEST}


def _manifest(out: Path, written: list[Path], scores: CustomerScores, source: str) -> Path:
    files = [p.relative_to(out).as_posix() if p.is_relative_to(out) else p.name for p in written]
    return write_text(out / MANIFEST, json.dumps({
        "as_of": scores.as_of.isoformat(), "orders": Path(source).name if source else "", "customers":
        scores.stats.customers, "churn_method": scores.churn.method if scores.churn else None,
        "files": sorted(f for f in files if "/" not in f),
    }, indent=2) + "\n")
