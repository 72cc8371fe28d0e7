"""Where order lines come in: files, globs, DuckDB tables and in-memory frames.

:func:`open_orders` registers the input as the DuckDB view ``rfm_order_lines``
with fixed column names and types, so every query in ``queries/`` reads one
shape whatever the input looked like:

=============  =========================================================
customer_id    as in the input (NULL rows are dropped and counted)
order_id       as in the input (or derived, see ``input.order_id_fallback``)
order_date     DATE (text parsed with ``input.date_format``; timestamps cut to the day)
amount         DOUBLE
category       VARCHAR or NULL
status         lower-cased, trimmed VARCHAR or NULL
quantity       DOUBLE or NULL
line_hash      hash of the whole input row (all columns): finds exact duplicate lines
=============  =========================================================

The view is built from quoted identifiers checked against the input's real
columns; values (the date format) are bound through a DuckDB variable.  Bad
values are not searched for up front: the scan raises, and :func:`diagnose`
then finds the column, an example value and the fix.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from rfm.config import OPTIONAL_ROLES, PRESETS, REQUIRED_ROLES, InputConfig
from rfm.errors import InputError
from rfm.schema import did_you_mean, read_yaml
from rfm.sql import first_row

VIEW = "rfm_order_lines"
RAW = "rfm_raw"

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
_DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUM_TYPES = (*_INT_TYPES, "FLOAT", "DOUBLE", "REAL")
_DATE_GUESSES = ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y")


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted, with embedded quotes doubled."""
    return '"' + str(name).replace('"', '""') + '"'


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name).lower())


@dataclass
class OrdersSource:
    """An opened input: its label for messages, columns and the role mapping."""

    label: str
    columns: dict[str, str]  # input column -> DuckDB type
    mapping: dict[str, str | None]  # role -> input column (None: absent)
    detected: list[str] = field(default_factory=list)  # roles found by common names
    notes: list[str] = field(default_factory=list)


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>"


def _relation(con: duckdb.DuckDBPyConnection, source: Any, cfg: InputConfig, table: str | None) -> None:
    """Register the raw input as the view ``rfm_raw``."""
    label = describe_source(source)
    if not isinstance(source, (str, Path)):
        try:
            con.register(RAW, source)
        except Exception as exc:  # duckdb raises several types for unsupported objects
            raise InputError(
                f"{label}: cannot read this object as orders ({exc.__class__.__name__}); "
                "pass a polars/pandas DataFrame, a pyarrow Table, or a file path"
            ) from None
        return
    text = str(source)
    path = Path(text)
    is_glob = any(ch in text for ch in "*?[")
    lower = text.lower()
    if not is_glob and not path.exists():
        raise InputError(f"{text}: file not found; check the path")
    if path.is_dir():
        parquet = sorted(path.rglob("*.parquet"))
        csvs = sorted(p for p in path.rglob("*") if str(p).lower().endswith(_CSV_SUFFIXES))
        if parquet:
            con.read_parquet([str(p) for p in parquet]).create_view(RAW)
        elif csvs:
            _read_csv(con, [str(p) for p in csvs], cfg, text)
        else:
            raise InputError(f"{text}: directory holds no .parquet or .csv files")
        return
    if lower.endswith(_PARQUET_SUFFIXES):
        if is_glob and not glob.glob(text, recursive=True):
            raise InputError(f"{text}: no file matches this pattern")
        try:
            con.read_parquet(text).create_view(RAW)
        except duckdb.Error as exc:
            raise InputError(f"{text}: not a readable Parquet file ({_first_line(exc)})") from None
    elif lower.endswith(_DUCKDB_SUFFIXES):
        _attach(con, text, table or cfg.table)
    elif lower.endswith(_CSV_SUFFIXES) or is_glob:
        _read_csv(con, text, cfg, text)
    else:
        raise InputError(
            f"{text}: unknown file type; use .csv/.tsv/.txt (optionally .gz), .parquet, or a DuckDB .duckdb/.db file"
        )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _read_csv(con: duckdb.DuckDBPyConnection, paths: str | list[str], cfg: InputConfig, label: str) -> None:
    opts = cfg.csv
    first = paths[0] if isinstance(paths, list) else paths
    if isinstance(paths, str) and not any(ch in paths for ch in "*?[") and Path(paths).stat().st_size == 0:
        raise InputError(f"{label}: the file is empty (0 bytes); export the orders again")
    try:
        if opts.delimiter == "whitespace":
            _read_whitespace(con, paths, cfg, label, first)
            return
        kwargs: dict[str, Any] = {}
        if opts.delimiter is not None:
            kwargs["sep"] = opts.delimiter
        if opts.header is not None:
            kwargs["header"] = opts.header
        if opts.decimal != ".":
            kwargs["decimal"] = opts.decimal
        if opts.names is not None:
            kwargs["names"] = opts.names
        con.read_csv(paths, **kwargs).create_view(RAW)
    except duckdb.Error as exc:
        raise InputError(f"{label}: cannot read as CSV ({_first_line(exc)}); check input.csv options") from None


