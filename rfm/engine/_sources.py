"""The normalised order-line view, and the error-path queries that find a bad value.

The one place where SQL is generated rather than loaded from ``queries/``: the
view that gives every order-line input the same shape
(:meth:`Sources.order_lines`).  Which column plays which role and how it
must be read is decided by :mod:`rfm.inputs` and handed over as a
:class:`LineSpec`; identifiers are quoted by :func:`quote_ident`.  The SQL is
written once, in DuckDB's dialect, like the blocks of ``queries/``; each engine
supplies four small hooks (how a value reaches a view, a row's hash, a row's
number in input order, and its dialect) and reads its inputs itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rfm.engine._tables import Table, quote_ident

if TYPE_CHECKING:
    from rfm.engine._engine import Engine

_DATE_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "TIMESTAMP WITH TIME ZONE")
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")

TypeClass = Literal["date", "integer", "number", "text", "other"]

# Amounts are summed as DECIMAL(18, 4): an absolute value from here on does not fit.
MAX_AMOUNT = 100_000_000_000_000

# Order dates outside these bounds are placeholders, not orders: dropped and counted (bad_date).
FIRST_DATE, LAST_DATE = "1900-01-01", "2099-12-31"


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
    thousands: str | None = None


class Sources:
    """The order-line view and the error-path queries (mixed into :class:`~rfm.engine.Engine`)."""

    # --- hooks each engine supplies ----------------------------------------------------------

    def _variable(self, name: str, value: Any) -> str:
        """SQL that reads ``value`` inside a view (which cannot bind parameters)."""
        raise NotImplementedError

    def _row_hash(self, raw: Table) -> str:
        """SQL for a hash of a whole input row (alias ``r``): finds exact duplicate lines."""
        raise NotImplementedError

    def _row_number(self) -> str:
        """SQL numbering the rows of one input in input order (inside :meth:`single_thread`)."""
        raise NotImplementedError

    def _generated(self, sql: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
        """Generated DuckDB SQL (and its parameters) in this engine's dialect."""
        raise NotImplementedError

    def _text_date(self, text: str, strict: bool) -> str:
        """SQL reading a text date without a format: fails when ``strict``, else NULL, on anything else.

        YYYY-MM-DD (or YYYY/MM/DD), or a timestamp after it, dated in UTC: one with a UTC offset
        (``2024-01-05T23:30:00-05:00``, Shopify's ``2024-01-05 23:30:00 -0500``) or ``Z`` goes
        through a time-zone-aware timestamp and may be the next day in UTC; one with only a time
        of day is cut to its day without a timestamp parse (the fast path: a 5 M-line column of
        timestamps costs 0.44 s against 0.12 s for plain CAST AS DATE).  Zone names (EST) are not
        read.  Leading and trailing spaces are allowed."""
        cast = "CAST" if strict else "TRY_CAST"
        v = text
        stamp = f"regexp_replace(replace(trim({v}), '/', '-'), '\\s+([+-][0-9]{{2}}:?[0-9]{{2}})$', '\\1')"
        offset = f"(contains(substr({v}, 12), '+') OR contains(substr({v}, 12), '-') OR ends_with(rtrim({v}), 'Z'))"
        # DuckDB's CAST reads 25-01-24 as the year 25: the year must come first, in four digits
        return (
            f"CASE WHEN substr({v}, 5, 1) NOT IN ('-', '/') AND substr(ltrim({v}), 5, 1) NOT IN ('-', '/') "
            f"THEN {cast}('not a date' AS DATE) "
            f"WHEN length({v}) <= 10 OR NOT {offset} THEN {cast}({v} AS DATE) "
            f"ELSE CAST({cast}({stamp} AS TIMESTAMPTZ) AS DATE) END"
        )

    def _query_rows(self, sql: str, params: dict[str, Any] | None, limit: int | None = None) -> list[tuple[Any, ...]]:
        return self._rows(*self._generated(sql, params), limit=limit)  # type: ignore[attr-defined]

    # --- the normalised order lines -------------------------------------------------------

    def order_lines(self: Engine, raw: Table, spec: LineSpec) -> Table:
        """The view every customer query reads (see ``rfm.inputs`` for its columns).

        One per engine: the date format and excluded statuses it reads are the
        connection's variables, so a second view would change the first."""
        if self._lines_built:
            raise TypeError("order_lines: this engine already has an order-line view; open another Engine")
        self._lines_built = True
        fmt = self._variable("rfm_date_format", spec.date_format) if spec.date_format is not None else None
        statuses = [status.lower().strip() for status in spec.excluded_statuses]
        excluded = self._variable("rfm_excluded_statuses", statuses) if statuses else None
        self._excluded = excluded
        inner = f"SELECT {', '.join(_select_list(spec, fmt, excluded, self._row_hash(raw), self._text_date))} FROM {quote_ident(raw._name)} AS r"
        # A date before 1900 or after 2099 is a placeholder (an ERP's 9999-12-31 "no date"), not an
        # order: the line is dropped like an excluded status and counted apart (bad_date).
        bad = f"coalesce(order_date < DATE '{FIRST_DATE}' OR order_date > DATE '{LAST_DATE}', false)"
        select = (
            "SELECT customer_id, order_id, order_date, amount, category, status, "
            f"(excluded_status OR {bad}) AS excluded, quantity, line_hash, {bad} AS bad_date FROM ({inner}) AS l"
        )
        return self._view("order_lines", self._generated(select, None)[0], (raw,))

    def parses_as_date(self: Engine, value: str, fmt: str) -> bool:
        rows = self._query_rows("SELECT try_strptime($v, $f) IS NOT NULL", {"v": value, "f": fmt})
        return bool(rows and rows[0][0])

    def first_kept_value(self: Engine, raw: Table, spec: LineSpec, column: str) -> Any:
        """The first non-empty value of ``column`` on a kept line (file order)."""
        statuses = [status.lower().strip() for status in spec.excluded_statuses]
        excluded = self._variable("rfm_excluded_statuses", statuses) if statuses else None
        col = quote_ident(column)
        with self.single_thread():  # one thread reads in file order and stops at the first match
            rows = self._query_rows(
                f"SELECT {col} FROM {quote_ident(raw._name)} AS r WHERE {_kept_line(spec, excluded)} "
                f"AND {col} IS NOT NULL LIMIT 1",
                None,
            )
        return rows[0][0] if rows else None

    def date_readings(
        self: Engine, raw: Table, spec: LineSpec, column: str, formats: list[str], shapes: list[str]
    ) -> dict[str, Any]:
        """How the kept lines' text dates read under each of ``formats`` (one scan of the column; a value
        counts only when it has the format's ``shapes`` regular expression):
        ``values`` (non-empty), ``parsed`` (per format, how many read), ``unread`` (per format, the
        smallest value it does not read), ``differ`` (per pair of formats,
        how many values read as two different days) and ``example`` (per pair, the smallest such value)."""
        statuses = [status.lower().strip() for status in spec.excluded_statuses]
        excluded = self._variable("rfm_excluded_statuses", statuses) if statuses else None
        q = f"trim(CAST({quote_ident(column)} AS VARCHAR))"
        # a value reads under a format only in its shape: DuckDB's %Y also takes "24" (year 24)
        reads = [
            f"CASE WHEN regexp_matches(v, {self._variable(f'rfm_shape_{i}', shape)}) "
            f"THEN CAST(try_strptime(v, {self._variable(f'rfm_guess_{i}', f)}) AS DATE) END"
            for i, (f, shape) in enumerate(zip(formats, shapes))
        ]
        pairs = [(i, j) for i in range(len(formats)) for j in range(i + 1, len(formats))]
        aggregates = ["count(v)"] + [f"count(d{i})" for i in range(len(formats))]
        aggregates += [f"min(v) FILTER (WHERE d{i} IS NULL)" for i in range(len(formats))]
        for i, j in pairs:
            aggregates += [f"count(*) FILTER (WHERE d{i} <> d{j})", f"min(v) FILTER (WHERE d{i} <> d{j})"]
        inner = ", ".join(f"{r} AS d{i}" for i, r in enumerate(reads))
        row = self._query_rows(
            f"SELECT {', '.join(aggregates)} FROM (SELECT v, {inner} FROM (SELECT {q} AS v FROM "
            f"{quote_ident(raw._name)} AS r WHERE {_kept_line(spec, excluded)}) AS t WHERE v IS NOT NULL) AS p",
            None,
        )[0]
        n = len(formats)
        return {
            "values": row[0],
            "parsed": dict(zip(formats, row[1 : n + 1])),
            "unread": dict(zip(formats, row[n + 1 : 2 * n + 1])),
            "differ": {(formats[i], formats[j]): row[2 * n + 1 + 2 * k] for k, (i, j) in enumerate(pairs)},
            "example": {(formats[i], formats[j]): row[2 * n + 2 + 2 * k] for k, (i, j) in enumerate(pairs)},
        }

    def first_missing(self: Engine, raw: Table, spec: LineSpec, column: str) -> tuple[Any, int] | None:
        """(customer id, row number) of the first kept line whose ``column`` is empty."""
        cust = quote_ident(spec.columns["customer_id"])  # type: ignore[arg-type]
        with self.single_thread():  # file order, so the row number is the line's
            rows = self._query_rows(
                f"SELECT c, n FROM (SELECT {cust} AS c, {quote_ident(column)} AS v, {_kept_line(spec, self._excluded)} "
                f"AS kept, {self._row_number()} AS n FROM {quote_ident(raw._name)} AS r) "
                "WHERE kept AND v IS NULL ORDER BY n LIMIT 1",
                None,
            )
            return rows[0] if rows else None

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
            number = f"TRY_CAST({number_text(q, decimal, spec.thousands if column == spec.columns['amount'] else None)} AS DOUBLE)"
            # a number rfm cannot sum (NaN, infinity, beyond DECIMAL(18, 4)) is as unusable as text
            parsed = f"CASE WHEN isnan({number}) OR abs({number}) >= {MAX_AMOUNT} THEN NULL ELSE {number} END"
        elif spec.date_format is not None:
            parsed = f"try_strptime(trim(CAST({q} AS VARCHAR)), {self._variable('rfm_date_format', spec.date_format)})"
        else:
            parsed = self._text_date(f"CAST({q} AS VARCHAR)", strict=False)
        kept = _kept_line(spec, self._excluded) if only_kept else "true"
        with self.single_thread():  # file order, so the row number is the line's
            rows = self._query_rows(
                f"SELECT v, n FROM (SELECT CAST({q} AS VARCHAR) AS v, {parsed} AS parsed, {kept} AS kept, "
                f"{self._row_number()} AS n FROM {quote_ident(raw._name)} AS r) "
                "WHERE kept AND v IS NOT NULL AND parsed IS NULL ORDER BY n LIMIT 1",
                None,
            )
            return rows[0] if rows else None


