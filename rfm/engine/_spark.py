"""The Spark engine: the same blocks, run where the data is (extra ``rfm[spark]``).

A :class:`SparkEngine` holds a SparkSession: a local one by default, a Spark
Connect endpoint with ``remote="sc://host:15002"``, or the session a Spark
DataFrame input already belongs to.  Every block of ``queries/`` reaches Spark
through :mod:`rfm.engine._dialect` (DuckDB SQL transpiled by sqlglot, values as
typed literals).  The session runs with ANSI SQL on (a bad cast, an index out
of range or an overflow fails instead of giving NULL or another element) and
the UTC time zone; settings changed on a session the engine did not start are
restored by :meth:`SparkEngine.close`.

Materialised tables are locally checkpointed DataFrames under a temp view
name: eager (a bad value fails the statement that reads it, as on DuckDB) and
with a short lineage.  Spark does not keep a table's row order, so a table
remembers the ORDER BY it was built with and is read back in that order.
Results reach Python as Arrow (``toArrow``); files are written by the driver,
atomically, like DuckDB's.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from pyspark.errors import (
    ArithmeticException,
    ArrayIndexOutOfBoundsException,
    DateTimeException,
    NumberFormatException,
    PySparkException,
    SparkRuntimeException,
)
from pyspark.sql import SparkSession

from rfm._files import output_format, write_atomic
from rfm.engine._dialect import is_macro, literal, order_keys, spark_block, spark_sql
from rfm.engine._engine import FORMULA_START, Engine
from rfm.engine._errors import first_line
from rfm.engine._queries import Query
from rfm.engine._tables import Relation, Table, quote_ident
from rfm.errors import ConfigError, DataError, EngineError

# Settings every rfm Spark session runs with (a user's own session gets them for the engine's life).
SESSION_CONF = {
    "spark.sql.ansi.enabled": "true",  # a bad value fails; never a silent NULL or another list element
    "spark.sql.session.timeZone": "UTC",  # a timestamp's day is its UTC day, as on DuckDB
    # "x" is an identifier, as in DuckDB and standard SQL: one quoting function for both engines
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
}
# Only for a local session the engine starts itself.
LOCAL_CONF = {
    "spark.driver.memory": "4g",  # local mode runs the executors in the driver; engine.conf raises it
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": str(max(2, 2 * (os.cpu_count() or 1))),
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={Path(__file__).with_name('log4j2.properties').as_uri()}",
}
_DATA_ERRORS = (NumberFormatException, DateTimeException, ArithmeticException, ArrayIndexOutOfBoundsException)
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


def _reachable(remote: str) -> None:
    """Fail in seconds, not after the Connect client's retries (minutes), when nothing answers at ``remote``."""
    m = re.match(r"^sc://(\[[^\]]+\]|[^:/;]+)(?::(\d+))?", remote)
    if m is None:
        raise ConfigError(f"--spark-remote {remote}: not a Spark Connect URL; write sc://host:port (default port 15002)")
    host, port = m.group(1).strip("[]"), int(m.group(2) or 15002)
    try:
        socket.create_connection((host, port), timeout=10).close()
    except OSError as exc:
        raise EngineError(f"cannot reach Spark Connect at {host}:{port} ({exc.strerror or exc}); is the server running?") from None


@contextmanager
def _jvm_output(local: bool) -> Iterator[None]:
    """A local JVM's own output (start-up banners, its log) goes to a file, not the user's terminal:
    rfm reports what matters in one line.  The file: ``$TMPDIR/rfm-spark-<uid>.log``."""
    if not local:
        yield
        return
    log = Path(tempfile.gettempdir()) / f"rfm-spark-{getattr(os, 'getuid', os.getpid)()}.log"
    sys.stderr.flush()
    saved = os.dup(2)
    target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(target, 2)  # the JVM is forked now and inherits this descriptor
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def _java_missing() -> bool:
    home = os.environ.get("JAVA_HOME")
    return not (home and Path(home, "bin", "java").exists()) and shutil.which("java") is None


@contextmanager
def translated(prefix: str = "") -> Iterator[None]:
    """A bad value becomes a :class:`DataError`, any other Spark failure an :class:`EngineError`."""
    try:
        yield
    except _DATA_ERRORS as exc:
        raise DataError(prefix + first_line(exc)) from None
    except SparkRuntimeException as exc:  # raise_error() of the order-line view
        cls = DataError if "USER_RAISED_EXCEPTION" in str(exc) or "CAST" in str(exc) else EngineError
        raise cls(prefix + first_line(exc)) from None
    except PySparkException as exc:
        raise EngineError(prefix + first_line(exc)) from None
    except Exception as exc:  # py4j and gRPC failures: the session is gone or unreachable
        if type(exc).__module__.startswith(("py4j", "grpc", "pyspark")):
            raise EngineError(prefix + first_line(exc)) from None
        raise