def _read_whitespace(con: duckdb.DuckDBPyConnection, paths: Any, cfg: InputConfig, label: str, first: str) -> None:
    """Fixed-layout text with runs of spaces between fields (e.g. CDNOW)."""
    names = cfg.csv.names
    header = bool(cfg.csv.header)
    if names is None:
        if not header:
            raise InputError(
                f'{label}: input.csv.delimiter is "whitespace" but the columns have no names; '
                "set input.csv.names: [...] or input.csv.header: true"
            )
        matches = sorted(glob.glob(first)) if any(ch in first for ch in "*?[") else [first]
        if not matches:
            raise InputError(f"{label}: no file matches this pattern")
        with open(matches[0], encoding="utf-8") as fh:
            names = fh.readline().split()
    lines = con.read_csv(
        paths, sep="\x1f", header=False, columns={"line": "VARCHAR"}, quotechar="", auto_detect=False, skiprows=int(header)
    )
    lines.create_view("rfm_raw_lines")
    fields = ", ".join(f"nullif(parts[{i + 1}], '') AS {quote_ident(n)}" for i, n in enumerate(names))
    con.execute(
        "CREATE OR REPLACE TEMP VIEW rfm_raw AS SELECT " + fields + " FROM (SELECT string_split_regex("
        "trim(regexp_replace(line, '\\s+', ' ', 'g')), ' ') AS parts FROM rfm_raw_lines WHERE trim(line) <> '')"
    )


def _attach(con: duckdb.DuckDBPyConnection, path: str, table: str | None) -> None:
    try:
        con.execute("ATTACH $path AS rfm_src (READ_ONLY)", {"path": path})
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot open as a DuckDB database ({_first_line(exc)})") from None
    tables = [
        r[0]
        for r in con.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'rfm_src' ORDER BY 1"
        ).fetchall()
    ]
    if table is None:
        if len(tables) != 1:
            raise InputError(
                f"{path}: holds {len(tables)} tables ({', '.join(tables) or 'none'}); name one with --table or input.table"
            )
        table = tables[0]
    if table not in tables:
        raise InputError(f'{path}: no table "{table}"{did_you_mean(table, tables)} (tables: {", ".join(tables)})')
    con.execute(f"CREATE OR REPLACE TEMP VIEW {RAW} AS SELECT * FROM rfm_src.{quote_ident(table)}")


def _aliases() -> dict[str, list[str]]:
    return read_yaml(PRESETS / "columns.yaml")


