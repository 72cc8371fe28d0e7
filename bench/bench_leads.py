"""Benchmark: `score_leads` on 1M leads x 50M events with the shipped example grid.

    python bench/bench_leads.py [--leads 1M] [--events 50M] [--runs 1] [--data-dir bench/out] [--in-memory]

Generates leads and events directly with numpy/polars once (cached as Parquet
in --data-dir), then scores them in a fresh child process per run, so the
numbers are the scoring run alone: wall time, CPU time (user + system, which a
busy machine does not inflate) and peak RSS of the child.  By default the child
reads the Parquet files through polars' lazy scans (how `rfm leads score` reads
them); with --in-memory it loads them into DataFrames first and the peak RSS
includes that data.  Not a test: run it by hand and paste the lines into docs/leads.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from common import parse_size  # this folder is sys.path[0] when run as a script

ROOT = Path(__file__).resolve().parent.parent
INDUSTRIES = ["software", "saas", "fintech", "manufacturing", "retail", "healthcare", "education", "government"]
TITLES = ["VP Marketing", "Director of IT", "CTO", "Marketing Manager", "Engineer", "Analyst", "Student", "Owner",
          "Head of Sales", "Consultant"]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "CA", "IN", "BR", "ES", "IT"]
SOURCES = ["web", "referral", "event", "partner", "paid_search"]
DOMAINS = ["gmail.com", "acme.io", "example.com", "corp.net", "yahoo.com", "rivalsoft.com", "firm.de"]
TYPES = ["page_view", "email_open", "email_click", "content_download", "webinar_attended", "demo_request",
         "trial_signup", "opportunity_created", "unsubscribe", "email_bounce"]
TYPE_P = [0.50, 0.25, 0.12, 0.05, 0.03, 0.015, 0.01, 0.005, 0.01, 0.01]
PAGES = ["/pricing", "/blog/a", "/blog/b", "/blog/c", "/product", "/about", "/careers", "/docs", "/pricing?plan=team",
         "/blog/d"]
AS_OF = date(2024, 6, 30)

CHILD = """
import json, resource, sys, time
import polars as pl
sys.path.insert(0, sys.argv[1])
from rfm.leads import score_leads
leads, events = sys.argv[2], sys.argv[3]
if sys.argv[4] == "memory":
    leads, events = pl.read_parquet(leads), pl.read_parquet(events)
cpu0 = time.process_time()
t = time.perf_counter()
result = score_leads(leads, events, None, as_of=sys.argv[5])
wall = time.perf_counter() - t
cpu = time.process_time() - cpu0
tiers = dict(result.table.group_by("tier").len().iter_rows())
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "cpu": cpu, "rss_kb": rss, "summary": result.stats.summary(), "tiers": tiers}))
"""




def pick(names: list[str], codes: np.ndarray) -> pl.Series:
    return pl.Series(names, dtype=pl.String).gather(pl.Series(codes.astype(np.uint32)))


def make_leads(n: int, rng: np.random.Generator) -> pl.DataFrame:
    size = np.round(np.exp(rng.normal(4.5, 1.6, n))).astype(np.int64)
    size_s = pl.Series(size).cast(pl.String).scatter(np.flatnonzero(rng.random(n) < 0.3), None)
    created = pl.Series(np.datetime64(AS_OF - timedelta(days=720)) + rng.integers(0, 720, n).astype("timedelta64[D]"))
    frame = pl.DataFrame(
        {
            "lead_id": np.arange(n, dtype=np.int64),
            "domain": pick(DOMAINS, rng.integers(0, len(DOMAINS), n)),
            "company_no": rng.integers(0, n // 3 + 1, n),
            "job_title": pick(TITLES, rng.integers(0, len(TITLES), n)),
            "industry": pick(INDUSTRIES, rng.integers(0, len(INDUSTRIES), n)),
            "company_size": size_s,
            "country": pick(COUNTRIES, rng.integers(0, len(COUNTRIES), n)),
            "source": pick(SOURCES, rng.integers(0, len(SOURCES), n)),
            "created_date": created.cast(pl.Date),
        }
    )
    return frame.select(
        "lead_id",
        pl.concat_str(pl.lit("u"), pl.col("lead_id").cast(pl.String), pl.lit("@"), pl.col("domain")).alias("email"),
        pl.concat_str(pl.lit("Co"), pl.col("company_no").cast(pl.String)).alias("company"),
        "job_title", "industry", "company_size", "country", "source", "created_date",
    )


def make_events(n: int, leads: int, rng: np.random.Generator) -> pl.DataFrame:
    # Skewed activity: a few leads are very active, most are not.
    lead = np.minimum((rng.pareto(1.2, n) * leads / 20).astype(np.int64), leads - 1)
    lead = rng.permutation(leads)[lead]
    types = rng.choice(len(TYPES), n, p=TYPE_P).astype(np.uint32)
    start = np.datetime64(datetime.combine(AS_OF - timedelta(days=365), datetime.min.time()), "us")
    ts = start + rng.integers(0, 365 * 86_400_000_000, n).astype("timedelta64[us]")
    detail = pick(PAGES, rng.integers(0, len(PAGES), n))
    frame = pl.DataFrame({"lead_id": lead, "event_type": pick(TYPES, types), "timestamp": ts, "detail": detail})
    return frame.with_columns(
        pl.when(pl.col("event_type") == "page_view").then(pl.col("detail")).otherwise(None).alias("detail")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", default="1M")
    ap.add_argument("--events", default="50M")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--data-dir", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--in-memory", action="store_true", help="load the Parquet files into frames before scoring")
    args = ap.parse_args()
    n_leads, n_events = parse_size(args.leads), parse_size(args.events)
    data = Path(args.data_dir) / f"leads_{args.leads}_{args.events}_{args.seed}"
    leads, events = data / "leads.parquet", data / "events.parquet"
    if not events.exists():
        data.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(args.seed)
        t = time.perf_counter()
        make_leads(n_leads, rng).write_parquet(leads)
        make_events(n_events, n_leads, rng).write_parquet(events)
        print(f"generated {n_leads:,} leads and {n_events:,} events in {time.perf_counter() - t:.1f} s -> {data}")

    runs = []
    for _ in range(args.runs):
        mode = "memory" if args.in_memory else "scan"
        cmd = [sys.executable, "-c", CHILD, str(ROOT), str(leads), str(events), mode, AS_OF.isoformat()]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr)
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    wall = [r["wall"] for r in runs]
    load = os.getloadavg()[0]
    print(f"{platform.machine()}, {os.cpu_count()} cores (load average {load:.1f}), "
          f"Python {platform.python_version()}, polars {pl.__version__}, {time.strftime('%Y-%m-%d')}; input: "
          f"{'Parquet loaded into frames' if args.in_memory else 'Parquet files, lazy scans'}")
    print(f"score_leads, {n_leads:,} leads x {n_events:,} events: wall {statistics.median(wall):.1f} s "
          f"(min {min(wall):.1f}, max {max(wall):.1f}, {len(wall)} run(s)), "
          f"CPU {statistics.median(r['cpu'] for r in runs):.1f} s, "
          f"peak RSS {max(r['rss_kb'] for r in runs) / 2**20:.2f} GiB")
    print(runs[-1]["summary"])
    print("tiers:", ", ".join(f"{k} {v:,}" for k, v in sorted(runs[-1]["tiers"].items())))


if __name__ == "__main__":
    main()
