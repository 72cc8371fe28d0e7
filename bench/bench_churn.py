"""Benchmark: churn scoring (BG/NBD + Gamma-Gamma, CLV) on many customers.

    python bench/bench_churn.py --customers 10M [--orders-per-customer 2.5]

Generates one-line orders with `rfm generate` (cached), loads them once, scores
RFM, then times the churn step alone (SQL statistics, grouping, fit, per-triple
predictions, join back) and reports distinct triples and the fitted parameters.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import parse_size  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", default="10M")
    ap.add_argument("--orders-per-customer", type=float, default=2.5)
    ap.add_argument("--data-dir", default="bench/out")
    args = ap.parse_args()
    customers = parse_size(args.customers)
    orders = int(customers * args.orders_per_customer)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    path = data / f"churn_{args.customers}.parquet"
    if not path.exists():
        subprocess.run([str(Path(sys.executable).with_name("rfm")), "generate", "--customers", str(customers),
                        "--orders", str(orders), "--lines-per-order", "1", "--seed", "2", "--out", str(path)],
                       check=True)
    import warnings

    from rfm.churn import add_churn
    from rfm.customers import ChurnConfig, OrderHistory

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    o = OrderHistory(path, {"input": {"duplicates": "unchecked"}})
    o.build_order_table()
    scores = o.score()
    t1 = time.perf_counter()
    scored = add_churn(o, scores, config=ChurnConfig(method="bgnbd"))
    t2 = time.perf_counter()
    model = scored.churn
    n = scored.churn_table.count()
    stats = o.engine.create("churn.build_stats", {"orders": o.order_table}, as_of=scores.as_of,
                            time_unit_days=model.time_unit_days)
    triples = o.engine.fetch("churn.triples", {"stats": stats}).height
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"{n:,} customers, {triples:,} distinct (x, t_x, T) triples")
    print(f"load + RFM: {t1 - t0:.1f} s; churn (stats, fit, predictions, join): {t2 - t1:.1f} s; peak RSS {rss:.2f} GiB")
    print(model.describe())


if __name__ == "__main__":
    main()