def map_columns(columns: list[str], cfg: InputConfig, label: str) -> tuple[dict[str, str | None], list[str]]:
    """Role -> input column, from the config or by common names."""
    configured = cfg.columns.model_dump()
    by_norm = {_norm(c): c for c in reversed(columns)}
    aliases = _aliases()
    mapping: dict[str, str | None] = {}
    detected: list[str] = []
    for role in (*REQUIRED_ROLES, *OPTIONAL_ROLES):
        name = configured.get(role)
        if name is not None:
            if name not in columns:
                raise InputError(
                    f'{label}: column "{name}" (input.columns.{role}) not found{did_you_mean(name, columns)}; '
                    f"columns are: {', '.join(columns)}"
                )
            mapping[role] = name
            continue
        hit = next((by_norm[_norm(a)] for a in aliases.get(role, []) if _norm(a) in by_norm), None)
        if hit is not None and hit not in mapping.values():
            mapping[role] = hit
            detected.append(role)
        else:
            mapping[role] = None
    missing = [r for r in REQUIRED_ROLES if mapping[r] is None]
    if missing == ["order_id"] and cfg.order_id_fallback != "none":
        missing = []
    if missing:
        role = missing[0]
        hint = f"map it in the config: input.columns.{role}: <column name>"
        if role == "order_id":
            hint += " (or set input.order_id_fallback: customer_day when the data has no order ids)"
        raise InputError(
            f'{label}: required column "{role}" not found (columns: {", ".join(columns)}); {hint}'
        )
    return mapping, detected


