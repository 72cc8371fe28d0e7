"""Where order lines come in: files, globs, DuckDB tables and in-memory frames.

:func:`open_orders` reads the input into the engine and maps its columns to
roles; the engine then serves every customer query one normalised view of the
lines (:meth:`rfm.engine.Engine.order_lines`), with fixed column names and types:

=============  =========================================================
customer_id    as in the input (NULL rows are dropped and counted)
order_id       as in the input (or derived, see ``input.order_id_fallback``)
order_date     DATE (text parsed with ``input.date_format``; timestamps cut to the day)
amount         DOUBLE
category       VARCHAR or NULL
status         lower-cased, trimmed VARCHAR or NULL
excluded       the status is in ``input.excluded_statuses``, or the date is a placeholder
bad_date       dated before 1900 or after 2099 (9999-12-31 "no date"): dropped, counted apart
quantity       DOUBLE or NULL
line_hash      hash of the whole input row (all columns): finds exact duplicate lines
=============  =========================================================

Bad values are not searched for up front: the scan raises, and :func:`diagnose`
then finds the column, an example value and the fix.
"""

from __future__ import annotations

import csv
import glob
import gzip
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rfm._files import is_uri
from rfm.engine import Engine, LineSpec, Table, database_label, is_database_url, redact, type_class
from rfm.errors import DataError, EngineError, InputError
from rfm.inputs._config import REQUIRED_ROLES, InputConfig
from rfm.inputs._roles import Roles, map_roles
from rfm.inputs._yaml import did_you_mean

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
_DATE_GUESSES = ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y")


@dataclass(frozen=True)
class OrdersSource:
    """An opened input: its label for messages, columns, the role mapping, and the engine's views of it."""

    label: str
    columns: dict[str, str]  # input column -> engine type
    mapping: dict[str, str | None]  # role -> input column (None: absent)
    detected: tuple[str, ...]  # roles found by common names
    spec: LineSpec
    raw: Table  # the input as read
    lines: Table  # the normalised order-line view
    # How a single CSV file (or glob of them) was read: the error path re-reads it as text, so
    # a bad value shows as written, on its line.  None for anything else (row numbers then).
    csv_options: dict[str, Any] | None

    @property
    def has_category(self) -> bool:
        return self.mapping.get("category") is not None


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return redact(str(source))  # a database URL's password never reaches a message
    return f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>"


def open_orders(
    engine: Engine, source: Any, cfg: InputConfig, *, table: str | None = None, query: str | None = None
) -> OrdersSource:
    """Read ``source`` into ``engine`` and build its normalised order-line view."""
    label = describe_source(source) if source is not None else str(table or cfg.table or "orders")
    if is_database_url(source):
        label = database_label(source, table or cfg.table, query)
        raw, options = engine.read_postgres(source, table=table or cfg.table, query=query), None
    elif query is not None:
        raise InputError("--query reads from a database: give a postgresql:// URL as the orders")
    else:
        raw, options = _read(engine, source, cfg, table)
    columns = raw.columns
    if not columns:
        raise InputError(f"{label}: no columns found; is the file empty?")
    mapping = _map_columns(list(columns), cfg, label)
    spec = LineSpec(
        columns=mapping.mapping,
        types=columns,
        date_format=cfg.date_format,
        decimal=cfg.csv.decimal,
        excluded_statuses=tuple(cfg.excluded_statuses),
        order_id="column" if mapping.mapping["order_id"] is not None
        else ("line" if cfg.order_id_fallback == "line" else "customer_day"),
    )
    _check_types(engine, raw, spec, cfg, label)
    lines = engine.order_lines(raw, spec)
    return OrdersSource(label, columns, mapping.mapping, mapping.detected, spec, raw, lines, options)


# --- reading ------------------------------------------------------------------------------


