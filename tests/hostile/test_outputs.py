"""Outputs never clobber inputs, land together or not at all, and bad paths get one line (issue 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rfm.cli import main

ORDERS = "customer_id,order_id,order_date,amount\nA,1,2024-01-01,10\nB,2,2024-02-01,20\nA,3,2024-03-01,5\n"


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "o.csv"
    path.write_text(ORDERS)
    return path


def run(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--out", "{o}"], "error: {o}: --out would overwrite the orders input; write it to another file"),
        (["--out", "{d}/s.csv", "--save-scoring", "{o}"],
         "error: {o}: --save-scoring would overwrite the orders input; write it to another file"),
        (["--out", "{d}/o.parquet", "--config", "{d}/o.churn.json"],
         "error: {d}/o.churn.json: the churn model (beside --out) would overwrite the --config input; "
         "write it to another file"),
    ],
    ids=["out-is-input", "scoring-is-input", "churn-json-is-config"],
)
def test_an_output_never_replaces_an_input(orders, tmp_path, capsys, extra, message):
    if "--config" in extra:
        (tmp_path / "o.churn.json").write_text("scoring:\n  bins: 4\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = [a.format(o=orders, d=tmp_path) for a in extra]
    code, errors = run(capsys, "score", str(orders), *args)
    assert (code, errors) == (2, [message.format(o=orders, d=tmp_path)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written, nothing changed


def test_parquet_input_as_output(tmp_path, capsys):
    import polars as pl

    path = tmp_path / "o.parquet"
    pl.read_csv(ORDERS.encode()).write_parquet(path)
    before = path.read_bytes()
    code, errors = run(capsys, "score", str(path), "--out", str(path))
    assert (code, errors) == (2, [f"error: {path}: --out would overwrite the orders input; write it to another file"])
    assert path.read_bytes() == before


def test_two_outputs_on_one_path_are_refused(orders, tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.write_text("the previous scores\n")
    code, errors = run(capsys, "score", str(orders), "--out", str(out), "--save-scoring", str(out))
    assert (code, errors) == (2, [f"error: {out}: --out and --save-scoring would both be written here; "
                                  "give each its own path"])
    assert out.read_text() == "the previous scores\n"


def test_outputs_land_together_or_not_at_all(orders, tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.write_text("the previous scores\n")
    code, errors = run(capsys, "score", str(orders), "--out", str(out), "--save-scoring", str(tmp_path / "nodir" / "s.json"))
    assert (code, errors) == (2, [f"error: {tmp_path}/nodir/s.json: directory {tmp_path}/nodir does not exist; "
                                  "create it first"])
    assert out.read_text() == "the previous scores\n"  # the scores were not written either
    # and a run that fails late (a churn model that cannot be fitted on 2 customers) leaves no trace
    code, errors = run(capsys, "score", str(orders), "--out", str(out), "--churn", "bgnbd")
    assert code == 4 and out.read_text() == "the previous scores\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_out_is_a_directory(orders, tmp_path, capsys):
    target = tmp_path / "scores.csv"
    target.mkdir()
    code, errors = run(capsys, "score", str(orders), "--out", str(target))
    assert (code, errors) == (2, [f"error: {target}: is a directory; give a file name (e.g. {target}/scores.parquet)"])


def test_an_output_group_commits_all_or_nothing(tmp_path):
    from rfm._files import output_group, write_text

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("old a")
    with pytest.raises(RuntimeError, match="the run failed after its first output"):
        with output_group():
            write_text(first, "new a")
            assert first.read_text() == "old a"  # not yet: outputs land when the run ends
            write_text(second, "new b")
            raise RuntimeError("the run failed after its first output")
    assert first.read_text() == "old a" and not second.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    with output_group():
        write_text(first, "new a")
        write_text(second, "new b")
    assert (first.read_text(), second.read_text()) == ("new a", "new b")


def test_placeholder_dates_are_dropped_and_counted(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01,10\nB,2,9999-12-31,20\nC,3,1850-01-01,5\n")
    for config in ({}, {"input": {"duplicates": "keep"}}):  # both routes: the one-scan totals and the order table
        cfg = tmp_path / "c.yaml"
        cfg.write_text("input:\n  duplicates: keep\n" if config else "{}\n")
        code = main(["score", str(path), "-c", str(cfg), "-o", str(tmp_path / "s.csv")])
        err = capsys.readouterr().err
        assert code == 0 and "Traceback" not in err
        assert f"{path}: read 3 lines, scored 1 customers" in err
        assert "dropped 2 dated before 1900 or after 2099" in err
        assert (tmp_path / "s.csv").read_text().splitlines()[1].startswith("A,2024-01-01,2024-01-01,1,1,10.0")


def test_a_config_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text(ORDERS)
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"scoring:\n  bins: 4 # \xe9t\xe9\n")
    code, errors = run(capsys, "score", str(path), "-c", str(cfg), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (3, [f"error: {cfg}:2: not UTF-8 (byte 0xe9); save the file as UTF-8"])


def test_a_wrong_separator_is_named(tmp_path, capsys):
    path = tmp_path / "o.csv"
    path.write_text(ORDERS.replace(",", ";"))
    cfg = tmp_path / "c.yaml"
    cfg.write_text('input:\n  csv:\n    delimiter: ","\n')
    code, errors = run(capsys, "score", str(path), "-c", str(cfg), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (2, [f'error: {path}: the file has one column, "customer_id;order_id;order_date;amount", '
                                  'which looks ";"-separated; set input.csv.delimiter: ";"'])


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "1e15"])
def test_amounts_rfm_cannot_sum_are_named(tmp_path, capsys, value):
    path = tmp_path / "o.csv"
    path.write_text(ORDERS + f"B,4,2024-03-02,{value}\n")
    code, errors = run(capsys, "score", str(path), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (2, [
        f'error: {path}: column "amount" has a value rfm cannot use (first: "{value}" on line 5); amounts must be '
        "finite numbers below 100,000,000,000,000 in absolute value (they are summed exactly, as DECIMAL(18, 4)); "
        "fix or remove those lines"])
    assert not (tmp_path / "s.csv").exists()


def test_temp_files_of_a_killed_run_are_swept(orders, tmp_path, capsys):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".s.csv.{int(dead.stdout)}.abc123.tmp"  # the writer's pid is gone: a killed run
    live = tmp_path / f".s.csv.{os.getppid()}.def456.tmp"  # a live writer (pytest's parent): left alone
    stale.write_text("half a file")
    live.write_text("being written")
    assert main(["score", str(orders), "-q", "-o", str(tmp_path / "s.csv")]) == 0
    assert not stale.exists() and live.exists()
    assert (tmp_path / "s.csv").read_text().startswith("customer_id,")


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_header_naming_a_column_twice(tmp_path, capsys, sep):
    path = tmp_path / "o.csv"
    path.write_text(f"customer_id{sep}order_id{sep}order_date{sep}amount{sep}amount\nA{sep}1{sep}2024-01-01{sep}10{sep}20\n")
    code, errors = run(capsys, "score", str(path), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (2, [f'error: {path}: the header names "amount" twice (columns 4 and 5); '
                                  "rename one of them so each column has its own name"])


def test_duckdb_spills_under_the_system_temp_directory(tmp_path):
    import tempfile

    from rfm.engine import DuckDBEngine

    engine = DuckDBEngine(memory_limit="200MB")
    try:
        spill = engine._rows("SELECT current_setting('temp_directory')", None)[0][0]
    finally:
        engine.close()
    assert spill.startswith(tempfile.gettempdir()) and "rfm-spill-" in spill


@pytest.mark.parametrize(
    ("value", "unit", "day"),
    [(1704844800, "seconds", "2024-01-10"), (1704844800000, "milliseconds", "2024-01-10")],
)
def test_epoch_dates_are_named_as_such(tmp_path, capsys, value, unit, day):
    import polars as pl

    path = tmp_path / "o.parquet"
    pl.DataFrame({"customer_id": ["A"], "order_id": [1], "order_date": [value], "amount": [10.0]}).write_parquet(path)
    code, errors = run(capsys, "score", str(path), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (2, [
        f'error: {path}: column "order_date" holds numbers (first: {value}) that look like Unix epoch {unit} '
        f"({day}), not dates; export the column as dates (or timestamps), e.g. in SQL: to_timestamp(order_date)"])


def test_yyyymmdd_numbers_still_get_their_format(tmp_path, capsys):
    import polars as pl

    path = tmp_path / "o.parquet"
    pl.DataFrame({"customer_id": ["A"], "order_id": [1], "order_date": [20240110], "amount": [10.0]}).write_parquet(path)
    code, errors = run(capsys, "score", str(path), "-o", str(tmp_path / "s.csv"))
    assert (code, errors) == (2, [f'error: {path}: column "order_date" holds numbers (first: 20240110), not dates; '
                                  'set input.date_format: "%Y%m%d" to read them as dates'])