def open_orders(
    con: duckdb.DuckDBPyConnection, source: Any, cfg: InputConfig, *, table: str | None = None
) -> OrdersSource:
    """Register ``source`` as the normalised view ``rfm_order_lines``."""
    label = describe_source(source)
    _relation(con, source, cfg, table)
    described = con.sql(f"DESCRIBE {RAW}").fetchall()
    columns = {row[0]: str(row[1]) for row in described}
    if not columns:
        raise InputError(f"{label}: no columns found; is the file empty?")
    mapping, detected = map_columns(list(columns), cfg, label)
    src = OrdersSource(label, columns, mapping, detected)
    con.execute("SET VARIABLE rfm_date_format = $fmt", {"fmt": cfg.date_format})
    con.execute(
        "SET VARIABLE rfm_excluded_statuses = CAST($s AS VARCHAR[])",
        {"s": [status.lower().strip() for status in cfg.excluded_statuses]},
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {VIEW} AS SELECT {', '.join(_select_list(con, src, cfg))} FROM {RAW} AS r")
    return src


def _excluded_status(src: OrdersSource) -> str:
    """SQL true for a line whose status is in input.excluded_statuses (the view's
    ``excluded`` column: the one place every scan takes the classification from)."""
    if src.mapping["status"] is None:
        return "false"
    status = f"lower(trim(CAST({quote_ident(src.mapping['status'])} AS VARCHAR)))"
    return f"coalesce(list_contains(getvariable('rfm_excluded_statuses'), {status}), false)"


def _kept_line(src: OrdersSource) -> str:
    """SQL true for a line that is kept: a customer id and a status not excluded.

    Only kept lines must hold valid values: a cancelled line with an empty or
    unreadable date or amount is dropped and counted like any cancelled line."""
    return f"({quote_ident(src.mapping['customer_id'])} IS NOT NULL AND NOT {_excluded_status(src)})"  # type: ignore[arg-type]


def _select_list(con: duckdb.DuckDBPyConnection, src: OrdersSource, cfg: InputConfig) -> list[str]:
    m = src.mapping
    cust = quote_ident(m["customer_id"])  # type: ignore[arg-type]
    known = _kept_line(src)

    def required(expr: str, col: str, role: str) -> str:
        # NULL in a required column of a kept line is an error, raised by the scan.
        return f"CASE WHEN {known} AND {col} IS NULL THEN error('rfm:null:{role}') ELSE {expr} END"

    def lenient(strict: str, tolerant: str) -> str:
        # a value that cannot be read fails the scan on a kept line, and is NULL on a dropped one
        return f"CASE WHEN {known} THEN {strict} ELSE {tolerant} END"

    date_col = quote_ident(m["order_date"])  # type: ignore[arg-type]
    dtype = src.columns[m["order_date"]]  # type: ignore[index]
    if dtype.startswith(_DATE_TYPES):
        date_expr = f"CAST({date_col} AS DATE)"
    elif dtype in _INT_TYPES or dtype == "VARCHAR":
        text = date_col if dtype == "VARCHAR" else f"CAST({date_col} AS VARCHAR)"
        if cfg.date_format is not None:
            date_expr = lenient(
                f"CAST(strptime({text}, getvariable('rfm_date_format')) AS DATE)",
                f"CAST(try_strptime({text}, getvariable('rfm_date_format')) AS DATE)",
            )
        elif dtype == "VARCHAR":
            date_expr = lenient(f"CAST({text} AS DATE)", f"TRY_CAST({text} AS DATE)")
        else:
            example = first_row(con, f"SELECT {date_col} FROM {RAW} WHERE {date_col} IS NOT NULL LIMIT 1")
            shown = example[0] if example else "?"
            fmt = next((f for f in _DATE_GUESSES if _parses(con, str(shown), f)), "%Y%m%d")
            raise InputError(
                f'{src.label}: column "{m["order_date"]}" holds numbers (first: {shown}), not dates; '
                f'set input.date_format: "{fmt}" to read them as dates'
            )
    else:
        raise InputError(
            f'{src.label}: column "{m["order_date"]}" has type {dtype}, not a date; map input.columns.order_date '
            "to a date, timestamp or text column"
        )

    amount_col = quote_ident(m["amount"])  # type: ignore[arg-type]
    atype = src.columns[m["amount"]]  # type: ignore[index]
    if atype == "VARCHAR" and cfg.csv.decimal == ",":
        amount_expr = lenient(
            f"CAST(replace({amount_col}, ',', '.') AS DOUBLE)", f"TRY_CAST(replace({amount_col}, ',', '.') AS DOUBLE)"
        )
    elif atype == "VARCHAR":
        amount_expr = lenient(f"CAST({amount_col} AS DOUBLE)", f"TRY_CAST({amount_col} AS DOUBLE)")
    elif atype in _NUM_TYPES or atype.startswith("DECIMAL"):
        amount_expr = f"CAST({amount_col} AS DOUBLE)"
    else:
        raise InputError(
            f'{src.label}: column "{m["amount"]}" has type {atype}, not a number; map input.columns.amount to the line amount'
        )

    if m["order_id"] is not None:
        order_expr = quote_ident(m["order_id"])
        order_sql = required(order_expr, order_expr, "order_id")
    elif cfg.order_id_fallback == "line":
        order_sql = "hash(r)"
    else:  # customer_day: the day is the order
        order_sql = f"CAST({date_expr} AS VARCHAR)"

    def optional(role: str, expr: str) -> str:
        col = m[role]
        return expr.format(quote_ident(col)) if col is not None else "NULL"

    return [
        f"{cust} AS customer_id",
        f"{order_sql} AS order_id",
        f"{required(date_expr, date_col, 'order_date')} AS order_date",
        f"{required(amount_expr, amount_col, 'amount')} AS amount",
        f"{optional('category', 'CAST({} AS VARCHAR)')} AS category",
        f"{optional('status', 'lower(trim(CAST({} AS VARCHAR)))')} AS status",
        f"{_excluded_status(src)} AS excluded",
        f"{optional('quantity', 'CAST({} AS DOUBLE)')} AS quantity",
        "hash(r) AS line_hash",
    ]


def _parses(con: duckdb.DuckDBPyConnection, value: str, fmt: str) -> bool:
    return first_row(con, "SELECT try_strptime($v, $f) IS NOT NULL", {"v": value, "f": fmt})[0]


def diagnose(con: duckdb.DuckDBPyConnection, src: OrdersSource, cfg: InputConfig, exc: BaseException) -> InputError:
    """Turn a failed scan into one message: file, column, example value, fix."""
    try:
        return _diagnose(con, src, cfg, exc)
    except duckdb.Error:  # the file itself is malformed (e.g. a row with too many fields)
        return InputError(
            f"{src.label}: cannot read the orders ({_first_line(exc)}); check input.csv (delimiter, quoting, header)"
        )


def _diagnose(con: duckdb.DuckDBPyConnection, src: OrdersSource, cfg: InputConfig, exc: BaseException) -> InputError:
    m = src.mapping
    text = str(exc)
    cust = quote_ident(m["customer_id"])  # type: ignore[arg-type]
    null_role = re.search(r"rfm:null:(\w+)", text)
    if null_role:
        role = null_role.group(1)
        col = m[role] or role
        con.execute("SET threads = 1")
        row = first_row(
            con,
            f"SELECT c, n FROM (SELECT {cust} AS c, {quote_ident(col)} AS v, {_kept_line(src)} AS kept, "
            f"row_number() OVER () AS n FROM {RAW}) WHERE kept AND v IS NULL ORDER BY n LIMIT 1",
        )
        who = f" (first: customer {row[0]}, row {row[1]})" if row else ""
        return InputError(
            f'{src.label}: column "{col}" is empty on some order lines{who}; fill in {role} or remove those lines'
        )
    # Which required column fails to parse?
    try:
        raw_text = _all_varchar_view(con, src, cfg)
    except duckdb.Error:
        raw_text = RAW
    checks = [("amount", "TRY_CAST({} AS DOUBLE)" if cfg.csv.decimal == "." else "TRY_CAST(replace({}, ',', '.') AS DOUBLE)")]
    if cfg.date_format is not None:
        checks.append(("order_date", "try_strptime(CAST({} AS VARCHAR), getvariable('rfm_date_format'))"))
    else:
        checks.append(("order_date", "TRY_CAST(CAST({} AS VARCHAR) AS DATE)"))
    if m["quantity"] is not None:
        checks.append(("quantity", "TRY_CAST({} AS DOUBLE)"))
    # Kept lines first (the only ones that must parse); then any line: a CSV column
    # is read with one type, so a bad value on a dropped line past DuckDB's type
    # sample still stops the reader.
    for only_kept in (True, False):
        for role, parse in checks:
            found = _first_bad(con, src, cfg, raw_text, role, parse, only_kept)
            if found is not None:
                return found
    return InputError(f"{src.label}: cannot read the orders ({_first_line(exc)})")


def _first_bad(
    con: duckdb.DuckDBPyConnection, src: OrdersSource, cfg: InputConfig, raw_text: str, role: str, parse: str,
    only_kept: bool,
) -> InputError | None:
    col = src.mapping[role]
    if col is None:
        return None
    q = quote_ident(col)
    kept = _kept_line(src) if only_kept else "true"
    # One thread keeps file order, so the row number gives the line (error path only).
    con.execute("SET threads = 1")
    row = first_row(
        con,
        f"SELECT v, n FROM (SELECT CAST({q} AS VARCHAR) AS v, {parse.format(q)} AS parsed, {kept} AS kept, "
        f"row_number() OVER () AS n FROM {raw_text}) WHERE kept AND v IS NOT NULL AND parsed IS NULL ORDER BY n LIMIT 1",
    )
    con.execute("RESET threads")
    if row is None:
        return None
    value, rownum = row
    where = f" on line {rownum + int(cfg.csv.header is not False)}" if raw_text == "rfm_raw_text" else f" in row {rownum}"
    if role == "order_date":
        fmt = next((f for f in _DATE_GUESSES if _parses(con, value, f)), None)
        fix = (
            f'set input.date_format: "{fmt}"'
            if fmt and fmt != cfg.date_format
            else "fix the value or set input.date_format to the format the column uses"
        )
        return InputError(f'{src.label}: column "{col}" has values that are not dates (first: "{value}"{where}); {fix}')
    fix = (
        'set input.csv.decimal: "," or clean the column'
        if re.fullmatch(r"-?[\d.]*,\d+", value.strip())
        else "clean the column (numbers only, no currency signs or thousands separators)"
    )
    return InputError(f'{src.label}: column "{col}" has non-numeric values (first: "{value}"{where}); {fix}')


def _all_varchar_view(con: duckdb.DuckDBPyConnection, src: OrdersSource, cfg: InputConfig) -> str:
    """For CSV input, re-read every column as text so a bad value can be shown as written."""
    path = src.label
    if not path.lower().endswith(_CSV_SUFFIXES) or cfg.csv.delimiter == "whitespace":
        return RAW
    kwargs: dict[str, Any] = {"all_varchar": True}
    if cfg.csv.delimiter is not None:
        kwargs["sep"] = cfg.csv.delimiter
    if cfg.csv.header is not None:
        kwargs["header"] = cfg.csv.header
    if cfg.csv.names is not None:
        kwargs["names"] = cfg.csv.names
    con.read_csv(path, **kwargs).create_view("rfm_raw_text")
    return "rfm_raw_text"
