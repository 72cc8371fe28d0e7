"""The Spark engine: the same blocks, run where the data is (extra ``rfm[spark]``).

A :class:`SparkEngine` holds a SparkSession: a local one by default, a Spark
Connect endpoint with ``remote="sc://host:15002"``, or the session a Spark
DataFrame input already belongs to.  Every block of ``queries/`` reaches Spark
through :mod:`rfm.engine._dialect` (DuckDB SQL transpiled by sqlglot, values as
typed literals).  The session runs with the settings of
:mod:`rfm.engine._spark_session` (ANSI SQL on, UTC, double-quoted identifiers,
no variable substitution); settings changed on a session the engine did not
start are restored by :meth:`SparkEngine.close`.

Materialised tables are locally checkpointed DataFrames under a temp view
name: eager (a bad value fails the statement that reads it, as on DuckDB) and
with a short lineage.  Spark does not keep a table's row order, so a table
remembers the ORDER BY it was built with and is read back in that order.
Results reach Python as Arrow (``toArrow``); files are written by the driver,
atomically, like DuckDB's.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ByteType,
    DateType,
    IntegerType,
    LongType,
    NumericType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from rfm._files import is_uri, output_format, write_frame
from rfm.engine._dialect import is_macro, literal, order_keys, spark_block, spark_sql
from rfm.engine._engine import FORMULA_START, Engine, is_spark_frame
from rfm.engine._errors import first_line
from rfm.engine._postgres import is_url as is_database_url
from rfm.engine._postgres import redact
from rfm.engine._queries import Query
from rfm.engine._spark_session import SESSION_CONF, start_session, translated
from rfm.engine._tables import Relation, Table, quote_ident
from rfm.errors import EngineError

_TYPES = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP", "tinyint": "TINYINT", "byte": "TINYINT", "smallint": "SMALLINT",
    "short": "SMALLINT", "int": "INTEGER", "integer": "INTEGER", "bigint": "BIGINT", "long": "BIGINT",
    "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN",
}


def engine_type(spark_type: str) -> str:
    """A Spark column type under the engine-neutral (DuckDB) name ``rfm.inputs`` reads."""
    t = spark_type.lower()
    if t.startswith("decimal"):
        return t.upper()
    if t.startswith(("varchar", "char")):
        return "VARCHAR"
    return _TYPES.get(t, t.upper())


class SparkEngine(Engine):
    """Apache Spark through a SparkSession (see the module docstring)."""

    name = "spark"
    reads_uris = True
    checks_utf8 = False  # Spark's CSV reader turns bytes that are not UTF-8 into U+FFFD

    def __init__(self, *, remote: str | None = None, conf: Mapping[str, str] | None = None, session: Any = None) -> None:
        super().__init__()
        self._frames: dict[str, Any] = {}
        self._sorts: dict[str, list[Column]] = {}  # a materialised table's ORDER BY, as Columns
        self._restore: dict[str, str | None] = {}
        self._owned = False
        if session is None:
            session = SparkSession.getActiveSession() if remote is None else None
        self._owned_remote = False
        if session is None:
            session = self._start(remote, dict(conf or {}))
            self._owned = remote is None
            self._owned_remote = remote is not None
        self.spark = session
        _quiet()
        with translated("spark settings: "):
            for key, value in {**SESSION_CONF, **(dict(conf or {}) if not self._owned else {})}.items():
                old = self.spark.conf.get(key, None)
                if old != value:
                    self._restore[key] = old
                    self.spark.conf.set(key, value)

    @staticmethod
    def _start(remote: str | None, conf: dict[str, str]) -> Any:
        return start_session(remote, conf)

    def close(self) -> None:
        """Drop this engine's views and restore the settings it changed (a session it started stays up for reuse)."""
        for name in list(self._frames):
            self._drop(name, "table")
        try:
            for key, old in self._restore.items():
                if old is None:
                    self.spark.conf.unset(key)
                else:
                    self.spark.conf.set(key, old)
        except Exception:  # the session is already stopped
            pass
        self._restore = {}
        if self._owned_remote:
            try:
                self.spark.stop()
            except Exception:  # already gone
                pass

    # --- inputs -----------------------------------------------------------------------------

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
        """CSV files as a view.  Spark does not sniff: the separator is "," ("\t" for .tsv) unless given,
        a header is assumed unless ``names`` are given, and quotes are doubled inside quoted fields
        (RFC 4180, as DuckDB reads them).  A column of numbers any of which has a leading zero
        stays text, as DuckDB types it (ids such as 00123 keep their zeros)."""
        files = _absolute(paths)
        tsv = all(re.search(r"\.tsv(\.gz)?$", f, re.I) for f in files)
        has_header = header if header is not None else names is None
        reader = (
            self.spark.read.option("sep", sep or ("\t" if tsv else ","))
            .option("header", str(has_header).lower())
            .option("quote", '"').option("escape", '"').option("mode", "FAILFAST")
        )
        with translated():
            text = reader.option("inferSchema", "false").csv(files)
            df = text if all_varchar else reader.option("inferSchema", "true").csv(files)
            if not all_varchar:
                df = self._keep_zero_padded(reader, files, df, text)
            if names is not None:
                df = df.toDF(*names)
            return self._frame_view("raw", df)

    def _keep_zero_padded(self, reader: Any, files: list[str], typed: Any, text: Any) -> Any:
        """Spark's inferred CSV types made DuckDB's: whole numbers BIGINT (Spark says INT when they
        fit), a column of numbers with any zero-padded value (00123) text, and dates text."""
        numeric = [f.name for f in typed.schema.fields if isinstance(f.dataType, NumericType)]
        texts: set[str] = set()
        if numeric:
            padded = text.select(
                [F.max(F.col(f"`{c}`").rlike(r"^\s*[+-]?0[0-9]").cast("int")).alias(f"c{i}") for i, c in enumerate(numeric)]
            ).first()
            texts = {c for i, c in enumerate(numeric) if padded[f"c{i}"]}
        fields = []
        for f in typed.schema.fields:
            if f.name in texts or isinstance(f.dataType, (DateType, TimestampType, TimestampNTZType)):
                # dates stay text, as on DuckDB: the order-line view reads them, offsets included
                f = StructField(f.name, StringType(), True)
            elif isinstance(f.dataType, (ByteType, ShortType, IntegerType)):
                f = StructField(f.name, LongType(), True)
            fields.append(f)
        schema = StructType(fields)
        return typed if schema == typed.schema else reader.schema(schema).csv(files)

    def read_whitespace(self, paths: str | list[str], *, names: Sequence[str], skip_header: bool) -> Table:
        """Fixed-layout text with runs of spaces or tabs between fields (e.g. CDNOW), every field text."""
        files = paths if isinstance(paths, list) else [paths]
        with translated():
            lines = self._frame_view("raw_lines", self.spark.read.text(_absolute(files)))
        skip = ""
        if skip_header:  # each file's first line is its header: drop lines equal to one (read by Spark: any path)
            firsts = self.spark.sql(
                f"SELECT min_by(value, id) AS first FROM (SELECT value, input_file_name() AS f, "
                f"monotonically_increasing_id() AS id FROM {quote_ident(lines._name)}) GROUP BY f"
            ).collect()
            first = sorted({row[0] for row in firsts if row[0] is not None})
            if first:
                skip = " AND value NOT IN (" + ", ".join(literal(f).sql("spark") for f in first) + ")"
        fields = ", ".join(f"nullif(try_element_at(parts, {i + 1}), '') AS {quote_ident(n)}" for i, n in enumerate(names))
        return self._view(
            "raw",
            f"SELECT {fields} FROM (SELECT split(trim(regexp_replace(value, '\\\\s+', ' ')), ' ') AS parts "
            f"FROM {quote_ident(lines._name)} WHERE trim(value) <> ''{skip})",
            (lines,),
        )

    def read_parquet(self, paths: str | list[str]) -> Table:
        with translated():
            return self._frame_view("raw", self.spark.read.parquet(*_absolute(paths)))

    def read_delta(self, path: str) -> Table:
        with translated(f"{path}: cannot read as a Delta table (is the delta-spark package set up?): "):
            return self._frame_view("raw", self.spark.read.format("delta").load(_absolute(path)[0]))

    def read_table(self, table: str) -> Table:
        """A catalog table (``catalog.schema.table``) as a view."""
        with translated():
            return self._frame_view("raw", self.spark.table(table))

    def database_tables(self, path: str) -> list[str]:
        raise EngineError("a DuckDB database file cannot be read by Spark; export it to Parquet or use --table")

    def _frame_view(self, label: str, df: Any) -> Table:
        name = self._new_name(label)
        with translated():
            df.createOrReplaceTempView(name)
        self._frames[name] = df
        return Table(self, name, "view", label)

    # --- the order-line view's hooks ----------------------------------------------------------

    def _variable(self, name: str, value: Any) -> str:
        return literal(value).sql(dialect="duckdb")  # a typed literal, transpiled with the view

    def _row_hash(self, raw: Table) -> str:
        cols = list(self._describe(raw._name))
        nulls = " || ".join(f"CASE WHEN r.{quote_ident(c)} IS NULL THEN '1' ELSE '0' END" for c in cols)
        values = ", ".join(f"r.{quote_ident(c)}" for c in cols)
        return f"xxhash64({values}, {nulls})"  # the null flags: (a, NULL) and (NULL, a) differ

    def _row_number(self) -> str:
        # input order: files in name order (as listed), lines in file order
        return "row_number() OVER (ORDER BY input_file_name(), monotonically_increasing_id())"

    def _generated(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        return spark_sql(sql, params), None

    def _text_date(self, text: str, strict: bool) -> str:
        # Spark's CAST also reads '2024' and '2024-01' (as the 1st); DuckDB refuses them, and reads
        # 2024/01/05: only year-month-day passes, "/" made "-", else a value no cast reads.  A time
        # after the date goes through a timestamp, so a UTC offset moves the day as on DuckDB
        # (TIMESTAMPTZ becomes Spark's TIMESTAMP, an instant; a plain TIMESTAMP would become
        # TIMESTAMP_NTZ, which drops the offset).
        cast = "CAST" if strict else "TRY_CAST"
        iso = f"replace(trim({text}), '/', '-')"
        day = "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
        return (
            f"CASE WHEN regexp_matches({iso}, '{day}$') THEN {cast}({iso} AS DATE) "
            f"WHEN regexp_matches({iso}, '{day}[ T][^a-zA-Z]*Z?$') THEN CAST({cast}({iso} AS TIMESTAMPTZ) AS DATE) "
            f"ELSE {cast}('not a date' AS DATE) END"
        )

    # --- the seam's primitives --------------------------------------------------------------

    def _statement(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> None:
        # DuckDB's statements are type and macro definitions: enums are a DuckDB storage
        # choice, macros are expanded into the blocks that call them (rfm.engine._dialect).
        if is_macro(q) or q.sql.lstrip().upper().startswith("CREATE TYPE"):
            return
        raise TypeError(f"query {q.name} ({q.file}:{q.line}) is a DuckDB statement the Spark engine cannot run")

    def _sql(self, q: Query, names: Mapping[str, str], params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        return spark_block(q, names, params), None

    def _materialise(self, name: str, sql: str, params: dict[str, Any] | None) -> tuple[str, ...]:
        with translated():
            df = self.spark.sql(sql).localCheckpoint(eager=True)
            df.createOrReplaceTempView(name)
        self._frames[name] = df
        keys = order_keys(sql, df.columns)
        self._sorts[name] = [_sort_column(k) for k in keys]
        return keys

    def _make_view(self, name: str, select: str) -> None:
        with translated():
            df = self.spark.sql(select)
            df.createOrReplaceTempView(name)
        self._frames[name] = df

    def _register(self, name: str, frame: Any, label: str) -> None:
        try:
            df = frame if is_spark_frame(frame) else self.spark.createDataFrame(_as_arrow(frame))
            df.createOrReplaceTempView(name)
        except Exception as exc:  # many types of failure for an object Spark cannot read
            raise EngineError(f"cannot register {label}: {first_line(exc)}") from None
        self._frames[name] = df

    def _drop(self, name: str, kind: str) -> None:
        self._frames.pop(name, None)
        self._sorts.pop(name, None)
        try:
            self.spark.catalog.dropTempView(name)
        except Exception:  # the session is gone; nothing to free
            pass

    def _execute(self, sql: str, params: dict[str, Any] | None) -> None:
        self._collect()
        with translated():
            self.spark.sql(sql).collect()

    def _rows(self, sql: str, params: dict[str, Any] | None, limit: int | None = None) -> list[tuple[Any, ...]]:
        self._collect()
        with translated():
            df = self.spark.sql(sql)
            return [tuple(row) for row in (df.limit(limit) if limit is not None else df).collect()]

    def _describe(self, name: str) -> dict[str, str]:
        with translated():
            return {f.name: engine_type(f.dataType.simpleString()) for f in self.spark.table(name).schema.fields}

    def dataframe(self, rel: Relation) -> Any:
        """The rows as a Spark DataFrame in the relation's order.  A materialised table's DataFrame
        is built from its checkpointed data, not from SQL text: it stays valid after the engine is
        closed (its views dropped, the session's settings restored)."""
        if isinstance(rel, Table) and rel._name in self._frames and rel._name in self._sorts:
            frame = self._frames[rel._name]
            df = frame.orderBy(*self._sorts[rel._name]) if self._sorts[rel._name] else frame
            df._rfm_data = frame  # keep the checkpoint alive as long as the DataFrame (Spark Connect)
            return df
        sql, _ = rel._select()
        with translated():
            return self.spark.sql(sql)

    def _to_polars(self, rel: Relation, limit: int | None) -> pl.DataFrame:
        self._collect()
        df = self.dataframe(rel)
        with translated():
            return pl.from_arrow((df.limit(limit) if limit is not None else df).toArrow())  # type: ignore[return-value]

    def _write(self, rel: Relation, path: str | Path, spreadsheet_safe: bool, if_exists: str = "fail") -> Path:
        if is_database_url(path):
            raise EngineError(f"{redact(str(path))}: PostgreSQL output is written by the DuckDB engine; on Spark "
                              "use --out-table or DataFrame.write.jdbc")
        output_format(path)  # a bad extension fails before the rows are collected
        frame = self._to_polars(rel, None)
        if spreadsheet_safe:
            frame = frame.with_columns(
                pl.when(pl.col(c).str.contains(FORMULA_START)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
                for c, t in frame.schema.items()
                if t == pl.String
            )
        return write_frame(frame, path)

    def write_table(self, rel: Relation, table: str, *, mode: str = "overwrite") -> None:
        """Write the rows to a catalog table (``--out-table``)."""
        with translated(f"{table}: "):
            self.dataframe(rel).write.mode(mode).saveAsTable(table)


def _sort_column(key: str) -> Column:
    """One ``order_keys`` key (`col` [DESC] [NULLS FIRST|LAST]) as a sort Column."""
    m = re.fullmatch(r"`((?:[^`]|``)+)`(?: (ASC|DESC))?(?: NULLS (FIRST|LAST))?", key)
    if m is None:
        raise EngineError(f"cannot read back the order {key!r}")
    col = F.col(f"`{m.group(1)}`")
    desc, nulls = m.group(2) == "DESC", m.group(3) or ("LAST" if m.group(2) == "DESC" else "FIRST")
    if desc:
        return col.desc_nulls_first() if nulls == "FIRST" else col.desc_nulls_last()
    return col.asc_nulls_first() if nulls == "FIRST" else col.asc_nulls_last()


def _as_arrow(frame: Any) -> Any:
    """Polars, pandas or Arrow as an Arrow table (pandas through Arrow: Spark's own pandas
    conversion turns a missing text value into the string "NaN")."""
    if isinstance(frame, pl.DataFrame):
        return frame.to_arrow()
    if type(frame).__module__.startswith("pandas"):
        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame


def _absolute(paths: str | list[str]) -> list[str]:
    """Local paths made absolute (a Spark Connect server resolves relative ones in its own directory);
    URIs (s3://, hdfs://, file:/ ...) as given."""
    items = paths if isinstance(paths, list) else [paths]
    return [p if is_uri(p) else os.path.abspath(p) for p in items]


def _quiet() -> None:
    """PySpark logs every failed query's context to stderr; rfm reports errors itself, in one line."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