class SparkEngine(Engine):
    """Apache Spark through a SparkSession (see the module docstring)."""

    name = "spark"

    def __init__(self, *, remote: str | None = None, conf: Mapping[str, str] | None = None, session: Any = None) -> None:
        super().__init__()
        self._frames: dict[str, Any] = {}
        self._restore: dict[str, str | None] = {}
        self._owned = False
        if session is None:
            session = SparkSession.getActiveSession() if remote is None else None
        if session is None:
            session = self._start(remote, dict(conf or {}))
            self._owned = remote is None
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
        builder = SparkSession.builder
        if remote is not None:
            _reachable(remote)
            builder = builder.remote(remote)
        else:
            if _java_missing():
                raise ConfigError(
                    "the Spark engine needs Java 17 or later, and no java was found (JAVA_HOME unset, java not on "
                    "PATH); install a JDK (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or use --spark-remote"
                )
            builder = builder.master(conf.pop("spark.master", "local[*]")).appName("rfm")
            for key, value in LOCAL_CONF.items():
                builder = builder.config(key, value)
        for key, value in {**SESSION_CONF, **conf}.items():
            builder = builder.config(key, value)
        with translated("cannot start Spark: "), _jvm_output(remote is None):
            session = builder.getOrCreate()
        if remote is None:
            session.sparkContext.setLogLevel("ERROR")
        return session

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
        """CSV files as a view.  Spark does not sniff: the separator defaults to "," and a header is assumed."""
        reader = self.spark.read.option("sep", sep or ",").option("header", str(header is not False).lower())
        # amounts with a decimal comma stay text; the order-line view reads them
        reader = reader.option("inferSchema", str(not all_varchar).lower()).option("mode", "FAILFAST")
        with translated():
            df = reader.csv(_absolute(paths))
            if names is not None:
                df = df.toDF(*names)
        return self._frame_view("raw", df)

    def read_whitespace(self, paths: str | list[str], *, names: Sequence[str], skip_header: bool) -> Table:
        """Fixed-layout text with runs of spaces or tabs between fields (e.g. CDNOW), every field text."""
        files = paths if isinstance(paths, list) else [paths]
        with translated():
            lines = self._frame_view("raw_lines", self.spark.read.text(_absolute(files)))
        skip = ""
        if skip_header:  # the header line is the first line of each file: drop lines equal to it
            first = {Path(p).read_text(encoding="utf-8").splitlines()[0] for p in _expand(files)}
            skip = " AND value NOT IN (" + ", ".join(literal(f).sql("spark") for f in sorted(first)) + ")"
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
        return "row_number() OVER (ORDER BY monotonically_increasing_id())"

    def _generated(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        return spark_sql(sql, params), None

    # --- the seam's primitives --------------------------------------------------------------

    def _statement(self, q: Query, params: dict[str, Any]) -> None:
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
        return order_keys(sql)

    def _make_view(self, name: str, select: str) -> None:
        with translated():
            df = self.spark.sql(select)
            df.createOrReplaceTempView(name)
        self._frames[name] = df

    def _register(self, name: str, frame: Any, label: str) -> None:
        try:
            df = frame if _is_spark_frame(frame) else self.spark.createDataFrame(_as_arrow(frame))
            df.createOrReplaceTempView(name)
        except Exception as exc:  # many types of failure for an object Spark cannot read
            raise EngineError(f"cannot register {label}: {first_line(exc)}") from None
        self._frames[name] = df

    def _drop(self, name: str, kind: str) -> None:
        self._frames.pop(name, None)
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
        """The rows as a Spark DataFrame (lazy, in the relation's order)."""
        sql, _ = rel._select()
        with translated():
            return self.spark.sql(sql)

    def _to_polars(self, rel: Relation, limit: int | None) -> pl.DataFrame:
        self._collect()
        df = self.dataframe(rel)
        with translated():
            return pl.from_arrow((df.limit(limit) if limit is not None else df).toArrow())  # type: ignore[return-value]

    def _write(self, rel: Relation, path: str | Path, spreadsheet_safe: bool) -> Path:
        fmt = output_format(path)
        frame = self._to_polars(rel, None)
        if spreadsheet_safe:
            frame = frame.with_columns(
                pl.when(pl.col(c).str.contains(FORMULA_START)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
                for c, t in frame.schema.items()
                if t == pl.String
            )

        def writer(tmp: Path) -> None:
            if fmt == "parquet":
                frame.write_parquet(tmp)
            else:
                frame.write_csv(tmp)

        return write_atomic(path, writer)

    def write_table(self, rel: Relation, table: str, *, mode: str = "overwrite") -> None:
        """Write the rows to a catalog table (``--out-table``)."""
        with translated(f"{table}: "):
            self.dataframe(rel).write.mode(mode).saveAsTable(table)


def _is_spark_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pyspark.sql") and hasattr(obj, "createOrReplaceTempView")


def _as_arrow(frame: Any) -> Any:
    if isinstance(frame, pl.DataFrame):
        return frame.to_arrow()
    return frame  # pandas or Arrow: createDataFrame reads both


def _absolute(paths: str | list[str]) -> list[str]:
    """Local paths made absolute (a Spark Connect server resolves relative ones in its own directory);
    URIs (s3://, hdfs://, file:/ ...) as given."""
    items = paths if isinstance(paths, list) else [paths]
    return [p if re.match(r"^[a-z][a-z0-9+.-]*:/", p, re.I) else os.path.abspath(p) for p in items]


def _expand(files: list[str]) -> list[str]:
    return [m for f in files for m in (sorted(glob.glob(f)) if any(c in f for c in "*?[") else [f])]


def _quiet() -> None:
    """PySpark logs every failed query's context to stderr; rfm reports errors itself, in one line."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True
