"""Benchmark: report build time and HTML size as the customer base grows.

    python bench/bench_report.py --customers 2k,1M [--data-dir bench/out]

Generates orders with ``rfm generate`` (3 purchase orders per customer, cached
by size), loads and scores them once with churn (``churn.method: auto``), then
times the segments and campaign builds on that scoring (the campaign build
writes its CSV lists too; the first build includes making the Vega bundle,
about 2 s).  The churn report is timed end to end as ``rfm report churn`` runs
it: backtest (its own load and two churn fits), load, score, migration
scoring and build.  Prints a markdown table.  The HTML should stay about the
same size at every scale: charts are drawn from aggregates and the previews
hold 15 customers per list.  Not a test: run it by hand and paste the table
where the figures are collected.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from common import parse_size  # this folder is sys.path[0] when run as a script


def orders_file(data_dir: Path, customers: int) -> Path:
    from rfm.synthetic import generate_orders

    path = data_dir / f"report_{customers}.parquet"
    if not path.exists():
        generate_orders(path, customers=customers, orders=3 * customers, seed=7)
    return path


def bench(path: Path, out: Path, kinds: list[str], backtest: bool = True) -> dict[str, float]:
    from rfm import Orders
    from rfm.reporting import run_report, write_report

    config = {"churn": {"method": "auto"}}
    fig: dict[str, float] = {}
    started = time.perf_counter()
    orders = Orders(path, config)
    scores = orders.score()
    fig["customers"] = scores.stats.customers
    fig["score_s"] = time.perf_counter() - started
    for kind in [k for k in kinds if k != "churn"]:
        t = time.perf_counter()
        files = write_report(kind, orders, scores, out=out / f"{kind}.html")
        fig[f"{kind}_s"] = time.perf_counter() - t
        fig[f"{kind}_kb"] = files[0].stat().st_size / 1024
        fig[f"{kind}_side_mb"] = sum(p.stat().st_size for p in files[1:]) / 1024 / 1024
    del orders, scores  # frees the engine before the churn report loads its own
    if "churn" in kinds:  # end to end, as `rfm report churn` runs it
        t = time.perf_counter()
        files = run_report("churn", path, config=config, out=out / "churn.html", backtest=backtest)
        fig["churn_s"] = time.perf_counter() - t
        fig["churn_kb"] = files[0].stat().st_size / 1024
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-backtest", action="store_true", help="churn report without its backtest")
    ap.add_argument("--customers", default="2k,1M", help="comma-separated sizes, e.g. 2k,100k,1M")
    ap.add_argument("--data-dir", default="bench/out")
    ap.add_argument("--kinds", default="segments,campaign,churn", help="reports to build (churn includes the backtest)")
    args = ap.parse_args()
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    rows = []
    for size in args.customers.split(","):
        n = parse_size(size)
        path = orders_file(data_dir, n)
        out = data_dir / f"reports_{n}"
        out.mkdir(exist_ok=True)
        rows.append(bench(path, out, args.kinds.split(","), backtest=not args.no_backtest))
        print(f"{n:,} customers done", flush=True)
    print()
    print(
        "| customers | load + score (s) | segments build (s / KB) | campaign build (s / KB, CSV lists MB) "
        "| `rfm report churn` end to end (s / KB) |"
    )
    print("|---:|---:|---:|---:|---:|")
    keys = (
        "customers",
        "score_s",
        "segments_s",
        "segments_kb",
        "campaign_s",
        "campaign_kb",
        "campaign_side_mb",
        "churn_s",
        "churn_kb",
    )
    for row in rows:
        r = {k: row.get(k, float("nan")) for k in keys}
        print(
            f"| {r['customers']:,.0f} | {r['score_s']:.1f} | {r['segments_s']:.1f} / {r['segments_kb']:,.0f} | "
            f"{r['campaign_s']:.1f} / {r['campaign_kb']:,.0f}, {r['campaign_side_mb']:.1f} | "
            f"{r['churn_s']:.1f} / {r['churn_kb']:,.0f} |"
        )


if __name__ == "__main__":
    main()