def number_text(col: str, decimal: str, thousands: str | None) -> str:
    """SQL making a text number of the input's notation readable by CAST: the thousands separator
    removed (with the no-break spaces spreadsheets put there), the decimal mark made ".".

    A value holding the separator must group digits by three (1,250.00): "12,50" with
    ``thousands: ","`` is not 1250 but an error naming the value."""
    if thousands is not None:
        sep = "[ \u00a0\u202f]" if thousands == " " else ("[.]" if thousands == "." else thousands.replace("'", "''"))
        dec = "[.]" if decimal == "." else decimal
        grouped = f"^[+-]?[0-9]{{1,3}}({sep}[0-9]{{3}})+({dec}[0-9]*)?$"
        stripped = f"regexp_replace({col}, '{sep}', '', 'g')"
        col = (f"CASE WHEN regexp_matches({col}, '{sep}') AND NOT regexp_matches(trim({col}), '{grouped}') "
               f"THEN 'not grouped by thousands' ELSE {stripped} END")
    return f"replace({col}, ',', '.')" if decimal == "," else col


def _excluded_status(spec: LineSpec, excluded: str | None) -> str:
    """SQL true for a line whose status is in input.excluded_statuses (the view's
    ``excluded`` column: the one place every scan takes the classification from)."""
    if spec.columns["status"] is None or excluded is None:
        return "false"
    status = f"lower(trim(CAST({quote_ident(spec.columns['status'])} AS VARCHAR)))"
    return f"coalesce(list_contains({excluded}, {status}), false)"


