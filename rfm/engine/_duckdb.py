"""The DuckDB engine: in process, nothing to start, out of core (the default).

It holds the in-process DuckDB connection and its settings (memory limit,
threads, spill directory, time zone).  The blocks of ``queries/`` are DuckDB
SQL, so they run as written, with ``$params`` bound by DuckDB.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from rfm._files import output_format, write_atomic
from rfm.engine import _postgres, _progress
from rfm.engine._engine import FORMULA_START, Engine
from rfm.engine._errors import first_line, translated
from rfm.engine._queries import Query
from rfm.engine._tables import Relation, Table, quote_ident
from rfm.errors import EngineError

#: The types DuckDB may give a CSV column; never a date: 01/03/2024 is not the sniffer's to decide.
CSV_TYPES = ("BOOLEAN", "BIGINT", "DOUBLE", "VARCHAR")


#: The run's memory budget when none is given (see docs/commands.md, "rfm score"): DuckDB's own default,
#: 80 % of the machine, left a 24 GiB machine too little for everything else.
DEFAULT_MEMORY_LIMIT = "50%"
#: DuckDB's share of the budget; the rest is for what lives outside its buffer manager (the churn
#: fit's arrays and triples, frames handed to polars, reports).  At 100 M lines with a 6GB budget,
#: churn peaked at 6.58 GiB with DuckDB given all of it, 5.72 GiB with 85 %.
DUCKDB_SHARE = 0.85
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


#: A memory size as --memory-limit takes it: a number and a unit (DuckDB wants the unit), or a share.
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|%)\s*$", re.IGNORECASE)


def duckdb_share(budget: str) -> str:
    """DuckDB's memory_limit for a run budget such as ``4GB``, ``512MiB`` or ``50%``: 85 % of it."""
    m = SIZE.match(budget)
    if m is None:  # EngineSettings refuses these before an engine starts; DuckDB names anything else
        return budget
    value, unit = float(m.group(1)), m.group(2).lower()
    if unit == "%":
        return f"{value * DUCKDB_SHARE:g}%"
    return f"{int(value * _UNITS[unit] * DUCKDB_SHARE)}B"


