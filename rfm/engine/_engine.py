"""The engine: one object that owns the connection and runs every statement.

Everything SQL goes through an :class:`Engine`: it holds the in-process DuckDB
connection and its settings (memory limit, threads, spill directory, time
zone), runs the named blocks of ``queries/`` with bound parameters,
materialises intermediate results under names it makes up itself, registers
small frames and hands results back as polars frames or streams them to
files.  Callers never see a table name: they hold :class:`Table` handles and
pass them to the next block as ``tables={"orders": handle}``.  A handle's
table is dropped once the handle is garbage-collected, so a result that owns
its handles owns its data, and nothing is left on the connection for the next
caller to find.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from rfm._files import output_format, write_atomic
from rfm.engine import _progress
from rfm.engine._errors import first_line, translated
from rfm.engine._queries import query
from rfm.engine._sources import Sources
from rfm.engine._tables import QueryRows, Relation, Table, quote_ident
from rfm.errors import EngineError

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
FORMULA_START = r"^[=+\-@\t\r]"
_LABEL = re.compile(r"[^a-z0-9_]+")


class Engine(Sources):
    """The one seam to the database: DuckDB in process (see the module docstring)."""

    def __init__(
        self,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
        progress: bool = False,
    ) -> None:
        self._con = duckdb.connect()
        self._serial = itertools.count(1)
        self._garbage: list[tuple[str, str]] = []
        self._threads = threads
        self._progress = progress
        self._attached: str | None = None  # the alias of an attached DuckDB database file
        self._lines_built = False  # order_lines() has run (one view per engine)
        try:  # dates of time-zone-aware timestamps are taken in UTC, whatever the machine's zone
            self._con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # without ICU, DuckDB works in UTC anyway
            pass
        with translated("engine settings: "):
            if memory_limit:
                self._con.execute("SET memory_limit = $m", {"m": memory_limit})
            if threads:
                self._con.execute("SET threads = $t", {"t": threads})
            if temp_directory:
                self._con.execute("SET temp_directory = $d", {"d": temp_directory})
        if progress:
            _progress.enable(self._con)

    # --- running blocks -----------------------------------------------------------------

    def run(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> None:
        """Run a statement block (a type or macro definition) to completion."""
        sql, bound = self._render(block, tables, params)
        self._execute(sql, bound)

    def create(
        self,
        block: str,
        /,
        tables: Mapping[str, Table] | None = None,
        *,
        progress: str | None = None,
        **params: Any,
    ) -> Table:
        """Materialise a query block as a new table; ``progress`` labels the progress line of a long scan."""
        q = query(block)
        sql, bound = self._render(block, tables, params, rows=True)
        name = self._new_name(q.name)
        with self._showing(progress):
            self._execute(f"CREATE TEMP TABLE {quote_ident(name)} AS {sql}", bound)
        return Table(self, name, "table", q.name)

    def view(self, block: str, /, tables: Mapping[str, Table] | None = None) -> Table:
        """A view over a query block without parameters (evaluated each time it is read)."""
        q = query(block)
        if q.params:
            raise TypeError(f"query {q.name} takes parameters; a view cannot bind them (use create)")
        sql, _ = self._render(block, tables, {}, rows=True)
        return self._view(q.name, sql, tuple((tables or {}).values()))

    def query(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> QueryRows:
        """A query block with its inputs bound, run only when its rows are read or written."""
        sql, bound = self._render(block, tables, params, rows=True)
        return QueryRows(self, sql, bound, tuple((tables or {}).values()))

    def fetch(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> pl.DataFrame:
        """Run a query block; its rows as a polars frame."""
        return self.query(block, tables, **params).pl()

    def rows(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> list[tuple[Any, ...]]:
        """Run a query block; its rows as tuples (for a few rows of figures)."""
        sql, bound = self._render(block, tables, params, rows=True)
        return self._rows(sql, bound)

    def register(self, frame: Any, *, label: str) -> Table:
        """A small in-memory frame (polars, pandas or Arrow) as a table blocks can read."""
        name = self._new_name(label)
        self._collect()
        try:
            self._con.register(name, frame)
        except Exception as exc:  # duckdb raises several types for objects it cannot scan
            raise EngineError(f"cannot register {label}: {first_line(exc)}") from None
        return Table(self, name, "frame", label)

    @contextmanager
    def single_thread(self) -> Iterator[None]:
        """One thread for the statements inside: row numbers then follow the file's order."""
        self._execute("SET threads = 1", None)
        try:
            yield
        finally:
            if self._threads:
                self._execute("SET threads = $t", {"t": self._threads})
            else:
                self._execute("RESET threads", None)

    def close(self) -> None:
        """Close the connection: every table of this engine is gone with it."""
        self._con.close()

    # --- internals ----------------------------------------------------------------------

    def _render(
        self, block: str, tables: Mapping[str, Table] | None, params: Mapping[str, Any], rows: bool = False
    ) -> tuple[str, dict[str, Any] | None]:
        q = query(block)
        if rows and not q.returns_rows:
            raise TypeError(f"query {q.name} ({q.file}:{q.line}) is a statement, not a query; use run()")
        for key, table in (tables or {}).items():
            if not isinstance(table, Table) or table.engine is not self:
                raise TypeError(f"query {q.name}: table {key!r} is not a table of this engine")
        sql = q.render({k: t._name for k, t in (tables or {}).items()}, quote_ident)
        return sql, q.bind(params) or None

    def _new_name(self, label: str) -> str:
        """A fresh name for a table the engine makes: a serial number and what it holds."""
        return f"rfm_{next(self._serial)}_{_LABEL.sub('_', label.rsplit('.', 1)[-1].lower())}"

    def _view(self, label: str, select: str, deps: tuple[Table, ...] = ()) -> Table:
        """A new view over ``select``; it keeps the tables it reads (``deps``) alive."""
        name = self._new_name(label)
        self._execute(f"CREATE TEMP VIEW {quote_ident(name)} AS {select}", None)
        return Table(self, name, "view", label, deps)

    @contextmanager
    def _showing(self, label: str | None) -> Iterator[None]:
        with _progress.progress(self._con, label or "", bool(label) and self._progress):
            yield

    def _execute(self, sql: str, params: dict[str, Any] | None) -> None:
        self._collect()
        with translated():
            self._con.execute(sql, params)

    def _relation(self, sql: str, params: dict[str, Any] | None) -> duckdb.DuckDBPyRelation:
        self._collect()
        return self._con.sql(sql, params=params)

    def _rows(self, sql: str, params: dict[str, Any] | None, limit: int | None = None) -> list[tuple[Any, ...]]:
        with translated():
            rel = self._relation(sql, params)
            return (rel.limit(limit) if limit is not None else rel).fetchall()

    def _first(self, sql: str, params: dict[str, Any] | None) -> tuple[Any, ...] | None:
        rows = self._rows(sql, params, limit=1)
        return rows[0] if rows else None

    def _describe(self, name: str) -> dict[str, str]:
        return {row[0]: str(row[1]) for row in self._rows(f"DESCRIBE {quote_ident(name)}", None)}

    def _to_polars(self, rel: Relation, limit: int | None) -> pl.DataFrame:
        sql, params = rel._select()
        with translated():
            r = self._relation(sql, params)
            return (r.limit(limit) if limit is not None else r).pl()

    def _write(self, rel: Relation, path: str | Path, spreadsheet_safe: bool) -> Path:
        fmt = output_format(path)
        sql, params = rel._select()
        with translated(f"{path}: "):
            r = self._relation(sql, params)
            if spreadsheet_safe:
                r = r.project(", ".join(_safe_cell(name, str(dtype)) for name, dtype in zip(r.columns, r.types)))

            def writer(tmp: Path) -> None:
                if fmt == "parquet":
                    r.write_parquet(str(tmp))
                else:
                    r.write_csv(str(tmp))

            return write_atomic(path, writer)

    def _discard(self, name: str, kind: str) -> None:
        # Called by a handle's finalizer, possibly on another thread or in the middle of a
        # statement: queue the drop and do it before the engine's next statement.
        self._garbage.append((name, kind))

    def _collect(self) -> None:
        while self._garbage:
            name, kind = self._garbage.pop()
            try:
                if kind == "frame":
                    self._con.unregister(name)
                else:
                    self._con.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {quote_ident(name)}")
            except duckdb.Error:  # the connection is closing; nothing to free
                pass


def _safe_cell(name: str, dtype: str) -> str:
    col = quote_ident(name)
    if dtype != "VARCHAR":
        return col
    return f"CASE WHEN regexp_matches({col}, '{FORMULA_START}') THEN chr(39) || {col} ELSE {col} END AS {col}"
