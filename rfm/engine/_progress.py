"""Progress on stderr for long statements.

A background thread polls the connection's ``query_progress()`` while a
statement runs and redraws one line (``reading orders  42.0%  12.3 s``) on
stderr.  Off unless asked for; the CLI asks only when stderr is a terminal and
``--quiet`` is not given.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


def enable(con: duckdb.DuckDBPyConnection) -> None:
    """Let DuckDB track progress without printing its own bar."""
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")


@contextmanager
def progress(con: duckdb.DuckDBPyConnection, label: str, enabled: bool, interval: float = 0.25) -> Iterator[None]:
    if not enabled:
        yield
        return
    stop = threading.Event()
    started = time.perf_counter()

    def poll() -> None:
        shown = False
        while not stop.wait(interval):
            try:
                pct = con.query_progress()
            except duckdb.Error:
                break
            if pct is not None and pct >= 0:
                sys.stderr.write(f"\r{label} {pct:5.1f}%  {time.perf_counter() - started:5.1f} s")
                sys.stderr.flush()
                shown = True
        if shown:
            sys.stderr.write("\r" + " " * (len(label) + 20) + "\r")
            sys.stderr.flush()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