class DuckDBEngine(Engine):
    """DuckDB in process (see the module docstring)."""

    name = "duckdb"

    def __init__(
        self,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
        progress: bool = False,
    ) -> None:
        super().__init__()
        self._con = duckdb.connect()
        self._threads = threads
        self._progress = progress
        self._attached: str | None = None  # the alias of an attached DuckDB database file
        try:  # dates of time-zone-aware timestamps are taken in UTC, whatever the machine's zone
            self._con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # without ICU, DuckDB works in UTC anyway
            pass
        with translated("engine settings: "):
            self._con.execute("SET memory_limit = $m", {"m": duckdb_share(memory_limit or DEFAULT_MEMORY_LIMIT)})
            if threads:
                self._con.execute("SET threads = $t", {"t": threads})
            # spill files go under the system temp directory, never beside the outputs
            spill = temp_directory or str(Path(tempfile.gettempdir()) / f"rfm-spill-{getattr(os, 'getuid', os.getpid)()}")
            self._con.execute("SET temp_directory = $d", {"d": spill})
        if progress:
            _progress.enable(self._con)

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
        self._con.close()

    # --- raw inputs ---------------------------------------------------------------------

    def read_csv(
        self,
        paths: str | list[str],
        *,
        sep: str | None = None,
        header: bool | None = None,
        decimal: str = ".",
        names: Sequence[str] | None = None,
        all_varchar: bool = False,
    ) -> Table:
        """CSV files as a view; options left None are sniffed.

        Dates stay text: the order-line view reads them (UTC offsets included) and
        ``rfm.inputs`` settles a day/month order the sniffer would guess."""
        kwargs: dict[str, Any] = {"auto_type_candidates": list(CSV_TYPES)}
        if sep is not None:
            kwargs["sep"] = sep
        if header is not None:
            kwargs["header"] = header
        if decimal != ".":
            kwargs["decimal"] = decimal
        if names is not None:
            kwargs["names"] = list(names)
        if all_varchar:
            kwargs["all_varchar"] = True
        return self._reader_view("raw", lambda: self._con.read_csv(paths, **kwargs))

    def read_whitespace(self, paths: str | list[str], *, names: Sequence[str], skip_header: bool) -> Table:
        """Fixed-layout text with runs of spaces or tabs between fields (e.g. CDNOW), every field text."""
        lines = self._reader_view(
            "raw_lines",
            lambda: self._con.read_csv(
                paths, sep="\x1f", header=False, columns={"line": "VARCHAR"}, quotechar="", auto_detect=False,
                skiprows=int(skip_header),
            ),
        )
        fields = ", ".join(f"nullif(parts[{i + 1}], '') AS {quote_ident(n)}" for i, n in enumerate(names))
        return self._view(
            "raw",
            f"SELECT {fields} FROM (SELECT string_split_regex(trim(regexp_replace(line, '\\s+', ' ', 'g')), ' ') "
            f"AS parts FROM {quote_ident(lines._name)} WHERE trim(line) <> '')",
            (lines,),
        )

    def read_parquet(self, paths: str | list[str]) -> Table:
        return self._reader_view("raw", lambda: self._con.read_parquet(paths))

    def database_tables(self, path: str) -> list[str]:
        """Attach a DuckDB database file read-only; the names of its tables."""
        alias = f"rfm_src_{next(self._serial)}"
        self._execute(f"ATTACH $path AS {quote_ident(alias)} (READ_ONLY)", {"path": path})
        self._attached = alias
        rows = self._rows(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = $c ORDER BY 1", {"c": alias}
        )
        return [r[0] for r in rows]

    def read_database_table(self, table: str) -> Table:
        """A table of the database attached by :meth:`database_tables`, as a view."""
        if self._attached is None:
            raise TypeError("read_database_table: no database attached; call database_tables(path) first")
        return self._view("raw", f"SELECT * FROM {quote_ident(self._attached)}.{quote_ident(table)}")

    def _reader_view(self, label: str, make: Any) -> Table:
        name = self._new_name(label)
        with translated():
            make().create_view(name)
        return Table(self, name, "view", label)

    def _ingest(self, reader: Any, label: str) -> Table:
        """Scan an Arrow stream once into a DuckDB table (spilled by DuckDB, never held in Python)."""
        stream, name = self._new_name("stream"), self._new_name("raw")
        self._collect()
        try:
            with translated():
                self._con.register(stream, reader)
                self._con.execute(f"CREATE TEMP TABLE {quote_ident(name)} AS SELECT * FROM {quote_ident(stream)}")
        finally:
            self._con.unregister(stream)
        return Table(self, name, "table", "raw")

    # --- the order-line view's hooks ----------------------------------------------------------

    def _variable(self, name: str, value: Any) -> str:
        # A view cannot bind parameters: the value goes through a connection variable, bound.
        if isinstance(value, list):
            self._execute(f"SET VARIABLE {name} = CAST($v AS VARCHAR[])", {"v": value})
        else:
            self._execute(f"SET VARIABLE {name} = $v", {"v": value})
        return f"getvariable('{name}')"

    def _row_hash(self, raw: Table) -> str:
        return "hash(r)"

    def _row_number(self) -> str:
        return "row_number() OVER ()"

    def _generated(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        return sql, params

    # --- the seam's primitives --------------------------------------------------------------

    def _statement(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> None:
        self._execute(q.render(names, quote_ident), params or None)

    def _sql(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        return q.render(names, quote_ident), params or None

    def _materialise(self, name: str, sql: str, params: dict[str, Any] | None) -> tuple[str, ...]:
        self._execute(f"CREATE TEMP TABLE {quote_ident(name)} AS {sql}", params)
        return ()  # DuckDB keeps insertion order

    def _make_view(self, name: str, select: str) -> None:
        self._execute(f"CREATE TEMP VIEW {quote_ident(name)} AS {select}", None)

    def _register(self, name: str, frame: Any, label: str) -> None:
        try:
            self._con.register(name, frame)
        except Exception as exc:  # duckdb raises several types for objects it cannot scan
            raise EngineError(f"cannot register {label}: {first_line(exc)}") from None

    def _drop(self, name: str, kind: str) -> None:
        try:
            if kind == "frame":
                self._con.unregister(name)
            else:
                self._con.execute(f"DROP {'VIEW' if kind == 'view' else 'TABLE'} IF EXISTS {quote_ident(name)}")
        except duckdb.Error:  # the connection is closing; nothing to free
            pass

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

    def _describe(self, name: str) -> dict[str, str]:
        return {row[0]: str(row[1]) for row in self._rows(f"DESCRIBE {quote_ident(name)}", None)}

    def _to_polars(self, rel: Relation, limit: int | None) -> pl.DataFrame:
        sql, params = rel._select()
        with translated():
            r = self._relation(sql, params)
            return (r.limit(limit) if limit is not None else r).pl()

    def _write(self, rel: Relation, path: str | Path, spreadsheet_safe: bool, if_exists: str = "fail") -> Path:
        if _postgres.is_url(path):
            sql, params = rel._select()
            with translated(f"{_postgres.redact(str(path))}: "):
                reader = self._relation(sql, params).fetch_record_batch(100_000)
            _postgres.write(_postgres.parse(str(path)), reader, if_exists=if_exists, schema=reader.schema)  # type: ignore[arg-type]
            return _postgres.parse(str(path)).label  # type: ignore[return-value]  # a table, not a file
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


def _safe_cell(name: str, dtype: str) -> str:
    col = quote_ident(name)
    if dtype != "VARCHAR":
        return col
    return f"CASE WHEN regexp_matches({col}, '{FORMULA_START}') THEN chr(39) || {col} ELSE {col} END AS {col}"