def _kept_line(spec: LineSpec, excluded: str | None) -> str:
    """SQL true for a line that is kept: a customer id and a status not excluded.

    Only kept lines must hold valid values: a cancelled line with an empty or
    unreadable date or amount is dropped and counted like any cancelled line."""
    return f"({quote_ident(spec.columns['customer_id'])} IS NOT NULL AND NOT {_excluded_status(spec, excluded)})"  # type: ignore[arg-type]


def _select_list(
    spec: LineSpec, fmt: str | None, excluded: str | None, row_hash: str, text_date: Callable[[str, bool], str]
) -> list[str]:
    """The view's columns; ``fmt`` and ``excluded`` read the date format and the excluded statuses,
    ``text_date(text, strict)`` reads a text date without a format."""
    m = spec.columns
    cust = quote_ident(m["customer_id"])  # type: ignore[arg-type]
    known = _kept_line(spec, excluded)

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
                f"CAST(strptime(trim({text}), {fmt}) AS DATE)",
                f"CAST(try_strptime(trim({text}), {fmt}) AS DATE)",
            )
        else:
            date_expr = lenient(text_date(text, True), text_date(text, False))

    amount_col = quote_ident(m["amount"])  # type: ignore[arg-type]
    atype = spec.types[m["amount"]]  # type: ignore[index]
    if atype == "VARCHAR":
        text = number_text(amount_col, spec.decimal, spec.thousands)
        amount_expr = lenient(f"CAST({text} AS DOUBLE)", f"TRY_CAST({text} AS DOUBLE)")
    else:
        amount_expr = f"CAST({amount_col} AS DOUBLE)"

    if spec.order_id == "column":
        order_expr = quote_ident(m["order_id"])  # type: ignore[arg-type]
        order_sql = required(order_expr, order_expr, "order_id")
    elif spec.order_id == "line":
        order_sql = row_hash
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
        f"{_excluded_status(spec, excluded)} AS excluded_status",
        f"{optional('quantity', 'CAST({} AS DOUBLE)')} AS quantity",
        f"{row_hash} AS line_hash",
    ]
