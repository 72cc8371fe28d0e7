"""Reading inputs into the engine, and the normalised order-line view.

The one place where SQL is generated rather than loaded from ``queries/``: the
readers (CSV, whitespace text, Parquet, a DuckDB database file, an in-memory
frame) and the view that gives every order-line input the same shape
(:meth:`Sources.order_lines`).  Which column plays which role and how it
must be read is decided by :mod:`rfm.inputs` and handed over as a
:class:`LineSpec`; identifiers are quoted by :func:`quote_ident`, values are
bound (the date format and the excluded statuses through DuckDB variables).
The error-path queries that find a bad value's line live here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rfm.engine._errors import translated
from rfm.engine._tables import Table, quote_ident

if TYPE_CHECKING:
    from rfm.engine._engine import Engine

_DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")

TypeClass = Literal["date", "integer", "number", "text", "other"]


def type_class(dtype: str) -> TypeClass:
    """What an engine column type is good for: dates, whole numbers, numbers, text or nothing we read."""
    if dtype.startswith(_DATE_TYPES):
        return "date"
    if dtype in _INT_TYPES:
        return "integer"
    if dtype in _FLOAT_TYPES or dtype.startswith("DECIMAL"):
        return "number"
    if dtype == "VARCHAR":
        return "text"
    return "other"


@dataclass(frozen=True)
class LineSpec:
    """How to read one order-line input (decided by ``rfm.inputs``).

    ``columns`` maps each role (customer_id, order_id, order_date, amount,
    category, status, quantity) to its raw column or None; ``types`` are the
    raw column types.  ``order_id`` says where order ids come from when there
    is no column: each ``line`` is an order, or each ``customer_day``."""

    columns: Mapping[str, str | None]
    types: Mapping[str, str]
    date_format: str | None
    decimal: str
    excluded_statuses: tuple[str, ...]
    order_id: Literal["column", "line", "customer_day"]


class Sources:
    """Input readers and the order-line view (mixed into :class:`~rfm.engine.Engine`)."""

    # --- raw inputs ---------------------------------------------------------------------

    def read_csv(
        self: Engine,
        paths: str | list[str],
        *,
        sep: str | None = None,
        header: bool | None = None,
        decimal: str = ".",
        names: Sequence[str] | None = None,
        all_varchar: bool = False,
    ) -> Table:
        """CSV files as a view; options left None are sniffed."""
        kwargs: dict[str, Any] = {}
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

    def read_whitespace(self: Engine, paths: str | list[str], *, names: Sequence[str], skip_header: bool) -> Table:
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

    def read_parquet(self: Engine, paths: str | list[str]) -> Table:
        return self._reader_view("raw", lambda: self._con.read_parquet(paths))

    def database_tables(self: Engine, path: str) -> list[str]:
        """Attach a DuckDB database file read-only; the names of its tables."""
        alias = f"rfm_src_{next(self._serial)}"
        self._execute(f"ATTACH $path AS {quote_ident(alias)} (READ_ONLY)", {"path": path})
        self._attached = alias
        rows = self._rows(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = $c ORDER BY 1", {"c": alias}
        )
        return [r[0] for r in rows]

    def read_database_table(self: Engine, table: str) -> Table:
        """A table of the database attached by :meth:`database_tables`, as a view."""
        if self._attached is None:
            raise TypeError("read_database_table: no database attached; call database_tables(path) first")
        return self._view("raw", f"SELECT * FROM {quote_ident(self._attached)}.{quote_ident(table)}")

    def _reader_view(self: Engine, label: str, make: Any) -> Table:
        name = self._new_name(label)
        with translated():
            make().create_view(name)
        return Table(self, name, "view", label)

    # --- the normalised order lines -------------------------------------------------------

    def order_lines(self: Engine, raw: Table, spec: LineSpec) -> Table:
        """The view every customer query reads (see ``rfm.inputs`` for its columns).

        One per engine: the date format and excluded statuses it reads are the
        connection's variables, so a second view would change the first."""
        if self._lines_built:
            raise TypeError("order_lines: this engine already has an order-line view; open another Engine")
        self._lines_built = True
        self._execute("SET VARIABLE rfm_date_format = $fmt", {"fmt": spec.date_format})
        self._execute(
            "SET VARIABLE rfm_excluded_statuses = CAST($s AS VARCHAR[])",
            {"s": [status.lower().strip() for status in spec.excluded_statuses]},
        )
        select = f"SELECT {', '.join(_select_list(spec))} FROM {quote_ident(raw._name)} AS r"
        return self._view("order_lines", select, (raw,))

    def first_value(self: Engine, raw: Table, column: str) -> Any:
        """The first non-empty value of a raw column (for messages)."""
        col = quote_ident(column)
        row = self._first(f"SELECT {col} FROM {quote_ident(raw._name)} WHERE {col} IS NOT NULL LIMIT 1", None)
        return row[0] if row else None

    def parses_as_date(self: Engine, value: str, fmt: str) -> bool:
        row = self._first("SELECT try_strptime($v, $f) IS NOT NULL", {"v": value, "f": fmt})
        return bool(row and row[0])

    def first_missing(self: Engine, raw: Table, spec: LineSpec, column: str) -> tuple[Any, int] | None:
        """(customer id, row number) of the first kept line whose ``column`` is empty."""
        cust = quote_ident(spec.columns["customer_id"])  # type: ignore[arg-type]
        with self.single_thread():  # file order, so the row number is the line's
            return self._first(
                f"SELECT c, n FROM (SELECT {cust} AS c, {quote_ident(column)} AS v, {_kept_line(spec)} AS kept, "
                f"row_number() OVER () AS n FROM {quote_ident(raw._name)}) WHERE kept AND v IS NULL ORDER BY n LIMIT 1",
                None,
            )

    def first_unparsed(
        self: Engine,
        raw: Table,
        spec: LineSpec,
        column: str,
        parse: Literal["number", "date"],
        *,
        decimal: str = ".",
        only_kept: bool,
    ) -> tuple[str, int] | None:
        """(value as text, row number) of the first line whose ``column`` does not read as ``parse``
        (a number with ``decimal`` as its decimal mark, or a date in the spec's format)."""
        q = quote_ident(column)
        if parse == "number":
            parsed = f"TRY_CAST({q} AS DOUBLE)" if decimal == "." else f"TRY_CAST(replace({q}, ',', '.') AS DOUBLE)"
        elif spec.date_format is not None:
            parsed = f"try_strptime(CAST({q} AS VARCHAR), getvariable('rfm_date_format'))"
        else:
            parsed = f"TRY_CAST(CAST({q} AS VARCHAR) AS DATE)"
        kept = _kept_line(spec) if only_kept else "true"
        with self.single_thread():  # file order, so the row number is the line's
            return self._first(
                f"SELECT v, n FROM (SELECT CAST({q} AS VARCHAR) AS v, {parsed} AS parsed, {kept} AS kept, "
                f"row_number() OVER () AS n FROM {quote_ident(raw._name)}) "
                "WHERE kept AND v IS NOT NULL AND parsed IS NULL ORDER BY n LIMIT 1",
                None,
            )


