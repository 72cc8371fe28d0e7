"""The same bad input gives the same one-line error and exit code on both engines."""

from __future__ import annotations

import pytest

from rfm.cli import main

HEADER = "customer_id,order_id,order_date,amount,status\n"
CASES = {
    "missing column": (
        "customer_id,order_id,order_date\nA,1,2024-01-01\n", None,
        'error: {path}: required column "amount" not found (columns: customer_id, order_id, order_date); '
        "map it in the config: input.columns.amount: <column name>", 2,
    ),
    "unparseable date": (
        HEADER + "A,1,2024-01-01,10,complete\nB,2,2024-02-30x,5,complete\n", None,
        'error: {path}: column "order_date" has values that are not dates (first: "2024-02-30x" on line 3); '
        "fix the value or set input.date_format to the format the column uses", 2,
    ),
    "non-numeric amount": (
        HEADER + "A,1,2024-01-01,10,complete\nB,2,2024-01-02,$5,complete\n", None,
        'error: {path}: column "amount" has non-numeric values (first: "$5" on line 3); '
        "clean the column (numbers only, no currency signs)", 2,
    ),
    "decimal comma": (
        HEADER + "A,1,2024-01-01,10,complete\nB,2,2024-01-02,\"5,5\",complete\n", None,
        'error: {path}: column "amount" has non-numeric values (first: "5,5" on line 3); '
        'set input.csv.decimal: "," or clean the column', 2,
    ),
    "empty amount on a kept line": (
        HEADER + "A,1,2024-01-01,10,complete\nB,2,2024-01-02,,complete\n", None,
        'error: {path}: column "amount" is empty on some order lines (first: customer B, row 2); '
        "fill in amount or remove those lines", 2,
    ),
    "NaN amount": (
        HEADER + "A,1,2024-01-01,10,complete\nB,2,2024-01-02,nan,complete\n", None,
        'error: {path}: column "amount" has a value rfm cannot use (first: "nan" on line 3); amounts must be finite '
        "numbers below 100,000,000,000,000 in absolute value (they are summed exactly, as DECIMAL(18, 4)); "
        "fix or remove those lines", 2,
    ),
    "header only": (
        HEADER, None,
        "error: {path}: no order lines (the input has a header but no rows); export the orders again", 2,
    ),
    "everything cancelled": (
        HEADER + "A,1,2024-01-01,10,cancelled\n", None,
        "error: {path}: all 1 lines were dropped (0 without customer id, 1 with an excluded status); "
        "check input.excluded_statuses", 2,
    ),
    "bad config": (
        HEADER + "A,1,2024-01-01,10,complete\n", "scoring:\n  binz: 4\n",
        'error: {config}: unknown key "binz" in scoring; did you mean "bins"? '
        "(known keys: bins, cut_points, monetary, window_days)", 3,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_same_error_on_both_engines(spark_session, case, tmp_path, capsys):
    text, config, expected, code = CASES[case]
    path = tmp_path / "orders.csv"
    path.write_text(text)
    args = ["score", str(path), "--out", str(tmp_path / "scores.csv"), "--quiet"]
    if config is not None:
        (tmp_path / "cfg.yaml").write_text(config)
        args += ["--config", str(tmp_path / "cfg.yaml")]
    for engine in ("duckdb", "spark"):
        assert main([*args, "--engine", engine]) == code, engine
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [expected.format(path=path, config=tmp_path / "cfg.yaml")], engine
        assert not (tmp_path / "scores.csv").exists()


def test_spark_without_the_extra_names_it(tmp_path, capsys, monkeypatch):
    from rfm.engine import _settings

    monkeypatch.setattr(_settings, "spark_available", lambda: False)
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "A,1,2024-01-01,10,complete\n")
    assert main(["score", str(path), "--out", str(tmp_path / "s.csv"), "--engine", "spark"]) == 3
    assert capsys.readouterr().err.strip() == (
        "error: the Spark engine needs pyspark and sqlglot; install them with: pip install 'rfm[spark]'"
    )


def test_missing_java_is_named(monkeypatch):
    from rfm.engine._spark import SparkEngine
    from rfm.errors import ConfigError

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match=r"the Spark engine needs Java 17 or later, and no java was found"):
        SparkEngine._start(None, {})


def test_out_table_needs_spark(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "A,1,2024-01-01,10,complete\n")
    assert main(["score", str(path), "--out", str(tmp_path / "s.csv"), "--out-table", "db.scores"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --out-table db.scores: catalog tables are written by Spark; add --engine spark"
    )
    assert not (tmp_path / "s.csv").exists()


def test_ansi_is_on_and_a_users_setting_comes_back(spark_session):
    """Spark with ANSI off silently gives a wrong or NULL segment for an index out of range;
    the engine turns it on for its life and restores the user's session afterwards."""
    from rfm.engine import EngineSettings, open_engine

    spark_session.conf.set("spark.sql.ansi.enabled", "false")
    try:
        engine = open_engine(EngineSettings(name="spark"))
        assert spark_session.conf.get("spark.sql.ansi.enabled") == "true"
        from rfm.errors import DataError

        with pytest.raises(DataError, match=r"CAST_INVALID_INPUT"):  # raised by an executor, not folded
            engine._rows("SELECT CAST(concat(CAST(id AS STRING), 'x') AS DOUBLE) FROM range(3)", None)
        engine.close()
        assert spark_session.conf.get("spark.sql.ansi.enabled") == "false"
    finally:
        spark_session.conf.set("spark.sql.ansi.enabled", "true")


def test_an_old_java_is_named(monkeypatch, tmp_path):
    from rfm.engine._spark import SparkEngine
    from rfm.errors import ConfigError

    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_392"\' >&2\n')
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"needs Java 17 or later, and .*/bin/java is Java 8; install a JDK 17\+"):
        SparkEngine._start(None, {})
