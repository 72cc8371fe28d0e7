from __future__ import annotations

import re

import duckdb

from rfm.engine._progress import enable, progress


def test_progress_line_on_stderr_and_cleared(capsys):
    con = duckdb.connect()
    enable(con)
    con.execute("CREATE TABLE t AS SELECT i % 100003 AS k, i AS v FROM range(20000000) r(i)")
    with progress(con, "reading orders", True, interval=0.02):
        con.execute("CREATE TABLE g AS SELECT k, sum(v) FROM t GROUP BY k")
    err = capsys.readouterr().err
    assert re.search(r"\rreading orders +\d+\.\d%", err)
    assert err.endswith("\r")  # the line is wiped when done


def test_progress_off_prints_nothing(capsys):
    con = duckdb.connect()
    with progress(con, "reading orders", False):
        con.execute("SELECT 1")
    assert capsys.readouterr().err == ""
