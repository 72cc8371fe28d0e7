"""``rfm leads ...`` (score, history, calibrate, check) and ``rfm contacts``: a thin layer over :mod:`rfm.leads`."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import polars as pl

from rfm._files import output_format, write_frame
from rfm.cli._tables import format_table
from rfm.errors import InputError
from rfm.leads import calibrate, calibrate_logistic, contacts, history_window, load_grid, score_leads


def _table(frame: pl.DataFrame, formats: dict[str, str]) -> str:
    return format_table(frame, {c: (c, f) for c, f in formats.items()})


def cmd_leads_score(args: argparse.Namespace) -> int:
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
    output_format(args.out)
    started = time.perf_counter()
    table, dates = history_window(args.leads, args.events, args.grid, start=args.start, end=args.end,
                                  every_days=args.every)
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


def scorecard_report(card: Any) -> str:
    """The printed logistic calibration: the split, the per-rule table, the out-of-sample comparison."""
    reliability = card.reliability.pivot(on="grid", index="decile", values=["predicted", "actual"])
    lines = [
        f"Logistic scorecard as of {card.as_of}: {card.leads:,} leads, {card.conversions:,} converted; "
        f"every {card.pdo:g} points double the odds; a lead with 0 points converts at "
        f"{1 / (1 + math.exp(-card.intercept)):.2%} (L2 strength C = {card.regularisation:g}, chosen by 5-fold log-loss)",
        "",
        _table(
            card.criteria,
            {"rule": "{}", "kind": "{}", "leads": "{:,}", "coefficient": "{:+.3f}", "ci_low": "{:+.3f}",
             "ci_high": "{:+.3f}", "odds_ratio": "{:.2f}", "points": "{:g}", "learned_points": "{:g}", "flag": "{}"},
        ),
        "",
        f"Out of sample ({card.validation}); each grid's probabilities fitted on the training part only:",
        _table(card.metrics, {"grid": "{}", "test_leads": "{:,}", "test_conversions": "{:,}", "auc": "{:.3f}",
                              "log_loss": "{:.4f}", "brier": "{:.4f}"}),
        "",
        "Reliability on the test part: predicted vs actual conversion, by decile of the prediction",
        _table(
            reliability, {c: ("{}" if c == "decile" else "{:.3f}") for c in reliability.columns},
        ),
    ]
    return "\n".join(lines)


def cmd_leads_calibrate(args: argparse.Namespace) -> int:
    if args.write_grid:
        output_format(args.write_grid, ("yaml",))
    if args.method == "logistic":
        card = calibrate_logistic(args.leads, args.events, args.outcomes, args.grid, as_of=args.as_of, pdo=args.pdo,
                                  split_date=args.split_date, folds=args.folds, min_leads=args.min_leads)
        return _calibration_out(args, card.criteria, lambda: scorecard_report(card), card.grid, "learned")
    for flag in ("split_date", "folds"):
        if getattr(args, flag) is not None:
            raise InputError(f"--{flag.replace('_', '-')} applies to --method logistic only")
    cal = calibrate(args.leads, args.events, args.outcomes, args.grid, as_of=args.as_of, min_leads=args.min_leads)
    return _calibration_out(args, cal.criteria, lambda: calibration_report(cal), cal.suggested_grid, "suggested")


def _calibration_out(args: argparse.Namespace, rules: pl.DataFrame, report: Any, grid: Any, what: str) -> int:
    """The per-rule table as CSV or JSON, or the full report; the grid to --write-grid."""
    if args.format == "csv":
        sys.stdout.write(rules.write_csv())
    elif args.format == "json":
        sys.stdout.write(rules.write_json() + "\n")
    else:
        print(report())
    if args.write_grid:
        grid.write(args.write_grid)
        if not args.quiet:
            print(f"wrote the {what} grid to {args.write_grid}", file=sys.stderr)
    return 0


def cmd_leads_check(args: argparse.Namespace) -> int:
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


def cmd_contacts(args: argparse.Namespace) -> int:
    output_format(args.out)
    match = None
    if args.match:
        match = [m.strip() for m in args.match.split(",") if m.strip()]
        if not match:
            raise InputError("--match: give one or more of customer_id, email, domain separated by commas")
    result = contacts(args.lead_scores, args.customer_scores, customers=args.customers, match=match, grid=args.grid)
    result.write(args.out)
    if args.ambiguous_out:
        output_format(args.ambiguous_out, ("parquet",))
        write_frame(result.ambiguous, args.ambiguous_out)
    if not args.quiet:
        counts = ", ".join(f"{m} {n:,}" for m, n in result.match_counts.iter_rows())
        print(f"matched leads by method: {counts}", file=sys.stderr)
        print(f"wrote {result.table.height:,} contacts to {args.out}", file=sys.stderr)
    return 0
