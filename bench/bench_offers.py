"""Benchmark: offer fit for 20 offers over ~10 million order lines.

    python bench/bench_offers.py [--lines 10M] [--offers 20] [--runs 1] [--data-dir /tmp/rfm-bench-offers]

Generates the orders once with `rfm.synthetic.generate_orders` (cached by size
in --data-dir), then runs each case in a fresh process and reports wall time
and the child's peak RSS:

* floor: DuckDB's bare grouped pass (customer x category) over the Parquet file;
* rfm score: load + customer scoring (what `score_offers` needs first);
* rfm score + offers: the same plus `score_offers` (20 offers, top 3) and
  writing the top-k table, with the offer step timed separately inside.

Affinity is one grouped pass over the lines (customer x category); the only
cross product is customers x offers.  Not a test: run it by hand and paste
the table into docs/offers.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import parse_size  # this folder is sys.path[0] when run as a script

CATEGORIES = ["Books", "Music", "Electronics", "Home", "Garden", "Toys", "Sports", "Beauty"]
ACTIONS = ["retain", "upsell", "reactivate", "nurture"]

FLOOR = """
import duckdb, sys
con = duckdb.connect()
con.sql('''SELECT customer_id, category, sum(amount) AS spend, count(DISTINCT order_id) AS orders
           FROM read_parquet($p) GROUP BY ALL''', params={'p': sys.argv[1]}).write_parquet(sys.argv[2])
"""




def catalogue(n: int) -> dict:
    """``n`` offers: one per category, then pairs of categories, with varied prices, targets and eligibility."""
    offers = []
    for i in range(n):
        first = CATEGORIES[i % len(CATEGORIES)]
        cats = [first] if i < len(CATEGORIES) else [first, CATEGORIES[(i * 3 + 1) % len(CATEGORIES)]]
        if len(cats) == 2 and cats[0] == cats[1]:
            cats = [first]
        offer = {"id": f"offer-{i + 1:02d}", "categories": cats, "targets": {"actions": [ACTIONS[i % 4]]}}
        if i % 3 == 0:
            offer["price_range"] = [10 + 5 * i, 40 + 10 * i]
        else:
            offer["price"] = 15 + 7 * i
        if i % 4 == 1:
            offer["eligibility"] = {"min_monetary": 50}
        if i % 5 == 2:
            offer["eligibility"] = {"exclude_bought_within_days": 30}
        offers.append(offer)
    return {"top_k": 3, "offers": offers}


def child(path: str, out: str, n_offers: int, with_offers: bool) -> None:
    import rfm
    from rfm.offers import score_offers

    t0 = time.perf_counter()
    orders = rfm.Orders(path)
    if with_offers:
        orders.build_order_table()  # the offer step reads it: one scan serves both
    result = orders.score()
    t1 = time.perf_counter()
    report = {"load_and_score_s": t1 - t0, "customers": result.stats.customers, "lines": result.stats.lines_read}
    if with_offers:
        scores = score_offers(orders, result, catalogue(n_offers))
        t2 = time.perf_counter()
        scores.write(out)
        t3 = time.perf_counter()
        report.update(offers_s=t2 - t1, write_s=t3 - t2, fit_rows=scores.fits.height, warnings=len(scores.warnings))
    print(json.dumps(report))


def run_child(cmd: list[str]) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (GiB) and the JSON report of one fresh child process."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "el = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(r.stdout, end='')\n"
        "print(r.stderr[-2000:], file=sys.stderr)\n"
        "print(json.dumps([r.returncode, el, rss]), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    code, elapsed, rss_kb = json.loads(proc.stderr.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return elapsed, rss_kb / 1024 / 1024, json.loads(lines[-1]) if lines else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="10M", help="approximate order lines (1M, 10M, 100M)")
    ap.add_argument("--offers", type=int, default=20)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--data-dir", default="/tmp/rfm-bench-offers")
    ap.add_argument("--child", nargs=4, metavar=("PATH", "OUT", "OFFERS", "WITH_OFFERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        path, out, n, with_offers = args.child
        child(path, out, int(n), with_offers == "1")
        return

    from rfm.synthetic import generate_orders

    lines = parse_size(args.lines)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    orders = int(lines / (1.5 + 0.05))  # 1.5 lines per purchase order, ~5 % return lines
    customers = max(1, orders * 10 // 54)
    path = data / f"orders_{args.lines}_1.5.parquet"
    if not path.exists():
        summary = generate_orders(path, customers=customers, orders=orders, seed=1, lines_per_order=1.5)
        print(f"generated {summary.lines:,} lines for {customers:,} customers in {summary.seconds:.1f} s", file=sys.stderr)
    me = str(Path(__file__).resolve())
    cases = {
        "floor: DuckDB GROUP BY customer, category": [sys.executable, "-c", FLOOR, str(path), str(data / "floor.parquet")],
        "rfm: load + score": [sys.executable, me, "--child", str(path), str(data / "offers.parquet"), str(args.offers), "0"],
        f"rfm: load + score + {args.offers} offers (top 3) + write": [
            sys.executable, me, "--child", str(path), str(data / "offers.parquet"), str(args.offers), "1"
        ],
    }
    rows = []
    for name, cmd in cases.items():
        times, rss, report = [], [], {}
        for _ in range(args.runs):
            t, r, report = run_child(cmd)
            times.append(t)
            rss.append(r)
        rows.append((name, statistics.median(times), min(times), max(times), max(rss), report))
    import duckdb

    n_lines = duckdb.sql("SELECT count(*) FROM read_parquet($p)", params={"p": str(path)}).fetchall()[0][0]
    print(f"\n{n_lines:,} order lines, {args.offers} offers; {platform.processor() or platform.machine()}, "
          f"{_cpus()} cores; median of {args.runs} run(s)\n")
    print("| case | wall s (min-max) | peak RSS GiB |")
    print("|---|---|---|")
    for name, med, lo, hi, peak, _report in rows:
        print(f"| {name} | {med:.1f} ({lo:.1f}-{hi:.1f}) | {peak:.2f} |")
    detail = rows[-1][5]
    if detail:
        print(
            f"\noffer step alone: {detail['offers_s']:.1f} s for {detail['customers']:,} customers x {args.offers} offers "
            f"({detail['fit_rows']:,} top-3 rows, written in {detail['write_s']:.1f} s); load + score "
            f"{detail['load_and_score_s']:.1f} s"
        )


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    main()
