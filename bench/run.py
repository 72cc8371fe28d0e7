"""Benchmark harness (issue 7): `rfm` against the floor and its peers, same file, fresh processes.

    python bench/run.py --lines 10M [--lines-per-order 1.5] [--runs 3]
                        [--peers-python /path/to/bench-venv/bin/python] [--timeout 600]
                        [--memory-cap 18] [--memory-limit 4GB] [--skip CASE ...] [--out table.md]
                        [--json results.json] [--compare earlier.json]

For each size it generates the order lines once with ``rfm generate`` (cached
in --data-dir by size and lines per order; about one customer per ten lines),
then runs every case in a fresh process, --runs times, and reports the median
wall time with min-max and the peak RSS of the child (``ru_maxrss``):

* the floor: a bare DuckDB scan + ``GROUP BY customer_id`` with ``max(order_date)``,
  ``count(DISTINCT order_id)``, ``sum(amount)``, written to Parquet;
* ``rfm score`` (RFM + segments, the default one-scan path); with
  ``duplicates: keep`` (checked, the order-table path); with a memory limit;
  with BG/NBD churn + CLV; with the demo offer catalogue; ``rfm report segments``;
* the Spark engine (``--engine spark``, a local session): its own floor (the
  same query on Spark, collected), ``rfm score`` and ``rfm score --churn bgnbd``
  (the JVM is a child of the rfm process and is not waited for: its memory is
  not in the peak RSS; ``bench/spark_plans.py`` counts each command's shuffles);
* peers, run by --peers-python (a virtualenv with ``pip install -e '.[bench]'``):
  a hand-written pandas RFM, lifetimes' summary + BG/NBD fit, pymc-marketing's
  ``rfm_summary`` + ``rfm_segments`` (see bench/peers.py).  A peer that is not
  installed, runs past --timeout or grows past --memory-cap is recorded as
  such in the table, not left out.

Then it checks agreement: our recency/frequency/monetary equal, customer for
customer, those of the floor's query with our two rules added (excluded
statuses dropped; only purchase lines, amount >= 0, make an order a visit).
The markdown table (with date, machine and versions) goes to stdout and
--out; --json saves the numbers, and --compare REF (an earlier --json) adds a
table of each case now against then, so a change's effect is one command.
Not a test: run by hand, paste the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from common import parse_size  # noqa: E402
from peers import peer_command  # noqa: E402

FLOOR = """
import duckdb, sys
con = duckdb.connect()
con.sql('''SELECT customer_id, max(order_date) AS last_order_date, count(DISTINCT order_id) AS frequency,
                  sum(amount) AS monetary
           FROM read_parquet($p) GROUP BY customer_id''', params={'p': sys.argv[1]}).write_parquet(sys.argv[2])
"""

# The same floor on Spark (a local session as rfm starts one): the distributed engine's own floor.
SPARK_FLOOR = """
import sys
from rfm.engine._spark import SparkEngine
spark = SparkEngine._start(None, {})
spark.read.parquet(sys.argv[1]).createOrReplaceTempView('lines')
spark.sql('SELECT customer_id, max(order_date) AS last_order_date, count(DISTINCT order_id) AS frequency, '
          'sum(amount) AS monetary FROM lines GROUP BY customer_id').toArrow()
"""

# The floor's query with rfm's rules: what `rfm score` must reproduce exactly.
REFERENCE = """
SELECT customer_id,
       max(order_date) FILTER (WHERE amount >= 0) AS last_order_date,
       count(DISTINCT order_id) FILTER (WHERE amount >= 0) AS frequency,
       sum(CAST(amount AS DECIMAL(18, 4))) AS monetary
FROM read_parquet($p)
WHERE customer_id IS NOT NULL AND NOT coalesce(list_contains($excluded, lower(trim(status))), false)
GROUP BY customer_id
HAVING count(*) FILTER (WHERE amount >= 0) > 0
"""

# The child wrapper: runs the command, polls its RSS against the cap, reports
# [exit code, seconds, peak RSS KiB, why-stopped] as JSON on its last stderr line.
WRAPPER = r"""
import json, resource, subprocess, sys, tempfile, time
timeout, cap_kib = float(sys.argv[1]), int(sys.argv[2])
cmd = sys.argv[3:]
err_file = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty child never blocks
t = time.perf_counter()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file)
why = ""
def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0
while True:
    try:
        proc.wait(timeout=0.05)  # returns the moment the child ends: no polling error in the time
        break
    except subprocess.TimeoutExpired:
        pass
    if time.perf_counter() - t > timeout:
        proc.kill(); proc.wait(); why = "timeout"; break
    if cap_kib and rss(proc.pid) > cap_kib:
        proc.kill(); proc.wait(); why = "memory"; break
