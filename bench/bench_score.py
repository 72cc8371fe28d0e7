"""Benchmark: `rfm score` against the floor (a bare DuckDB scan + group-by).

    python bench/bench_score.py --lines 10M [--runs 3] [--data-dir bench/out]

Generates the orders with `rfm generate` once (cached by size), then times each
case in a fresh process (wall time and peak RSS of the child), median of
--runs with min-max, and prints a markdown table with the ratio to the floor.
Also checks that our recency/frequency/monetary equal the floor's, customer for
customer. Not a test: run it by hand and paste the table into the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FLOOR = """
import duckdb, sys
con = duckdb.connect()
con.sql('''SELECT customer_id, max(order_date) AS last, count(DISTINCT order_id) AS f, sum(amount) AS m
           FROM read_parquet($p) GROUP BY 1''', params={'p': sys.argv[1]}).write_parquet(sys.argv[2])
"""


def parse_size(text: str) -> int:
    text = text.upper().replace("_", "")
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMG")) * mult)


def run_child(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GiB) of one fresh child process."""
    wrapper = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:])\n"
        "el = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([r.returncode, el, rss]), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True)
    code, elapsed, rss_kb = json.loads(proc.stderr.strip().splitlines()[-1])
    if code != 0:
        raise SystemExit(f"{cmd} failed:\n{proc.stderr}")
    return elapsed, rss_kb / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="10M", help="approximate order lines (1M, 10M, 100M)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data-dir", default="bench/out")
    ap.add_argument("--lines-per-order", type=float, default=1.5)
    args = ap.parse_args()
    lines = parse_size(args.lines)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    orders = int(lines / (args.lines_per_order * 1.0 + 0.05))
    customers = max(1, orders * 10 // 54)
    path = data / f"orders_{args.lines}_{args.lines_per_order}.parquet"
    if not path.exists():
        subprocess.run([str(Path(sys.executable).with_name("rfm")), "generate", "--customers", str(customers), "--orders", str(orders), "--seed", "1",
                        "--lines-per-order", str(args.lines_per_order), "--out", str(path)], check=True)
    unchecked = data / "unchecked.yaml"
    unchecked.write_text("input:\n  duplicates: unchecked\n")
    rfm_bin = str(Path(sys.executable).with_name("rfm"))
    cases = {
        "floor: DuckDB scan + GROUP BY": [sys.executable, "-c", FLOOR, str(path), str(data / "floor.parquet")],
        "rfm score (RFM + segments)": [rfm_bin, "score", str(path), "--out", str(data / "scores.parquet"), "-q"],
        "rfm score, duplicates unchecked": [rfm_bin, "score", str(path), "-c", str(unchecked),
                                            "--out", str(data / "scores_u.parquet"), "-q"],
        "rfm score + churn (BG/NBD, CLV)": [rfm_bin, "score", str(path), "--churn", "bgnbd",
                                            "--out", str(data / "scores_c.parquet"), "-q"],
    }
    results = {}
    for name, cmd in cases.items():
        times, rss = [], []
        for _ in range(args.runs):
            t, r = run_child(cmd)
            times.append(t)
            rss.append(r)
        results[name] = (statistics.median(times), min(times), max(times), max(rss))
    floor = results["floor: DuckDB scan + GROUP BY"][0]
    import duckdb

    con = duckdb.connect()
    mismatches = con.sql(
        """SELECT count(*) FROM read_parquet($f) f FULL JOIN read_parquet($s) s USING (customer_id)
           WHERE s.customer_id IS NULL OR f.customer_id IS NULL""",
        params={"f": str(data / "floor.parquet"), "s": str(data / "scores.parquet")},
    ).fetchall()[0][0]
    n_lines = con.sql("SELECT count(*) FROM read_parquet($p)", params={"p": str(path)}).fetchall()[0][0]
    print(f"\n{n_lines:,} order lines, {customers:,} customers; {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, duckdb {duckdb.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| case | median s (min–max) | peak RSS GiB | × floor |")
    print("|---|---|---|---|")
    for name, (med, lo, hi, rss) in results.items():
        print(f"| {name} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {rss:.2f} | {med / floor:.2f} |")
    print(f"\ncustomers in only one output: {mismatches} (the floor keeps customers whose only orders were "
          "cancelled or refunds; rfm drops and counts them)")


if __name__ == "__main__":
    main()