def _read(engine: Engine, source: Any, cfg: InputConfig, table: str | None) -> tuple[Table, dict[str, Any] | None]:
    """The raw input as an engine table, and the options to re-read it as text (CSV files only)."""
    label = describe_source(source)
    uris = engine.reads_uris
    if source is None:
        if uris and (table or cfg.table):
            return engine.read_table(table or cfg.table), None  # type: ignore[arg-type]
        raise InputError(
            "no orders given; pass a file (or, with --engine spark, --table catalog.schema.table)"
        )
    if uris and isinstance(source, str) and is_uri(source):  # s3://, hdfs://, dbfs:/ ... : Spark reads it
        return _read_uri(engine, source, cfg), None
    if not isinstance(source, (str, Path)):
        try:
            return engine.register(source, label="raw"), None
        except EngineError:
            raise InputError(
                f"{label}: cannot read this object as orders ({type(source).__name__}); "
                "pass a polars/pandas DataFrame, a pyarrow Table, or a file path"
            ) from None
    text = str(source)
    path = Path(text)
    is_glob = any(ch in text for ch in "*?[")
    lower = text.lower()
    if not is_glob and not path.exists():
        raise InputError(f"{text}: file not found; check the path")
    if path.is_dir() and (path / "_delta_log").is_dir():
        try:
            return engine.read_delta(text), None
        except EngineError as exc:
            raise InputError(str(exc)) from None
    if path.is_dir():
        parquet = sorted(path.rglob("*.parquet"))
        csvs = sorted(p for p in path.rglob("*") if str(p).lower().endswith(_CSV_SUFFIXES))
        if parquet:
            return _parquet(engine, [str(p) for p in parquet], text), None
        if csvs:  # rows of several files: messages give row numbers, not line numbers
            return _csv(engine, [str(p) for p in csvs], cfg, text, rereadable=False)
        raise InputError(f"{text}: directory holds no .parquet or .csv files")
    if lower.endswith(_PARQUET_SUFFIXES):
        if is_glob and not glob.glob(text, recursive=True):
            raise InputError(f"{text}: no file matches this pattern")
        return _parquet(engine, text, text), None
    if lower.endswith(_DUCKDB_SUFFIXES):
        if uris:
            raise InputError(f"{text}: a DuckDB database file cannot be read by Spark; export the table to Parquet")
        return _database(engine, text, table or cfg.table), None
    if lower.endswith(_CSV_SUFFIXES) or is_glob:  # a glob without a CSV ending: row numbers, not lines
        return _csv(engine, text, cfg, text, rereadable=lower.endswith(_CSV_SUFFIXES))
    raise InputError(
        f"{text}: unknown file type; use .csv/.tsv/.txt (optionally .gz), .parquet, or a DuckDB .duckdb/.db file"
    )


def _read_uri(engine: Engine, uri: str, cfg: InputConfig) -> Table:
    """A path only Spark can see (object store, HDFS, DBFS): the format by its ending, a folder as Parquet."""
    lower = uri.lower().rstrip("/")
    if lower.endswith(_CSV_SUFFIXES):
        return _csv(engine, uri, cfg, uri, rereadable=False)[0]
    if lower.endswith(_PARQUET_SUFFIXES) or uri.endswith("/"):
        return _parquet(engine, uri, uri)
    raise InputError(
        f"{uri}: cannot tell the format; end the path with .parquet or .csv, end a folder of Parquet files "
        "with /, or read a catalog table with --table"
    )


def _parquet(engine: Engine, paths: str | list[str], label: str) -> Table:
    try:
        return engine.read_parquet(paths)
    except EngineError as exc:
        raise InputError(f"{label}: not a readable Parquet file ({exc})") from None


def _csv(
    engine: Engine, paths: str | list[str], cfg: InputConfig, label: str, *, rereadable: bool = True
) -> tuple[Table, dict[str, Any] | None]:
    opts = cfg.csv
    first = paths[0] if isinstance(paths, list) else paths
    if isinstance(paths, str) and not is_uri(paths) and not any(ch in paths for ch in "*?[") and Path(paths).stat().st_size == 0:
        raise InputError(f"{label}: the file is empty (0 bytes); export the orders again")
    try:
        if opts.delimiter == "whitespace":
            names = _whitespace_names(cfg, label, first)
            return engine.read_whitespace(paths, names=names, skip_header=bool(opts.header)), None
        options: dict[str, Any] = {"paths": paths, "sep": opts.delimiter, "header": opts.header, "names": opts.names}
        table = engine.read_csv(decimal=opts.decimal, **options)
    except EngineError as exc:
        raise InputError(f"{label}: cannot read as CSV ({exc}); check input.csv options") from None
    if opts.names is None and opts.header is not False and isinstance(paths, str) and not is_uri(paths) \
            and not any(ch in paths for ch in "*?["):
        _refuse_duplicate_header(paths, len(table.columns), label)
    return table, options if rereadable else None


