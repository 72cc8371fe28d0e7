"""``rfm leads ...`` and ``rfm contacts``: a thin layer over :mod:`rfm.leads`.

:func:`register` adds the ``leads`` command group (score, history, calibrate,
check, generate) and the top-level ``contacts`` command to the main parser's
subparsers.  Handlers return an exit code; library errors and warnings are
turned into ``error: ...`` / ``warning: ...`` lines by ``rfm.cli.main``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import polars as pl

from rfm.errors import InputError

GRID_HELP = "lead-scoring grid YAML (default: the shipped example rfm/presets/leads_grid.yaml)"


def _inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("leads", help="leads: .csv/.tsv(.gz) or .parquet, one row per lead")
    p.add_argument("events", help="engagement events: .csv/.tsv(.gz) or .parquet, one row per event")
    p.add_argument("--grid", "-g", help=GRID_HELP)
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line (warnings still print)")


def _table(frame: pl.DataFrame, formats: dict[str, str]) -> str:
    from rfm.cli import format_table

    return format_table(frame, {c: (c, f) for c, f in formats.items()})


def cmd_leads_score(args: argparse.Namespace) -> int:
    from rfm.io import output_format
    from rfm.leads import score_leads

    output_format(args.out)  # fail before the work on a bad extension
    result = score_leads(args.leads, args.events, args.grid, as_of=args.as_of, contributions=args.contributions)
    result.write(args.out)
    if not args.quiet:
        tiers = result.table.group_by("tier").len().to_dict(as_series=False)
        counts = dict(zip(tiers["tier"], tiers["len"]))
        print(result.stats.summary(), file=sys.stderr)
        print(
            f"wrote {result.table.height:,} leads as of {result.as_of} to {args.out} "
            f"(hot {counts.get('hot', 0):,}, warm {counts.get('warm', 0):,}, cold {counts.get('cold', 0):,})",
            file=sys.stderr,
        )
    return 0


def cmd_leads_history(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from rfm.io import output_format
    from rfm.io import parse_date, write_frame
    from rfm.leads.scoring import history_dates, history_table, prepare, resolve_as_of

    output_format(args.out)
    started = time.perf_counter()
    prep = prepare(args.leads, args.events, args.grid)
    end = resolve_as_of(prep, None) if args.end is None else parse_date(args.end, "--end")
    start = parse_date(args.start, "--start") if args.start else end - timedelta(weeks=12)
    dates = history_dates(start, end, args.every)
    table = history_table(prep, dates)
    write_frame(table, args.out)
    if not args.quiet:
        print(
            f"wrote {table.height:,} rows ({len(dates)} dates from {dates[0]} to {dates[-1]}, every {args.every} days) "
            f"to {args.out} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0


def calibration_report(cal: Any) -> str:
    """The printed calibration: base rate, per-rule table, tiers, cells, AUC."""
    lines = [
        f"Calibration as of {cal.as_of}: {cal.leads:,} leads, {cal.conversions:,} converted "
        f"(base rate {cal.base_rate:.2%})",
        "",
        "Rules (lift = conversion rate of the leads a rule applies to / base rate):",
        _table(
            cal.criteria,
            {"rule": "{}", "kind": "{}", "points": "{:g}", "leads": "{:,}", "conversion_rate": "{:.2%}",
             "lift": "{:.2f}", "z": "{:.1f}", "suggested_points": "{:g}", "flag": "{}"},
        ),
        "",
        "Tiers:",
        _table(cal.tiers, {"tier": "{}", "leads": "{:,}", "conversions": "{:,}", "conversion_rate": "{:.2%}",
                           "lift": "{:.2f}"}),
        "",
        "Priority cells:",
        _table(cal.cells, {"priority": "{}", "leads": "{:,}", "conversions": "{:,}", "conversion_rate": "{:.2%}",
                           "lift": "{:.2f}"}),
        "",
        "AUC (ranking by fit + engagement; suggested grid measured in-sample):",
        _table(cal.auc, {"score": "{}", "current": "{:.3f}", "suggested": "{:.3f}"}),
    ]
    return "\n".join(lines)


def cmd_leads_calibrate(args: argparse.Namespace) -> int:
    from rfm.io import output_format
    from rfm.leads import calibrate

    if args.write_grid:
        output_format(args.write_grid, ("yaml",))
    cal = calibrate(args.leads, args.events, args.outcomes, args.grid, as_of=args.as_of, min_leads=args.min_leads)
    if args.format == "csv":
        sys.stdout.write(cal.criteria.write_csv())
    elif args.format == "json":
        sys.stdout.write(cal.criteria.write_json() + "\n")
    else:
        print(calibration_report(cal))
    if args.write_grid:
        cal.suggested_grid.write(args.write_grid)
        if not args.quiet:
            print(f"wrote the suggested grid to {args.write_grid}", file=sys.stderr)
    return 0


def cmd_leads_check(args: argparse.Namespace) -> int:
    from rfm.leads.grid import load_grid

    grid = load_grid(args.grid)
    print(
        f"{grid.source}: valid; {len(grid.fit.criteria)} fit criteria, {len(grid.engagement.rules)} engagement rules, "
        f"{len(grid.event_types)} event types"
    )
    c, b, a = grid.grades.fit
    print(f"  fit grades:        D < {c:g} <= C < {b:g} <= B < {a:g} <= A")
    e = grid.grades.engagement
    print(f"  engagement levels: 4 < {e[0]:g} <= 3 < {e[1]:g} <= 2 < {e[2]:g} <= 1")
    print(f"  tiers:             hot {', '.join(grid.tiers.hot)}; warm {', '.join(grid.tiers.warm)}; other cells cold")
    return 0


def cmd_leads_generate(args: argparse.Namespace) -> int:
    from rfm.leads.generate import generate_leads

    started = time.perf_counter()
    out = generate_leads(args.out, leads=args.leads, seed=args.seed, events_per_lead=args.events_per_lead,
                         fmt=args.format)
    if not args.quiet:
        print(
            f"wrote {out.leads:,} leads, {out.events:,} events and {out.conversions:,} conversions to "
            f"{', '.join(str(f) for f in out.files)} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0


def cmd_contacts(args: argparse.Namespace) -> int:
    from rfm.io import output_format
    from rfm.leads import contacts

    output_format(args.out)
    match = None
    if args.match:
        match = [m.strip() for m in args.match.split(",") if m.strip()]
        if not match:
            raise InputError("--match: give one or more of customer_id, email, domain separated by commas")
    result = contacts(args.lead_scores, args.customer_scores, customers=args.customers, match=match, grid=args.grid)
    result.write(args.out)
    if args.ambiguous_out:
        from rfm.io import write_frame

        output_format(args.ambiguous_out, ("parquet",))
        write_frame(result.ambiguous, args.ambiguous_out)
    if not args.quiet:
        counts = ", ".join(f"{m} {n:,}" for m, n in result.match_counts.iter_rows())
        print(f"matched leads by method: {counts}", file=sys.stderr)
        print(f"wrote {result.table.height:,} contacts to {args.out}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add ``leads`` (score, history, calibrate, check, generate) and ``contacts`` to ``sub``."""
    leads = sub.add_parser("leads", help="lead scoring: fit and engagement scores, history, calibration")
    lsub = leads.add_subparsers(dest="leads_command", metavar="LEADS_COMMAND", required=True)

    p = lsub.add_parser("score", help="score every lead: fit, engagement, grade, level, tier, stage, explanation")
    _inputs(p)
    p.add_argument("--as-of", help="score as of this date, YYYY-MM-DD (inclusive); default: day after the last event")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
    p.add_argument("--contributions", action="store_true", help="add a points_<rule> column per rule")
    p.set_defaults(handler=cmd_leads_score)

    p = lsub.add_parser("history", help="scores at a series of dates (e.g. weekly) for trend charts")
    _inputs(p)
    p.add_argument("--start", help="first date, YYYY-MM-DD (default: 12 weeks before --end)")
    p.add_argument("--end", help="last date, YYYY-MM-DD (default: day after the last event)")
    p.add_argument("--every", type=int, default=7, help="days between dates (default 7)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (one row per lead and date)")
    p.set_defaults(handler=cmd_leads_history)

    p = lsub.add_parser("calibrate", help="check the grid against conversions; suggest points by lift")
    _inputs(p)
    p.add_argument("outcomes", help="outcomes: lead id, converted (true/false), optional conversion date")
    p.add_argument("--as-of", help="score as of this date (before the conversions); default: day after the last event")
    p.add_argument("--min-leads", type=int, default=30, help="rules applying to fewer leads are flagged (default 30)")
    p.add_argument("--write-grid", help="write the suggested grid to this .yaml file (atomically)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table: the full report; csv/json: the per-rule table only")
    p.set_defaults(handler=cmd_leads_calibrate)

    p = lsub.add_parser("check", help="validate a grid and show its grades and tiers")
    p.add_argument("grid", nargs="?", help=GRID_HELP)
    p.set_defaults(handler=cmd_leads_check)

    p = lsub.add_parser("generate", help="write synthetic leads, events and outcomes with planted conversion effects")
    p.add_argument("--leads", type=int, required=True, help="number of leads")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--events-per-lead", type=float, default=12.0, help="mean background events per lead (default 12)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    p.add_argument("--out", "-o", required=True, help="output directory (leads.*, events.*, outcomes.*)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    p.set_defaults(handler=cmd_leads_generate)

    p = sub.add_parser("contacts", help="join lead scores to customer scores and route every contact")
    p.add_argument("lead_scores", help="output of rfm leads score (.parquet or .csv)")
    p.add_argument("customer_scores", help="output of rfm score (.parquet or .csv): customer_id, segment, action, ...")
    p.add_argument("--customers", help="customer profile (customer_id, email, domain) when the scores have no email")
    p.add_argument("--match", help="match methods in order, e.g. customer_id,email,domain (default: the grid's)")
    p.add_argument("--grid", "-g", help=GRID_HELP + "; its contacts section sets match and routing")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
    p.add_argument("--ambiguous-out", help="also write the ambiguous matches (lead_id, method, candidates) to .parquet")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary lines")
    p.set_defaults(handler=cmd_contacts)