elapsed = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
err_file.seek(0)
err = err_file.read()
tail = err.strip().splitlines()[-1] if err.strip() else ""
print(json.dumps([proc.returncode, elapsed, peak, why, tail]), file=sys.stderr)
"""


@dataclass
class Outcome:
    times: list[float]
    rss_gib: float
    status: str  # "" when every run succeeded




def run_once(cmd: list[str], timeout: float, cap_gib: float) -> tuple[float, float, str]:
    cap_kib = int(cap_gib * 1024 * 1024) if cap_gib else 0
    proc = subprocess.run([sys.executable, "-c", WRAPPER, str(timeout), str(cap_kib), *cmd],
                          capture_output=True, text=True)
    code, elapsed, peak_kib, why, tail = json.loads(proc.stderr.strip().splitlines()[-1])
    if why == "timeout":
        return elapsed, peak_kib / 2**20, f"timed out after {timeout:.0f} s"
    if why == "memory":
        return elapsed, peak_kib / 2**20, f"stopped at the {cap_gib:g} GiB memory cap"
    if code == 3:
        return elapsed, peak_kib / 2**20, f"not installed ({tail})"
    if code != 0:
        return elapsed, peak_kib / 2**20, f"failed, exit {code}: {tail[:120]}"
    return elapsed, peak_kib / 2**20, ""


def measure(cmd: list[str], runs: int, timeout: float, cap_gib: float) -> Outcome:
    times, rss = [], []
    for _ in range(runs):
        elapsed, peak, status = run_once(cmd, timeout, cap_gib)
        if status:
            return Outcome(times or [elapsed], peak, status)
        times.append(elapsed)
        rss.append(peak)
    return Outcome(times, max(rss), "")


def generate(rfm_bin: str, data: Path, lines: int, lpo: float, label: str) -> Path:
    path = data / f"orders_{label}_{lpo:g}.parquet"
    if not path.exists():
        orders = int(lines / (lpo + 0.05))  # generate adds ~5 % return lines
        customers = max(1, lines // 10)
        subprocess.run([rfm_bin, "generate", "--customers", str(customers), "--orders", str(orders), "--seed", "1",
                        "--lines-per-order", str(lpo), "--out", str(path), "-q"], check=True)
    return path


def versions(peers_python: str | None) -> str:
    import duckdb
    import polars

    from rfm import __version__

    parts = [f"Python {platform.python_version()}", f"rfm {__version__}", f"duckdb {duckdb.__version__}",
             f"polars {polars.__version__}"]
    if peers_python:
        probe = ("import importlib.metadata as m\n"
                 "for p in ('pandas','lifetimes','pymc-marketing'):\n"
                 "    try: print(p, m.version(p))\n"
                 "    except Exception: print(p, 'not installed')\n")
        out = subprocess.run([peers_python, "-c", probe], capture_output=True, text=True).stdout.split("\n")
        parts += [line for line in out if line]
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def agreement(path: Path, ours: Path, excluded: list[str]) -> tuple[int, int]:
    """(customers compared, customers that differ) between rfm score and the reference query."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE ref AS {REFERENCE}", {"p": str(path), "excluded": excluded})
    n, bad = con.sql(
        """SELECT count(*), count(*) FILTER (WHERE s.customer_id IS NULL OR r.customer_id IS NULL
                                              OR s.last_order_date <> r.last_order_date
                                              OR s.frequency <> r.frequency
                                              OR abs(s.net - CAST(r.monetary AS DOUBLE)) > 1e-6)
           FROM ref AS r FULL JOIN read_parquet($s) AS s USING (customer_id)""",
        params={"s": str(ours)},
    ).fetchall()[0]
    return int(n), int(bad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="10M", help="order lines: 1M, 10M, 100M (comma-separated for several)")
    ap.add_argument("--lines-per-order", default="1.5", help="mean lines per order (comma-separated: 1,1.5)")
    ap.add_argument("--runs", type=int, default=3, help="runs per case (median, min-max)")
    ap.add_argument("--data-dir", default=str(HERE / "out"))
    ap.add_argument("--peers-python", help="python of a venv with the bench extra (pandas, lifetimes, pymc-marketing)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a case is stopped and recorded")
    ap.add_argument("--memory-cap", type=float, default=18.0, help="GiB of RSS at which a case is stopped and recorded "
                                                                     "(0: none)")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit of the 'rfm score --memory-limit' case")
    ap.add_argument("--limit-all", action="store_true",
                    help="give every rfm case --memory-limit (as a user with 100 M lines would)")
    ap.add_argument("--skip", nargs="*", default=[], help="case keys to leave out (floor is always run)")
    ap.add_argument("--out", help="also write the markdown to this file")
    ap.add_argument("--json", help="also write the results (seconds, GiB, x floor per case) to this JSON file")
    ap.add_argument("--compare", metavar="REF", help="a JSON file of an earlier run (--json): print each case's "
                                                       "time and x floor against it")
    args = ap.parse_args()
    reference = json.loads(Path(args.compare).read_text()) if args.compare else None
    saved: dict[str, dict[str, dict[str, float | str]]] = {}

    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    rfm_bin = str(Path(sys.executable).with_name("rfm"))
    cap = args.memory_cap
    offers = ROOT / "rfm" / "presets" / "offers_demo.yaml"
    keep_cfg = data / "duplicates_keep.yaml"
    keep_cfg.write_text("input:\n  duplicates: keep\n")
    lines_md = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; {versions(args.peers_python)}. "
                f"Median of {args.runs} fresh-process runs (min-max); peak RSS of the process; "
                f"cases stopped at {args.timeout:.0f} s or {cap:g} GiB are marked.", ""]
    for label in args.lines.split(","):
        for lpo in (float(x) for x in args.lines_per_order.split(",")):
            path = generate(rfm_bin, data, parse_size(label), lpo, label)
            tmp = Path(tempfile.mkdtemp(prefix="rfm-bench-", dir=data))
            out = lambda name: str(tmp / name)  # noqa: E731
            cases: dict[str, tuple[str, list[str]]] = {
                "floor": ("floor: DuckDB scan + GROUP BY (count DISTINCT)",
                          [sys.executable, "-c", FLOOR, str(path), out("floor.parquet")]),
                "score": ("rfm score (RFM + segments)", [rfm_bin, "score", str(path), "-q", "-o", out("scores.parquet")]),
                "limit": (f"rfm score --memory-limit {args.memory_limit}",
                          [rfm_bin, "score", str(path), "-q", "--memory-limit", args.memory_limit,
                           "--temp-directory", str(tmp / "spill"), "-o", out("scores_limit.parquet")]),
                "keep": ("rfm score, duplicates: keep (checked)",
                         [rfm_bin, "score", str(path), "-q", "-c", str(keep_cfg), "-o", out("scores_keep.parquet")]),
                "churn": ("rfm score --churn bgnbd (+ CLV)",
                          [rfm_bin, "score", str(path), "-q", "--churn", "bgnbd", "-o", out("scores_churn.parquet")]),
                "offers": ("rfm score --offers (demo catalogue)",
                           [rfm_bin, "score", str(path), "-q", "--offers", str(offers), "-o", out("scores_offers.parquet")]),
                "pnbd": ("rfm score --churn pnbd (+ CLV)",
                         [rfm_bin, "score", str(path), "-q", "--churn", "pnbd", "-o", out("scores_pnbd.parquet")]),
                "propensity": ("rfm score --churn propensity",
                               [rfm_bin, "score", str(path), "-q", "--churn", "propensity",
                                "-o", out("scores_propensity.parquet")]),
                "report": ("rfm report segments", [rfm_bin, "report", "segments", str(path), "-q", "-o", out("report.html")]),
                "run": ("rfm run (scores, churn, offers, three reports, lists)",
                        [rfm_bin, "run", str(path), "-q", "--offers", str(offers), "-o", out("run")]),
                "report_campaign": ("rfm report campaign",
                                    [rfm_bin, "report", "campaign", str(path), "-q", "-o", out("campaign.html")]),
                "report_churn": ("rfm report churn",
                                 [rfm_bin, "report", "churn", str(path), "-q", "-o", out("churn.html")]),
                # Spark (local session, all cores): its own floor, then the same commands with --engine spark
                "spark_floor": ("Spark floor: scan + GROUP BY (count DISTINCT), collected",
                                [sys.executable, "-c", SPARK_FLOOR, str(path)]),
                "spark_score": ("rfm score --engine spark",
                                [rfm_bin, "score", str(path), "-q", "--engine", "spark", "-o", out("spark.parquet")]),
                "spark_churn": ("rfm score --engine spark --churn bgnbd",
                                [rfm_bin, "score", str(path), "-q", "--engine", "spark", "--churn", "bgnbd",
                                 "-o", out("spark_churn.parquet")]),
            }
            if args.limit_all:
                for key, (name, cmd) in list(cases.items()):
                    if key not in ("floor", "limit", "score") and cmd[0] == rfm_bin:
                        cases[key] = (f"{name}, --memory-limit {args.memory_limit}",
                                      [*cmd, "--memory-limit", args.memory_limit,
                                       "--temp-directory", str(tmp / "spill")])
            if args.peers_python:
                for peer, name in (("pandas", "pandas RFM (hand-written)"),
                                   ("lifetimes", "lifetimes summary + BG/NBD fit"),
                                   ("pymc", "pymc-marketing rfm_summary + rfm_segments")):
                    cases[peer] = (name, peer_command(peer, str(path), out(f"{peer}.parquet"), python=args.peers_python))
            results: dict[str, Outcome] = {}
            for key, (name, cmd) in cases.items():
                if key in args.skip and key != "floor":
                    continue
                print(f"  {label} x {lpo:g}: {name} ...", file=sys.stderr, flush=True)
                results[key] = measure(cmd, args.runs, args.timeout, cap)
            import duckdb

            con = duckdb.connect()
            n_lines, n_cust, n_orders = con.sql(
                "SELECT count(*), count(DISTINCT customer_id), count(DISTINCT order_id) FROM read_parquet($p)",
                params={"p": str(path)}).fetchall()[0]
            floor = statistics.median(results["floor"].times)
            size = saved.setdefault(f"{label} x {lpo:g}", {})
            for key, res in results.items():
                med = statistics.median(res.times)
                size[key] = {"name": cases[key][0], "status": res.status, "median_s": med, "min_s": min(res.times),
                             "max_s": max(res.times), "rss_gib": res.rss_gib, "x_floor": med / floor}
            lines_md += [f"**{n_lines:,} order lines** ({n_orders:,} orders, {n_cust:,} customers, "
                         f"{n_lines / n_orders:.2f} lines per order), Parquet {path.stat().st_size / 2**20:,.0f} MiB", "",
                         "| case | median s (min–max) | peak RSS GiB | × floor |", "|---|---|---|---|"]
            for key, res in results.items():
                name = cases[key][0]
                if res.status:
                    lines_md.append(f"| {name} | {res.status} | {res.rss_gib:.2f} | – |")
                    continue
                med = statistics.median(res.times)
                lines_md.append(f"| {name} | {med:.2f} ({min(res.times):.2f}–{max(res.times):.2f}) | "
                                f"{res.rss_gib:.2f} | {med / floor:.2f} |")
            if "score" in results and not results["score"].status:
                from rfm.inputs import InputConfig

                n, bad = agreement(path, tmp / "scores.parquet", [s.lower() for s in InputConfig().excluded_statuses])
                lines_md += ["", f"Agreement: {n:,} customers compared with the floor's query under rfm's rules "
                                 f"(excluded statuses dropped, visits = orders with a line >= 0); {bad:,} differ."]
            lines_md.append("")
            for f in tmp.glob("**/*"):
                if f.is_file():
                    f.unlink()
    if reference is not None:
        lines_md += compare(saved, reference, args.compare)
    text = "\n".join(lines_md)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"measured": time.strftime("%Y-%m-%d"), "machine": machine(),
                                               "results": saved}, indent=2) + "\n")


def compare(now: dict[str, dict[str, dict]], ref: dict, ref_path: str) -> list[str]:
    """Markdown rows: each case's median and x floor now and in the reference run, and now / then."""
    out = [f"Compared with {ref_path} ({ref.get('measured', '?')}, {ref.get('machine', '?')}):", ""]
    for size, cases in now.items():
        before = ref.get("results", {}).get(size, {})
        out += [f"**{size}**", "", "| case | s now | s then | now / then | × floor now | × floor then |",
                "|---|---|---|---|---|---|"]
        for key, case in cases.items():
            old = before.get(key)
            if case["status"] or not old or old["status"]:
                why = case["status"] or (old["status"] if old else "not in the reference")
                out.append(f"| {case['name']} | – | – | {why} | – | – |")
                continue
            out.append(f"| {case['name']} | {case['median_s']:.2f} | {old['median_s']:.2f} | "
                       f"{case['median_s'] / old['median_s']:.2f} | {case['x_floor']:.2f} | {old['x_floor']:.2f} |")
        out.append("")
    return out


if __name__ == "__main__":
    main()
