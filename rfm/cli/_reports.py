"""``rfm report`` and ``rfm run``."""

from __future__ import annotations

import argparse
import sys

from rfm.cli._tables import parse_days
from rfm.reporting import run_job, run_report


def cmd_report(args: argparse.Namespace) -> int:
    written = run_report(
        args.kind, args.orders, config=args.config, out=args.out, as_of=args.as_of,
        compare_as_of=args.compare_as_of, calibration_end=args.calibration_end, horizon=parse_days(args.horizon),
        offers=args.offers, leads=args.leads, events=args.events, outcomes=args.outcomes, lead_grid=args.grid,
        churn=args.churn, table=args.table, backtest=not args.no_backtest, png=args.png, svg=args.svg,
        memory_limit=args.memory_limit, temp_directory=args.temp_directory,
        engine=args.engine, spark_remote=args.spark_remote, query=args.query,
        lists_table=args.lists_table, if_exists=args.if_exists, title=args.title,
    )
    if not args.quiet:
        extra = f" and {len(written) - 1} file(s) beside it:" if len(written) > 1 else ""
        print(f"wrote {written[0]}{extra}", file=sys.stderr)
        for path in written[1:]:
            print(f"  {path if isinstance(path, str) else path.name}", file=sys.stderr)  # a table: its redacted URL
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    job = run_job(
        args.orders, args.out, config=args.config, as_of=args.as_of, churn=args.churn, offers=args.offers,
        leads=args.leads, events=args.events, outcomes=args.outcomes, lead_grid=args.grid,
        backtest=not args.no_backtest, csv=args.csv, table=args.table, query=args.query, engine=args.engine,
        spark_remote=args.spark_remote, memory_limit=args.memory_limit, threads=args.threads,
        temp_directory=args.temp_directory, title=args.title,
    )
    if not args.quiet:
        print(job.scores.stats.summary(), file=sys.stderr)
        for note in job.notes:
            print(note, file=sys.stderr)
        if job.scores.churn is not None:
            print(f"churn: {job.scores.churn.describe()}", file=sys.stderr)
        print(f"wrote {len(job.written)} files to {args.out}:", file=sys.stderr)
        for path in job.written:
            print(f"  {path.name}", file=sys.stderr)
    return 0