def _excluded_status(spec: LineSpec) -> str:
    """SQL true for a line whose status is in input.excluded_statuses (the view's
    ``excluded`` column: the one place every scan takes the classification from)."""
    if spec.columns["status"] is None:
        return "false"
    status = f"lower(trim(CAST({quote_ident(spec.columns['status'])} AS VARCHAR)))"
    return f"coalesce(list_contains(getvariable('rfm_excluded_statuses'), {status}), false)"


def _kept_line(spec: LineSpec) -> str:
    """SQL true for a line that is kept: a customer id and a status not excluded.

    Only kept lines must hold valid values: a cancelled line with an empty or
    unreadable date or amount is dropped and counted like any cancelled line."""
    return f"({quote_ident(spec.columns['customer_id'])} IS NOT NULL AND NOT {_excluded_status(spec)})"  # type: ignore[arg-type]


def _select_list(spec: LineSpec) -> list[str]:
    m = spec.columns
    cust = quote_ident(m["customer_id"])  # type: ignore[arg-type]
    known = _kept_line(spec)

    def required(expr: str, col: str, role: str) -> str:
        # NULL in a required column of a kept line is an error, raised by the scan.
        return f"CASE WHEN {known} AND {col} IS NULL THEN error('rfm:null:{role}') ELSE {expr} END"

    def lenient(strict: str, tolerant: str) -> str:
        # a value that cannot be read fails the scan on a kept line, and is NULL on a dropped one
        return f"CASE WHEN {known} THEN {strict} ELSE {tolerant} END"

    date_col = quote_ident(m["order_date"])  # type: ignore[arg-type]
    dtype = spec.types[m["order_date"]]  # type: ignore[index]
    if type_class(dtype) == "date":
        date_expr = f"CAST({date_col} AS DATE)"
    else:  # text, or whole numbers with a date format (rfm.inputs checks the rest)
        text = date_col if dtype == "VARCHAR" else f"CAST({date_col} AS VARCHAR)"
        if spec.date_format is not None:
            date_expr = lenient(
                f"CAST(strptime({text}, getvariable('rfm_date_format')) AS DATE)",
                f"CAST(try_strptime({text}, getvariable('rfm_date_format')) AS DATE)",
            )
        else:
            date_expr = lenient(f"CAST({text} AS DATE)", f"TRY_CAST({text} AS DATE)")

    amount_col = quote_ident(m["amount"])  # type: ignore[arg-type]
    atype = spec.types[m["amount"]]  # type: ignore[index]
    if atype == "VARCHAR" and spec.decimal == ",":
        amount_expr = lenient(
            f"CAST(replace({amount_col}, ',', '.') AS DOUBLE)", f"TRY_CAST(replace({amount_col}, ',', '.') AS DOUBLE)"
        )
    elif atype == "VARCHAR":
        amount_expr = lenient(f"CAST({amount_col} AS DOUBLE)", f"TRY_CAST({amount_col} AS DOUBLE)")
    else:
        amount_expr = f"CAST({amount_col} AS DOUBLE)"

    if spec.order_id == "column":
        order_expr = quote_ident(m["order_id"])  # type: ignore[arg-type]
        order_sql = required(order_expr, order_expr, "order_id")
    elif spec.order_id == "line":
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
        f"{_excluded_status(spec)} AS excluded",
        f"{optional('quantity', 'CAST({} AS DOUBLE)')} AS quantity",
        "hash(r) AS line_hash",
    ]
