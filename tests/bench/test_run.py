"""bench/run.py: the harness's agreement check and size parsing (the timing itself is not a test)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl

import rfm
from rfm.inputs import InputConfig
from rfm.synthetic import generate_orders

ROOT = Path(__file__).resolve().parents[2]


def _load_run():
    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run = _load_run()
EXCLUDED = [s.lower() for s in InputConfig().excluded_statuses]


def test_parse_size():
    assert [run.parse_size(t) for t in ("1M", "10m", "2.5K", "100_000", "1G")] == [
        1_000_000, 10_000_000, 2_500, 100_000, 1_000_000_000]


def test_scores_agree_with_the_floor_query_under_our_rules(tmp_path):
    orders = tmp_path / "orders.parquet"
    generate_orders(orders, customers=800, orders=4000, seed=3, lines_per_order=1.5)
    scores = tmp_path / "scores.parquet"
    rfm.score_customers(orders).write(scores)
    n, bad = run.agreement(orders, scores, EXCLUDED)
    assert (n, bad) == (pl.read_parquet(scores).height, 0)


def test_agreement_catches_a_wrong_frequency(tmp_path):
    orders = tmp_path / "orders.parquet"
    generate_orders(orders, customers=300, orders=1500, seed=4)
    scores = tmp_path / "scores.parquet"
    table = rfm.score(orders)
    table.with_columns(pl.when(pl.int_range(pl.len()) < 7).then(pl.col("frequency") + 1)
                       .otherwise(pl.col("frequency")).alias("frequency")).write_parquet(scores)
    assert run.agreement(orders, scores, EXCLUDED) == (table.height, 7)