def _refuse_duplicate_header(path: str, n_columns: int, label: str) -> None:
    """A header naming one column twice (amount,amount): readers rename the second silently; stop instead."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:  # type: ignore[operator]
            line = fh.readline()
    except OSError:
        return
    for sep in (",", ";", "\t", "|"):
        names = next(csv.reader([line], delimiter=sep), [])
        if len(names) == n_columns:
            break
    else:
        return
    seen: dict[str, int] = {}
    for position, name in enumerate((n.strip() for n in names), start=1):
        if name in seen:
            raise InputError(
                f'{label}: the header names "{name}" twice (columns {seen[name]} and {position}); '
                "rename one of them so each column has its own name"
            )
        seen[name] = position


def _whitespace_names(cfg: InputConfig, label: str, first: str) -> list[str]:
    """Column names of fixed-layout text: configured, or the first line's words."""
    if cfg.csv.names is not None:
        return list(cfg.csv.names)
    if not cfg.csv.header:
        raise InputError(
            f'{label}: input.csv.delimiter is "whitespace" but the columns have no names; '
            "set input.csv.names: [...] or input.csv.header: true"
        )
    if is_uri(first):
        raise InputError(f"{label}: the column names of whitespace text are read from a local file; "
                         "set input.csv.names: [...] for a remote one")
    matches = sorted(glob.glob(first)) if any(ch in first for ch in "*?[") else [first]
    if not matches:
        raise InputError(f"{label}: no file matches this pattern")
    with open(matches[0], encoding="utf-8") as fh:
        return fh.readline().split()


def _database(engine: Engine, path: str, table: str | None) -> Table:
    try:
        tables = engine.database_tables(path)
    except EngineError as exc:
        raise InputError(f"{path}: cannot open as a DuckDB database ({exc})") from None
    if table is None:
        if len(tables) != 1:
            raise InputError(
                f"{path}: holds {len(tables)} tables ({', '.join(tables) or 'none'}); name one with --table or input.table"
            )
        table = tables[0]
    if table not in tables:
        raise InputError(f'{path}: no table "{table}"{did_you_mean(table, tables)} (tables: {", ".join(tables)})')
    return engine.read_database_table(table)


# --- roles and types ------------------------------------------------------------------------


def _map_columns(columns: list[str], cfg: InputConfig, label: str) -> Roles:
    if len(columns) == 1:  # one column whose name holds several: read with the wrong separator
        seps = [sep for sep in (";", "\t", "|", ",") if sep in columns[0]]
        if seps:
            shown = "\\t" if seps[0] == "\t" else seps[0]
            raise InputError(
                f'{label}: the file has one column, "{columns[0][:60]}", which looks "{shown}"-separated; '
                f'set input.csv.delimiter: "{shown}"'
            )
    roles = map_roles("orders", columns, cfg.columns.model_dump())
    for role, name in roles.unknown:
        raise InputError(
            f'{label}: column "{name}" (input.columns.{role}) not found{did_you_mean(name, columns)}; '
            f"columns are: {', '.join(columns)}"
        )
    missing = roles.missing(REQUIRED_ROLES)
    if missing == ["order_id"] and cfg.order_id_fallback != "none":
        missing = []
    if missing:
        role = missing[0]
        hint = f"map it in the config: input.columns.{role}: <column name>"
        if role == "order_id":
            hint += " (or set input.order_id_fallback: customer_day when the data has no order ids)"
        raise InputError(f'{label}: required column "{role}" not found (columns: {", ".join(columns)}); {hint}')
    return roles


