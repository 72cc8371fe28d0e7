"""``rfm`` command line: a thin layer over the library.

Each command parses arguments, calls library functions, prints a readable
result and returns an exit code.  Library errors (:class:`rfm.errors.RfmError`)
become one ``error: ...`` line on stderr and the error's exit code; warnings
become ``warning: ...`` lines.  Nothing here computes scores.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from rfm.errors import RfmError, RfmWarning

Handler = Callable[[argparse.Namespace], int]


def _add_orders_options(p: argparse.ArgumentParser, *, out: bool) -> None:
    p.add_argument("orders", help="order lines: .csv/.tsv/.txt(.gz), .parquet (file, glob or directory) or a DuckDB file")
    p.add_argument("--config", "-c", help="YAML config (columns, scoring, segments, ...); defaults when omitted")
    p.add_argument("--as-of", help="score as of this date, YYYY-MM-DD (inclusive); default: day after the last order")
    p.add_argument("--table", help="table name when ORDERS is a DuckDB database file")
    p.add_argument("--scoring", help="apply cut points saved by --save-scoring instead of fitting new ones")
    p.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB (spills to disk beyond it)")
    p.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    p.add_argument("--temp-directory", help="where DuckDB spills beyond --memory-limit (default: .tmp in the "
                                             "current directory)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary line (warnings still print)")
    p.add_argument("--churn", choices=("none", "auto", "bgnbd", "recency_ratio"),
                   help="add churn risk, expected orders and CLV (overrides churn.method; default none)")
    p.add_argument("--churn-model", help="apply a churn model saved by an earlier run instead of fitting")
    p.add_argument("--offers", help="offer catalogue (YAML): add next_best_offer, offer_fit, offer_reason")
    if out:
        p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
        p.add_argument("--save-scoring", help="also save the cut points used (JSON) to reuse on another snapshot")


def _orders(args: argparse.Namespace) -> Any:
    from rfm.customers import Orders

    return Orders(
        args.orders,
        args.config,
        table=args.table,
        memory_limit=args.memory_limit,
        threads=args.threads,
        temp_directory=args.temp_directory,
        progress=not args.quiet and sys.stderr.isatty(),
    )


def cmd_score(args: argparse.Namespace) -> int:
    from rfm.io import output_format

    output_format(args.out)  # fail before the work on a bad extension
    result = _orders(args).score(
        as_of=args.as_of, scoring=args.scoring, churn=args.churn, churn_model=args.churn_model, offers=args.offers
    )
    result.write(args.out)
    if args.save_scoring:
        result.scoring.save(args.save_scoring)
    model_path = None
    if result.churn is not None:
        model_path = Path(args.out).with_suffix(".churn.json")
        result.churn.save(model_path)
    if not args.quiet:
        print(result.stats.summary(), file=sys.stderr)
        print(f"wrote {result.stats.customers:,} customers to {args.out}", file=sys.stderr)
        if model_path is not None:
            print(f"churn: {result.churn.describe()}; model saved to {model_path}", file=sys.stderr)
    return 0


def cmd_offers(args: argparse.Namespace) -> int:
    from rfm.io import output_format
    from rfm.offers import load_catalogue, score_offers

    from rfm.config import load_config
    from rfm.errors import InputError

    output_format(args.out)
    path = args.offers or load_config(args.config).offers
    if path is None:
        raise InputError("rfm offers: no offer catalogue; pass --offers offers.yaml or set offers: in the config")
    catalogue = load_catalogue(path)  # a bad catalogue fails before the data is read
    orders = _orders(args)
    result = orders.score(
        as_of=args.as_of, scoring=args.scoring, churn=args.churn, churn_model=args.churn_model, offers=catalogue
    )
    offers = result.offers if args.top_k is None else score_offers(orders, catalogue, as_of=result.as_of, top_k=args.top_k)
    offers.write(args.out)
    if not args.quiet:
        best = offers.best
        with_offer = best.filter(pl.col("next_best_offer").is_not_null()).height
        print(result.stats.summary(), file=sys.stderr)
        print(
            f"wrote top offers for {best.height:,} customers to {args.out}; "
            f"{best.height - with_offer:,} have no eligible offer",
            file=sys.stderr,
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rfm.reporting import run_report

    written = run_report(
        args.kind, args.orders, config=args.config, out=args.out, as_of=args.as_of,
        compare_as_of=args.compare_as_of, calibration_end=args.calibration_end, horizon=parse_days(args.horizon),
        offers=args.offers, leads=args.leads, events=args.events, outcomes=args.outcomes, lead_grid=args.grid,
        churn=args.churn, table=args.table, backtest=not args.no_backtest, png=args.png, svg=args.svg,
        memory_limit=args.memory_limit, temp_directory=args.temp_directory,
    )
    if not args.quiet:
        extra = f" and {len(written) - 1} file(s) beside it:" if len(written) > 1 else ""
        print(f"wrote {written[0]}{extra}", file=sys.stderr)
        for path in written[1:]:
            print(f"  {path.name}", file=sys.stderr)
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    from rfm.backtest import run_backtest

    result = run_backtest(
        args.orders, args.config, calibration_end=args.calibration_end, horizon_days=parse_days(args.horizon),
        table=args.table, offers=args.offers,
    )
    print(result.report())
    if args.out:
        result.save(args.out)
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


def parse_days(text: str | None) -> int | None:
    """``90``, ``90d``, ``13w`` or ``6m`` (30.4375-day months) as days."""
    if text is None:
        return None
    from rfm.errors import InputError

    raw = text.strip().lower()
    scale = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        raise InputError(f'--horizon "{text}" is not a duration; write e.g. 90d, 13w or 6m') from None
    if value <= 0:
        raise InputError(f'--horizon "{text}" must be positive')
    return int(round(value))


def cmd_segments(args: argparse.Namespace) -> int:
    result = _orders(args).score(
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


SEGMENT_COLUMNS = {
    "segment": ("Segment", "{}"),
    "customers": ("Customers", "{:,}"),
    "customer_share": ("Share", "{:.1%}"),
    "revenue": ("Revenue", "{:,.2f}"),
    "revenue_share": ("Rev. share", "{:.1%}"),
    "median_recency_days": ("Med. recency (d)", "{:,.0f}"),
    "median_frequency": ("Med. orders", "{:,.1f}"),
    "median_monetary": ("Med. monetary", "{:,.2f}"),
    "action": ("Action", "{}"),
}


def format_table(frame: pl.DataFrame, columns: dict[str, tuple[str, str]]) -> str:
    """A plain fixed-width text table; numbers right-aligned."""
    heads = [title for title, _ in columns.values()]
    rows = []
    for rec in frame.iter_rows(named=True):
        rows.append(["" if rec[c] is None else fmt.format(rec[c]) for c, (_, fmt) in columns.items()])
    numeric = [frame.schema[c].is_numeric() for c in columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def cmd_check(args: argparse.Namespace) -> int:
    from rfm.config import load_config
    from rfm.segments import grid_warnings, resolve_rules

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)  # printed once below, with the grid
        cfg = load_config(args.config)
    ruleset = resolve_rules(cfg.segments, bins=cfg.scoring.bins, actions=cfg.actions, source=cfg.source, warn=False)
    print(f"{cfg.source}: valid; rule set {ruleset.name} over {cfg.scoring.bins}^3 = {cfg.scoring.bins**3} cells")
    counts = ruleset.grid.group_by("segment", "action", "segment_order").len().sort("segment_order")
    for rec in counts.iter_rows(named=True):
        print(f"  {rec['segment']:<24} {rec['action']:<11} {rec['len']:>4} cells")
    problems = grid_warnings(ruleset, cfg.source)
    for message in problems:
        print(f"warning: {message}", file=sys.stderr)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from rfm.errors import InputError
    from rfm.generate import generate_orders

    if args.leads is not None:
        from rfm.leads.cli import cmd_leads_generate

        args.format = "csv" if str(args.out).endswith(".csv") else "parquet"
        return cmd_leads_generate(args)
    if args.customers is None or args.orders is None:
        raise InputError("rfm generate: give --customers and --orders for order lines, or --leads N for leads")
    started = time.perf_counter()
    summary = generate_orders(
        args.out,
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        lines_per_order=args.lines_per_order,
    )
    if not args.quiet:
        print(
            f"wrote {summary.lines:,} order lines ({summary.orders:,} orders, {summary.customers:,} customers) "
            f"to {args.out} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from rfm.demo import run_demo

    for line in run_demo(args.out):
        print(line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rfm",
        description="Customer-value analytics: RFM scores, segments and actions from order history.",
    )
    from rfm import __version__

    parser.add_argument("--version", action="version", version=f"rfm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("score", help="score every customer: metrics, R/F/M scores, segment, action")
    _add_orders_options(p, out=True)
    p.set_defaults(handler=cmd_score)

    p = sub.add_parser("segments", help="print a per-segment summary table")
    _add_orders_options(p, out=False)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    p.set_defaults(handler=cmd_segments)

    p = sub.add_parser("offers", help="offer fit per customer and offer, and the next best offer")
    _add_orders_options(p, out=False)
    p.add_argument("--top-k", type=int, help="offers per customer (default: the catalogue's top_k, 3)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
    p.set_defaults(handler=cmd_offers)

    p = sub.add_parser("backtest", help="score as of a calibration end and compare churn/CLV with the holdout")
    p.add_argument("orders", help="order lines (as for rfm score)")
    p.add_argument("--calibration-end", required=True, help="last day of the calibration period, YYYY-MM-DD")
    p.add_argument("--horizon", help="holdout length: 90d, 13w, 6m (default churn.horizon_days)")
    p.add_argument("--config", "-c", help="YAML config")
    p.add_argument("--table", help="table name when ORDERS is a DuckDB database file")
    p.add_argument("--offers", help="offer catalogue: also report the top offer's hit rate")
    p.add_argument("--out", "-o", help="also write every figure as JSON (for reports)")
    p.set_defaults(handler=cmd_backtest)

    p = sub.add_parser("report", help="write a self-contained HTML report (segments, campaign or churn)")
    p.add_argument("kind", choices=("segments", "campaign", "churn"), help="which report")
    p.add_argument("orders", help="order lines (as for rfm score)")
    p.add_argument("--out", "-o", required=True,
                   help="output .html; campaign CSV lists and --png/--svg charts go beside it")
    p.add_argument("--config", "-c", help="YAML config")
    p.add_argument("--as-of", help="report as of this date, YYYY-MM-DD (default: day after the last order)")
    p.add_argument("--table", help="table name when ORDERS is a DuckDB database file")
    p.add_argument("--churn", choices=("none", "auto", "bgnbd", "recency_ratio"),
                   help="churn model (churn report default: auto)")
    p.add_argument("--compare-as-of", help="churn: earlier date of the segment migration matrix (default: as-of - 90 days)")
    p.add_argument("--calibration-end", help="churn: backtest calibration end (default: as-of minus the horizon)")
    p.add_argument("--horizon", help="churn horizon and backtest holdout: 90d, 13w, 6m (default churn.horizon_days)")
    p.add_argument("--no-backtest", action="store_true",
                   help="churn: leave the backtest out (it reloads the orders and fits both models)")
    p.add_argument("--offers", help="campaign: offer catalogue YAML (default: offers: in the config)")
    p.add_argument("--leads", help="leads file: adds the leads section (needs --events)")
    p.add_argument("--events", help="engagement events of the leads")
    p.add_argument("--outcomes", help="lead outcomes: adds conversion by tier")
    p.add_argument("--grid", "-g", help="lead-scoring grid YAML (default: the shipped example)")
    p.add_argument("--png", action="store_true", help="also write every chart as PNG beside the report")
    p.add_argument("--svg", action="store_true", help="also write every chart as SVG beside the report")
    p.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 4GB (spills to disk beyond it)")
    p.add_argument("--temp-directory", help="where DuckDB spills beyond --memory-limit (default: .tmp)")
    p.add_argument("--quiet", "-q", action="store_true", help="do not list the files written")
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("check", help="validate a config and show how its segment rules cover the score grid")
    p.add_argument("config", nargs="?", help="YAML config (default: built-in defaults)")
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("generate", help="write deterministic synthetic order lines, or leads with --leads")
    p.add_argument("--customers", type=int, help="number of customers")
    p.add_argument("--orders", type=int, help="number of purchase orders (>= customers)")
    p.add_argument("--leads", type=int, help="leads mode: N synthetic leads, their events and outcomes, into the "
                   "directory --out (planted conversion effects, see rfm leads generate)")
    p.add_argument("--events-per-lead", type=float, default=12.0, help="leads mode: mean events per lead")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--lines-per-order", type=float, default=1.5, help="mean lines per order (1 = one line each)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (leads mode: a directory)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    p.set_defaults(handler=cmd_generate)

    from rfm.leads.cli import register as register_leads

    register_leads(sub)

    p = sub.add_parser("demo", help="run the main job on the bundled demo data and write the results")
    p.add_argument("--out", "-o", default="rfm-demo", help="output directory (default: ./rfm-demo)")
    p.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        try:
            code = handler(args)
        except RfmError as exc:
            _flush(caught)
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print("error: interrupted; no output was written", file=sys.stderr)
            return 130
    _flush(caught)
    return code


def _flush(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        if issubclass(w.category, RfmWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"warning: {w.message}", file=sys.stderr)


def entry() -> None:  # console script
    sys.exit(main())


if __name__ == "__main__":
    entry()
