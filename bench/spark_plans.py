"""How many shuffles each ``rfm`` command costs on Spark, from the executed query plans.

    python bench/spark_plans.py ORDERS [--churn bgnbd] [--offers catalogue.yaml]

Runs ``Orders(ORDERS, engine="spark").score(...)`` and, for every statement the
engine runs (tables it materialises, frames it hands back), counts the
Exchange operators (shuffles) of the executed plan.  Not a test: a profile for
docs/spark.md.
"""

from __future__ import annotations

import argparse
import re
import time
import warnings

from rfm.engine._spark import SparkEngine
from rfm.pipeline import Orders

seen: list[tuple[str, int, float]] = []


def exchanges(df) -> int:
    plan = df._jdf.queryExecution().executedPlan().toString()
    return len(re.findall(r"Exchange (?:hashpartitioning|rangepartitioning|SinglePartition|RoundRobinPartitioning)", plan))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("orders")
    ap.add_argument("--churn")
    ap.add_argument("--offers")
    args = ap.parse_args()

    materialise, to_polars, rows = SparkEngine._materialise, SparkEngine._to_polars, SparkEngine._rows

    def counted_rows(self, sql, params, limit=None):
        t = time.perf_counter()
        out = rows(self, sql, params, limit)
        seen.append(("rows", exchanges(self.spark.sql(sql)), time.perf_counter() - t))
        return out

    def counted_materialise(self, name, sql, params):
        t = time.perf_counter()
        order = materialise(self, name, sql, params)
        seen.append((name, exchanges(self.spark.sql(sql)), time.perf_counter() - t))
        return order

    def counted_to_polars(self, rel, limit):
        t = time.perf_counter()
        frame = to_polars(self, rel, limit)
        df = self.dataframe(rel)
        seen.append((f"read {getattr(rel, 'label', 'query')}", exchanges(df), time.perf_counter() - t))
        return frame

    SparkEngine._materialise = counted_materialise
    SparkEngine._to_polars = counted_to_polars
    SparkEngine._rows = counted_rows
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    with Orders(args.orders, engine="spark") as orders:
        orders.score(churn=args.churn, offers=args.offers).write("/tmp/rfm-plans.parquet")
    total = time.perf_counter() - t
    for name, n, secs in seen:
        print(f"{n:3d} shuffles  {secs:7.2f} s  {name}")
    print(f"{sum(n for _, n, _ in seen):3d} shuffles in all, {total:.1f} s")


if __name__ == "__main__":
    main()