def _epoch_hint(value: Any) -> str | None:
    """'Unix epoch seconds (2024-01-10)' when a whole number reads as one between 1990 and 2100 (or
    milliseconds, microseconds); None when it could be a yyyymmdd date or anything else."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    for unit, scale in (("seconds", 1), ("milliseconds", 1_000), ("microseconds", 1_000_000)):
        seconds = number / scale
        if 631_152_000 <= seconds < 4_102_444_800:  # 1990-01-01 .. 2100-01-01
            day = datetime.fromtimestamp(seconds, tz=timezone.utc).date()
            return f"Unix epoch {unit} ({day})"
    return None


def _check_types(engine: Engine, raw: Table, spec: LineSpec, cfg: InputConfig, label: str) -> None:
    """The date and amount columns have types the view can read; else one message with the fix."""
    date_col = spec.columns["order_date"]
    dclass = type_class(spec.types[date_col])  # type: ignore[index]
    if dclass == "integer" and cfg.date_format is None:
        shown = engine.first_value(raw, date_col)  # type: ignore[arg-type]
        shown = shown if shown is not None else "?"
        epoch = _epoch_hint(shown)
        if epoch is not None:
            raise InputError(
                f'{label}: column "{date_col}" holds numbers (first: {shown}) that look like {epoch}, not dates; '
                "export the column as dates (or timestamps), e.g. in SQL: to_timestamp(order_date)"
            )
        fmt = next((f for f in _DATE_GUESSES if engine.parses_as_date(str(shown), f)), "%Y%m%d")
        raise InputError(
            f'{label}: column "{date_col}" holds numbers (first: {shown}), not dates; '
            f'set input.date_format: "{fmt}" to read them as dates'
        )
    if dclass not in ("date", "integer", "text"):
        raise InputError(
            f'{label}: column "{date_col}" has type {spec.types[date_col]}, not a date; '  # type: ignore[index]
            "map input.columns.order_date to a date, timestamp or text column"
        )
    amount_col = spec.columns["amount"]
    if type_class(spec.types[amount_col]) not in ("integer", "number", "text"):  # type: ignore[index]
        raise InputError(
            f'{label}: column "{amount_col}" has type {spec.types[amount_col]}, not a number; '  # type: ignore[index]
            "map input.columns.amount to the line amount"
        )


# --- the error path -----------------------------------------------------------------------------


def diagnose(engine: Engine, src: OrdersSource, exc: BaseException) -> InputError:
    """Turn a failed scan into one message: file, column, example value, fix."""
    if not isinstance(exc, DataError):
        return InputError(f"{src.label}: cannot read the orders ({exc})")
    try:
        return _diagnose(engine, src, exc)
    except EngineError:  # the file itself is malformed (e.g. a row with too many fields)
        return InputError(
            f"{src.label}: cannot read the orders ({exc}); check input.csv (delimiter, quoting, header)"
        )


def _diagnose(engine: Engine, src: OrdersSource, exc: BaseException) -> InputError:
    m = src.mapping
    null_role = re.search(r"rfm:null:(\w+)", str(exc))
    if null_role:
        role = null_role.group(1)
        col = m[role] or role
        row = engine.first_missing(src.raw, src.spec, col)
        who = f" (first: customer {row[0]}, row {row[1]})" if row else ""
        return InputError(
            f'{src.label}: column "{col}" is empty on some order lines{who}; fill in {role} or remove those lines'
        )
    # Which required column fails to parse?  CSV is re-read as text, so the value shows as written.
    text = src.raw
    if src.csv_options is not None:
        try:
            text = engine.read_csv(**src.csv_options, all_varchar=True)
        except EngineError:
            text = src.raw
    checks = [("amount", "number", src.spec.decimal), ("order_date", "date", ".")]
    if m["quantity"] is not None:
        checks.append(("quantity", "number", "."))
    # Kept lines first (the only ones that must parse); then any line: a CSV column
    # is read with one type, so a bad value on a dropped line past DuckDB's type
    # sample still stops the reader.
    for only_kept in (True, False):
        for role, parse, decimal in checks:
            col = m[role]
            if col is None:
                continue
            found = engine.first_unparsed(text, src.spec, col, parse, decimal=decimal, only_kept=only_kept)  # type: ignore[arg-type]
            if found is not None:
                return _bad_value(engine, src, role, col, found, text is not src.raw)
    return InputError(f"{src.label}: cannot read the orders ({exc})")


def _bad_value(engine: Engine, src: OrdersSource, role: str, col: str, found: tuple[str, int], as_text: bool) -> InputError:
    value, rownum = found
    header = src.csv_options["header"] if src.csv_options is not None else None
    where = f" on line {rownum + int(header is not False)}" if as_text else f" in row {rownum}"
    if role == "order_date":
        fmt = next((f for f in _DATE_GUESSES if engine.parses_as_date(value, f)), None)
        fix = (
            f'set input.date_format: "{fmt}"'
            if fmt and fmt != src.spec.date_format
            else "fix the value or set input.date_format to the format the column uses"
        )
        return InputError(f'{src.label}: column "{col}" has values that are not dates (first: "{value}"{where}); {fix}')
    try:
        number = float(value.strip().replace(",", ".") if src.spec.decimal == "," else value.strip())
    except ValueError:
        number = None
    if number is not None:  # a number, but not one rfm can sum
        return InputError(
            f'{src.label}: column "{col}" has a value rfm cannot use (first: "{value}"{where}); amounts must be '
            "finite numbers below 100,000,000,000,000 in absolute value (they are summed exactly, as DECIMAL(18, 4)); "
            "fix or remove those lines"
        )
    fix = (
        'set input.csv.decimal: "," or clean the column'
        if re.fullmatch(r"-?[\d.]*,\d+", value.strip())
        else "clean the column (numbers only, no currency signs or thousands separators)"
    )
    return InputError(f'{src.label}: column "{col}" has non-numeric values (first: "{value}"{where}); {fix}')

