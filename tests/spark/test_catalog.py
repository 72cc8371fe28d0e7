"""Spark catalog tables: orders read with --table, scores written with --out-table."""

from __future__ import annotations

import polars as pl

from rfm.cli import main
from tests.spark.parity import assert_same

ORDERS = (
    "customer_id,order_id,order_date,amount,status\n"
    "A,1,2024-01-05,10.50,complete\nA,2,2024-03-01,20.00,complete\nB,3,2024-02-10,5.25,complete\n"
    "B,4,2024-02-11,7.00,cancelled\nC,5,2024-03-02,99.99,complete\nC,6,2024-03-03,-9.99,refund\n"
)


def test_table_in_table_out(spark_session, tmp_path, capsys):
    csv = tmp_path / "orders.csv"
    csv.write_text(ORDERS)
    spark_session.createDataFrame(pl.read_csv(csv, try_parse_dates=True).to_pandas()).write.mode(
        "overwrite"
    ).saveAsTable("rfm_test_orders")
    try:
        code = main([
            "score", "--engine", "spark", "--table", "rfm_test_orders", "--as-of", "2024-03-31",
            "--out", str(tmp_path / "spark.parquet"), "--out-table", "rfm_test_scores", "--quiet",
        ])
        assert code == 0, capsys.readouterr().err
        assert main(["score", str(csv), "--as-of", "2024-03-31", "--out", str(tmp_path / "duck.parquet"), "-q"]) == 0
        duck = pl.read_parquet(tmp_path / "duck.parquet")
        assert duck["customer_id"].to_list() == ["A", "B", "C"]
        assert duck["frequency"].to_list() == [2, 1, 1]  # B's cancelled line is dropped on both engines
        assert_same(duck, pl.read_parquet(tmp_path / "spark.parquet"), label="--table input")
        table = pl.from_arrow(spark_session.table("rfm_test_scores").orderBy("customer_id").toArrow())
        assert_same(duck, table, label="--out-table")
    finally:
        spark_session.sql("DROP TABLE IF EXISTS rfm_test_orders")
        spark_session.sql("DROP TABLE IF EXISTS rfm_test_scores")


def test_no_input_and_no_table_is_refused(spark_session, tmp_path, capsys):
    assert main(["score", "--engine", "spark", "--out", str(tmp_path / "s.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: no orders given; pass a file (or, with --engine spark, --table catalog.schema.table)"
    )


def test_config_engine_spark_prints_what_duckdb_prints(spark_session, golden_csv, tmp_path):
    """engine: {name: spark} in the config; the JVM's own output stays out of the terminal."""
    import re
    import subprocess
    import sys

    (tmp_path / "spark.yaml").write_text("engine:\n  name: spark\n  conf: {spark.sql.shuffle.partitions: '3'}\n")
    runs = {}
    for engine, extra in (("duckdb", []), ("spark", ["--config", str(tmp_path / "spark.yaml")])):
        run = subprocess.run(
            [sys.executable, "-m", "rfm.cli", "score", str(golden_csv), "--as-of", "2024-07-01",
             "--out", str(tmp_path / f"{engine}.csv"), *extra],
            capture_output=True, text=True, timeout=300,
        )
        assert run.returncode == 0, run.stderr
        runs[engine] = re.sub(r"\(\d+\.\d+ s\)", "(s)", run.stderr.replace(f"{engine}.csv", "OUT"))
    assert runs["spark"] == runs["duckdb"]
    assert "customers to" in runs["duckdb"]
    assert pl.read_csv(tmp_path / "spark.csv").equals(pl.read_csv(tmp_path / "duckdb.csv"))
