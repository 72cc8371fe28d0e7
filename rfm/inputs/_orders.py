"""Order lines opened for scoring: read (see ``_reading``), mapped to roles, typed, and diagnosed.

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

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from rfm.engine import NOT_UTF8, Engine, LineSpec, Table, database_label, is_database_url, type_class
from rfm.errors import DataError, EngineError, InputError
from rfm.inputs._config import REQUIRED_ROLES, InputConfig
from rfm.inputs._dates import DATE_GUESSES, DATE_TIME_GUESSES, epoch_hint, settle_date_format
from rfm.inputs._reading import describe_source, local_files, read, unreadable_csv
from rfm.inputs._roles import Roles, map_roles
from rfm.inputs._yaml import did_you_mean


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
    reading: str = ""  # how text dates were read when the file did not say (for the summary line)

    @property
    def has_category(self) -> bool:
        return self.mapping.get("category") is not None


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
        raw, options = read(engine, source, cfg, table)
    columns = raw.columns
    if not columns:
        raise InputError(f"{label}: no columns found; is the file empty?")
    mapping = _map_columns(list(columns), cfg, label)
    spec = _line_spec(columns, mapping, cfg)
    _check_types(engine, raw, spec, cfg, label)
    reading = ""
    if cfg.date_format is None and type_class(columns[mapping.mapping["order_date"]]) == "text":  # type: ignore[index]
        fmt, reading = settle_date_format(engine, raw, spec, label)
        if fmt is not None:
            spec = dataclasses.replace(spec, date_format=fmt)
    lines = engine.order_lines(raw, spec)
    return OrdersSource(label, columns, mapping.mapping, mapping.detected, spec, raw, lines, options, reading)


def _line_spec(columns: dict[str, str], mapping: Roles, cfg: InputConfig) -> LineSpec:
    return LineSpec(
        columns=mapping.mapping,
        types=columns,
        date_format=cfg.date_format,
        decimal=cfg.csv.decimal,
        thousands=cfg.csv.thousands,
        excluded_statuses=tuple(cfg.excluded_statuses),
        order_id="column" if mapping.mapping["order_id"] is not None
        else ("line" if cfg.order_id_fallback == "line" else "customer_day"),
    )


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


def _check_types(engine: Engine, raw: Table, spec: LineSpec, cfg: InputConfig, label: str) -> None:
    """The date and amount columns have types the view can read; else one message with the fix."""
    date_col = spec.columns["order_date"]
    dclass = type_class(spec.types[date_col])  # type: ignore[index]
    if dclass == "integer" and cfg.date_format is None:
        shown = engine.first_kept_value(raw, spec, date_col)  # type: ignore[arg-type]
        shown = shown if shown is not None else "?"
        epoch = epoch_hint(shown)
        if epoch is not None:
            raise InputError(
                f'{label}: column "{date_col}" holds numbers (first: {shown}) that look like {epoch}, not dates; '
                "export the column as dates (or timestamps), e.g. in SQL: to_timestamp(order_date)"
            )
        fmt = next((f for f in DATE_GUESSES if engine.parses_as_date(str(shown), f)), "%Y%m%d")
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
    if NOT_UTF8 in str(exc) and src.csv_options is not None:  # found by the scan, past the sniffer's sample
        return unreadable_csv(exc, src.label, local_files(src.csv_options["paths"], src.label))
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


def _number_fix(value: str, spec: LineSpec) -> str:
    """The config that reads a number written with separators, or what to clean."""
    grouped = {
        ",": r"-?\d{1,3}(,\d{3})+(\.\d+)?",
        " ": r"-?\d{1,3}([ \u00a0\u202f]\d{3})+(,\d+)?",
        ".": r"-?\d{1,3}(\.\d{3})+(,\d+)?",
        "'": r"-?\d{1,3}('\d{3})+(\.\d+)?",
    }
    for sep, pattern in grouped.items():
        if spec.thousands != sep and re.fullmatch(pattern, value):
            needs = {",": ".", " ": ",", ".": ",", "'": "."}[sep]
            setting = f'set input.csv.thousands: "{sep}"'
            if needs != spec.decimal and needs in value:
                setting += f' and input.csv.decimal: "{needs}"'
            return setting
    if spec.decimal != "," and re.fullmatch(r"-?\d*,\d+", value):
        return 'set input.csv.decimal: "," or clean the column'
    return "clean the column (numbers only, no currency signs)"


def _bad_value(engine: Engine, src: OrdersSource, role: str, col: str, found: tuple[str, int], as_text: bool) -> InputError:
    value, rownum = found
    header = src.csv_options["header"] if src.csv_options is not None else None
    where = f" on line {rownum + int(header is not False)}" if as_text else f" in row {rownum}"
    if role == "order_date":
        fmt = next((f for f in ("%Y-%m-%d", *DATE_TIME_GUESSES) if engine.parses_as_date(value, f)), None)
        first = str(engine.first_kept_value(src.raw, src.spec, col))
        current = src.spec.date_format
        first_reads = engine.parses_as_date(first, current) if current else engine.parses_as_date(first[:10], "%Y-%m-%d")
        if fmt is not None and first_reads:  # the first value reads, this one is another form
            fix = f'the column mixes date forms (first value: "{first}"); write every date in one form'
        elif fmt is not None and fmt != src.spec.date_format:
            fix = f'set input.date_format: "{fmt}"'
        else:
            fix = "fix the value or set input.date_format to the format the column uses"
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
    fix = _number_fix(value.strip(), src.spec)
    return InputError(f'{src.label}: column "{col}" has non-numeric values (first: "{value}"{where}); {fix}')

