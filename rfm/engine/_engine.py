"""The engine seam: one object that owns the connection and runs every statement.

Everything SQL goes through an :class:`Engine`.  It runs the named blocks of
``queries/`` with bound parameters, materialises intermediate results under
names it makes up itself, registers small frames and hands results back as
polars frames or streams them to files.  Callers never see a table name: they
hold :class:`Table` handles and pass them to the next block as
``tables={"orders": handle}``.  A handle's table is dropped once the handle is
garbage-collected, so a result that owns its handles owns its data, and
nothing is left on the connection for the next caller to find.

Two engines implement the seam: :class:`~rfm.engine.DuckDBEngine` (in process,
the default) and :class:`~rfm.engine.SparkEngine` (a local or remote Spark
session; optional extra ``rfm[spark]``).  The blocks are written once, in
DuckDB SQL; the Spark engine transpiles them (``_dialect.py``).  Everything
that differs between the engines lives in their two modules; this base class
holds what they share.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from rfm.engine import _postgres
from rfm.engine._queries import Query, query
from rfm.engine._sources import Sources
from rfm.engine._tables import QueryRows, Relation, Table
from rfm.errors import EngineError

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
FORMULA_START = r"^[=+\-@\t\r]"
_LABEL = re.compile(r"[^a-z0-9_]+")


def is_spark_frame(obj: Any) -> bool:
    """A Spark DataFrame (classic or Connect), recognised without importing pyspark."""
    return type(obj).__module__.startswith("pyspark.sql") and hasattr(obj, "createOrReplaceTempView")


class Engine(Sources):
    """The one seam to the database (see the module docstring); use :func:`rfm.engine.open_engine`."""

    name: ClassVar[str]

    def __init__(self) -> None:
        self._serial = itertools.count(1)
        # several engines can share one Spark session (and its temp views): names unique per engine
        self._prefix = f"rfm{secrets.token_hex(3)}"
        self._garbage: list[tuple[str, str]] = []
        self._lines_built = False  # order_lines() has run (one view per engine)
        self._excluded: str | None = None  # how the order-line view reads the excluded statuses

    # --- running blocks -----------------------------------------------------------------

    def run(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> None:
        """Run a statement block (a type or macro definition) to completion."""
        q = query(block)
        self._check(q, tables, rows=False)
        self._statement(q, {k: t._name for k, t in (tables or {}).items()}, q.bind(params))

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
        sql, bound = self._render(q, tables, params)
        name = self._new_name(q.name)
        with self._showing(progress):
            order = self._materialise(name, sql, bound)
        return Table(self, name, "table", q.name, order=order)

    def view(self, block: str, /, tables: Mapping[str, Table] | None = None) -> Table:
        """A view over a query block without parameters (evaluated each time it is read)."""
        q = query(block)
        if q.params:
            raise TypeError(f"query {q.name} takes parameters; a view cannot bind them (use create)")
        sql, _ = self._render(q, tables, {})
        return self._view(q.name, sql, tuple((tables or {}).values()))

    def query(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> QueryRows:
        """A query block with its inputs bound, run only when its rows are read or written."""
        sql, bound = self._render(query(block), tables, params)
        return QueryRows(self, sql, bound, tuple((tables or {}).values()))

    def fetch(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> pl.DataFrame:
        """Run a query block; its rows as a polars frame."""
        return self.query(block, tables, **params).pl()

    def rows(self, block: str, /, tables: Mapping[str, Table] | None = None, **params: Any) -> list[tuple[Any, ...]]:
        """Run a query block; its rows as tuples (for a few rows of figures)."""
        sql, bound = self._render(query(block), tables, params)
        return self._rows(sql, bound)

    def register(self, frame: Any, *, label: str) -> Table:
        """A small in-memory frame (polars, pandas or Arrow) as a table blocks can read."""
        name = self._new_name(label)
        self._collect()
        self._register(name, frame, label)
        return Table(self, name, "frame", label)

    @contextmanager
    def single_thread(self) -> Iterator[None]:
        """Rows numbered in input order inside (DuckDB: one thread; Spark: input order is kept anyway)."""
        yield

    def close(self) -> None:
        """Free the connection: every table of this engine is gone with it."""

    #: Paths only this engine can see (s3://, hdfs://, dbfs:/ ...) are passed to it as given.
    reads_uris: ClassVar[bool] = False
    #: The CSV reader stops on bytes that are not UTF-8 (DuckDB); else rfm.inputs checks the file first.
    checks_utf8: ClassVar[bool] = True

    def read_table(self, table: str) -> Table:
        """A catalog table (the Spark engine only)."""
        raise EngineError(f"{table}: catalog tables are read by the Spark engine; use --engine spark")

    def read_postgres(self, url: str, *, table: str | None, query: str | None) -> Table:
        """A PostgreSQL table or query (``rfm[postgres]``), streamed once into an engine table."""
        target = _postgres.parse(url, table)
        label = target.label
        return _postgres.read(target, query, lambda reader: self._ingest(reader, label))

    def _ingest(self, reader: Any, label: str) -> Table:
        raise EngineError(f"{label}: PostgreSQL input is read by the DuckDB engine; on Spark use spark.read.jdbc "
                          "and pass the DataFrame")

    def read_delta(self, path: str) -> Table:
        """A Delta table (the Spark engine only)."""
        raise EngineError(f"{path}: is a Delta table; read it with --engine spark (and the delta-spark package)")

    def dataframe(self, rel: Relation) -> Any:
        """The rows as a Spark DataFrame (the Spark engine only)."""
        raise EngineError(f"a Spark DataFrame comes from the Spark engine, not {self.name}; use engine spark")

    def write_table(self, rel: Relation, table: str, *, mode: str = "overwrite") -> None:
        """Write the rows to a catalog table (the Spark engine only)."""
        raise EngineError(f"{table}: catalog tables are written by the Spark engine; use --engine spark")

    # --- what each engine implements -------------------------------------------------------

    def _statement(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> None:
        raise NotImplementedError

    def _sql(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """The block's SQL for this engine with its tables named and its parameters bound."""
        raise NotImplementedError

    def _materialise(self, name: str, sql: str, params: dict[str, Any] | None) -> tuple[str, ...]:
        """Run ``sql`` into a new table ``name``; the ORDER BY keys it was built in (for reading it back)."""
        raise NotImplementedError

    def _make_view(self, name: str, select: str) -> None:
        raise NotImplementedError

    def _register(self, name: str, frame: Any, label: str) -> None:
        raise NotImplementedError

    def _drop(self, name: str, kind: str) -> None:
        raise NotImplementedError

    def _execute(self, sql: str, params: dict[str, Any] | None) -> None:
        raise NotImplementedError

    def _rows(self, sql: str, params: dict[str, Any] | None, limit: int | None = None) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _describe(self, name: str) -> dict[str, str]:
        raise NotImplementedError

    def _to_polars(self, rel: Relation, limit: int | None) -> pl.DataFrame:
        raise NotImplementedError

    def _write(self, rel: Relation, path: str | Path, spreadsheet_safe: bool, if_exists: str = "fail") -> Path:
        raise NotImplementedError

    @contextmanager
    def _showing(self, label: str | None) -> Iterator[None]:
        yield

    # --- shared internals -------------------------------------------------------------------

    def _check(self, q: Query, tables: Mapping[str, Table] | None, rows: bool) -> None:
        if rows and not q.returns_rows:
            raise TypeError(f"query {q.name} ({q.file}:{q.line}) is a statement, not a query; use run()")
        for key, table in (tables or {}).items():
            if not isinstance(table, Table) or table.engine is not self:
                raise TypeError(f"query {q.name}: table {key!r} is not a table of this engine")

    def _render(
        self, q: Query, tables: Mapping[str, Table] | None, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        self._check(q, tables, rows=True)
        names = {k: t._name for k, t in (tables or {}).items()}
        q.render(names, lambda n: n)  # checks the declared tables
        return self._sql(q, names, q.bind(params))

    def _new_name(self, label: str) -> str:
        """A fresh name for a table the engine makes: a serial number and what it holds."""
        return f"{self._prefix}_{next(self._serial)}_{_LABEL.sub('_', label.rsplit('.', 1)[-1].lower())}"

    def _view(self, label: str, select: str, deps: tuple[Table, ...] = ()) -> Table:
        """A new view over ``select``; it keeps the tables it reads (``deps``) alive."""
        name = self._new_name(label)
        self._collect()
        self._make_view(name, select)
        return Table(self, name, "view", label, deps)

    def _discard(self, name: str, kind: str) -> None:
        # Called by a handle's finalizer, possibly on another thread or in the middle of a
        # statement: queue the drop and do it before the engine's next statement.
        self._garbage.append((name, kind))

    def _collect(self) -> None:
        while self._garbage:
            name, kind = self._garbage.pop()
            self._drop(name, kind)
