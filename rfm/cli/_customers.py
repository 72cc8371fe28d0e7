"""``rfm score``, ``rfm segments``, ``rfm offers``, ``rfm backtest`` and ``rfm check``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import polars as pl

from rfm._files import output_format
from rfm.cli._tables import SEGMENT_COLUMNS, format_table, parse_days
from rfm.customers import grid_warnings, load_config, resolve_rules
from rfm.engine import check_database_output, is_database_url, redact
from rfm.errors import InputError, RfmWarning
from rfm.offers import load_catalogue, score_offers
from rfm.pipeline import NO_OFFERS, Orders, run_backtest


def load_orders(args: argparse.Namespace) -> Orders:
    return Orders(
        args.orders,
        args.config,
        table=args.table,
        query=getattr(args, "query", None),
        engine=args.engine,
        spark_remote=args.spark_remote,
        memory_limit=args.memory_limit,
        threads=args.threads,
        temp_directory=args.temp_directory,
        progress=not args.quiet and sys.stderr.isatty(),
    )


def cmd_score(args: argparse.Namespace) -> int:
    if args.out is None and args.out_table is None:
        raise InputError("rfm score: say where the scores go: --out scores.parquet (or .csv), or --out-table with Spark")
    if args.out is not None and is_database_url(args.out):
        check_database_output(args.out, args.if_exists)  # before the work: a table to write, allowed to
    elif args.out is not None:
        output_format(args.out)  # fail before the work on a bad extension
    with load_orders(args) as orders:
        if args.out_table and orders.engine.name != "spark":
            raise InputError(f"--out-table {args.out_table}: catalog tables are written by Spark; add --engine spark")
        result = orders.score(
            as_of=args.as_of, scoring=args.scoring, churn=args.churn, churn_model=args.churn_model, offers=args.offers
        )
        if args.out_table:  # first: a failed table write leaves no scores file claiming success
            result.write_table(args.out_table)
        if args.out is not None:
            result.write(args.out, if_exists=args.if_exists)
        if args.save_scoring:
            result.scoring.save(args.save_scoring)
        model_path = None
        if result.churn is not None and args.out is not None and not is_database_url(args.out):
            model_path = Path(args.out).with_suffix(".churn.json")  # beside the scores file (not for a table)
            result.churn.save(model_path)
        if not args.quiet:
            print(result.stats.summary(), file=sys.stderr)
            where = " and ".join(redact(x) for x in (args.out, args.out_table) if x)
            print(f"wrote {result.stats.customers:,} customers to {where}", file=sys.stderr)
            if model_path is not None:
                print(f"churn: {result.churn.describe()}; model saved to {model_path}", file=sys.stderr)
    return 0


def cmd_offers(args: argparse.Namespace) -> int:
    if is_database_url(args.out):
        check_database_output(args.out, args.if_exists)
    else:
        output_format(args.out)
    path = args.offers or load_config(args.config).offers
    if path is None:
        raise InputError("rfm offers: no offer catalogue; pass --offers offers.yaml or set offers: in the config")
    catalogue = load_catalogue(path)  # a bad catalogue fails before the data is read
    with load_orders(args) as orders:
        orders.build_order_table()  # the offer step reads it: one scan serves the scoring and the offers
        result = orders.score(
            as_of=args.as_of, scoring=args.scoring, churn=args.churn, churn_model=args.churn_model, offers=NO_OFFERS
        )
        offers = score_offers(orders, result, catalogue, top_k=args.top_k)
        offers.write(args.out, if_exists=args.if_exists)
        best = offers.best
    if not args.quiet:
        with_offer = best.filter(pl.col("next_best_offer").is_not_null()).height
        print(result.stats.summary(), file=sys.stderr)
        print(
            f"wrote top offers for {best.height:,} customers to {redact(args.out)}; "
            f"{best.height - with_offer:,} have no eligible offer",
            file=sys.stderr,
        )
    return 0


def cmd_segments(args: argparse.Namespace) -> int:
    with load_orders(args) as orders:
        result = orders.score(
            as_of=args.as_of, scoring=args.scoring, churn=args.churn, churn_model=args.churn_model, offers=args.offers
        )
        summary = result.segment_summary()
    if args.format == "csv":
        sys.stdout.write(summary.write_csv())
    elif args.format == "json":
        sys.stdout.write(summary.write_json() + "\n")
    else:
        print(f"Segments as of {result.as_of} ({result.stats.customers:,} customers, rule set {result.ruleset.name})")
        print(format_table(summary, SEGMENT_COLUMNS))
    if not args.quiet:
        print(result.stats.summary(), file=sys.stderr)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    result = run_backtest(
        args.orders, args.config, calibration_end=args.calibration_end, horizon_days=parse_days(args.horizon),
        table=args.table, offers=args.offers, engine=args.engine, spark_remote=args.spark_remote, query=args.query,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods is not None else None,
        memory_limit=args.memory_limit, threads=args.threads, temp_directory=args.temp_directory,
    )
    print(result.report())
    if args.out:
        result.save(args.out)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)  # printed once below, with the grid
        cfg = load_config(args.config)
    ruleset = resolve_rules(cfg.segments, bins=cfg.scoring.bins, actions=cfg.actions, source=cfg.source, warn=False)
    print(f"{cfg.source}: valid; rule set {ruleset.name} over {cfg.scoring.bins}^3 = {cfg.scoring.bins**3} cells")
    # an R-F-M cell counts for each segment that wins it for some customers (a metric bound may split a cell)
    counts = (
        ruleset.grid.filter("feasible")
        .unique(["r_score", "f_score", "m_score", "segment"])
        .group_by("segment", "action", "segment_order").len().sort("segment_order")
    )
    for rec in counts.iter_rows(named=True):
        print(f"  {rec['segment']:<24} {rec['action']:<11} {rec['len']:>4} cells")
    if ruleset.conditions:
        print(f"  metric bounds (absolute): {'; '.join(map(str, ruleset.conditions))}; "
              "a cell can hold a segment per bound")
    for message in grid_warnings(ruleset, cfg.source):
        print(f"warning: {message}", file=sys.stderr)
    return 0
