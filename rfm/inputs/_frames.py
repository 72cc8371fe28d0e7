"""Where leads, events and outcomes come in: files or frames, as polars lazy frames.

:func:`read_frame` returns an :class:`InputFrame` whose frame has the role
columns renamed to fixed names (``lead_id``, ``event_type``, ``timestamp``,
...) and keeps every other column under its own name, so fit criteria can
test "any other column".  Roles are mapped by the one role mapper
(:mod:`rfm.inputs._roles`, common names in ``rfm/presets/columns.yaml``).
CSV is read as text (``infer_schema=False``): types are decided here, per
role, and a value that does not fit is reported with an example instead of
being guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rfm._files import remove_quietly
from rfm.engine import database_label, is_database_url, read_database_table
from rfm.errors import ConfigError, InputError
from rfm.inputs._encoding import first_non_utf8, has_utf16_bom, utf8_copy
from rfm.inputs._roles import Kind, aliases, map_roles
from rfm.inputs._yaml import did_you_mean

_CSV = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_PARQUET = (".parquet", ".pq")
_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f")


@dataclass
class InputFrame:
    """An opened input: label for messages, the renamed lazy frame, the role mapping."""

    label: str
    kind: str  # leads | events | outcomes
    frame: pl.LazyFrame
    mapping: dict[str, str | None]  # role -> input column
    schema: pl.Schema  # of ``frame``
    is_csv: bool

    def column(self, role: str) -> str:
        """The input's own name for a role, for messages."""
        return self.mapping.get(role) or role

    def where(self, index: int) -> str:
        """``line N`` in a CSV file (header is line 1), else ``row N``."""
        return f"line {index + 2}" if self.is_csv else f"row {index + 1}"


def scan(source: Any, kind: str, *, infer: bool = False) -> tuple[pl.LazyFrame, str, bool]:
    """A lazy frame, a label for messages, and whether it is CSV (text columns unless ``infer``)."""
    if isinstance(source, pl.LazyFrame):
        return source, f"{kind} <polars.LazyFrame>", False
    if isinstance(source, pl.DataFrame):
        return source.lazy(), f"{kind} <polars.DataFrame>", False
    if not isinstance(source, (str, Path)):
        module = type(source).__module__.split(".")[0]
        label = f"{kind} <{module}.{type(source).__name__}>"
        try:
            frame = pl.from_pandas(source) if module == "pandas" else pl.from_arrow(source)
        except Exception:  # polars raises several types for unsupported objects
            raise InputError(
                f"{label}: cannot read this object as {kind}; pass a polars/pandas DataFrame, "
                "a pyarrow Table, or a .csv/.parquet path"
            ) from None
        if not isinstance(frame, pl.DataFrame):
            raise InputError(f"{label}: expected a table, got a single column; pass a DataFrame")
        return frame.lazy(), label, False
    text = str(source)
    lower = text.lower()
    if is_database_url(text):  # postgresql://.../db?table=schema.name (rfm[postgres])
        frame = pl.from_arrow(read_database_table(text, kind))
        return frame.lazy(), f"{database_label(text, None, None)} ({kind})", False  # type: ignore[union-attr]
    if not Path(text).exists():
        raise InputError(f"{text}: file not found; check the path")
    try:
        if lower.endswith(_CSV):
            sep = "\t" if ".tsv" in lower else ","
            if has_utf16_bom(text):  # Excel's "Unicode text": read from a UTF-8 copy, at once
                copy = utf8_copy(text, "utf-16")
                try:
                    frame = pl.read_csv(copy, separator=sep, infer_schema=infer, infer_schema_length=10_000).lazy()
                finally:
                    remove_quietly(copy)
                return frame, text, True
            bad = first_non_utf8(text)
            if bad is not None:
                raise InputError(
                    f"{text}: not UTF-8 on line {bad[0]} (bytes {bad[1]!r}); save the {kind} file as UTF-8 "
                    '(in Excel: "CSV UTF-8")'
                )
            frame = pl.scan_csv(text, separator=sep, infer_schema=infer, infer_schema_length=10_000)
            frame.collect_schema()
            return frame, text, True
        if lower.endswith(_PARQUET):
            frame = pl.scan_parquet(text)
            frame.collect_schema()
            return frame, text, False
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{text}: cannot read {kind} ({first}); check the file is a valid CSV/Parquet export"
        ) from None
    raise InputError(f"{text}: unknown file type for {kind}; use .csv/.tsv (optionally .gz) or .parquet")


def read_frame(source: Any, kind: Kind, columns: Mapping[str, str | None], grid_source: str) -> InputFrame:
    """Open ``source`` and map its columns to roles (configured under ``columns.<kind>``, or by common names)."""
    frame, label, is_csv = scan(source, kind)
    raw = list(frame.collect_schema().names())
    roles = map_roles(kind, raw, columns)
    for role, configured in roles.unknown:
        raise ConfigError(
            f'{grid_source}: columns.{kind}.{role} is "{configured}" but {label} has no such column'
            f"{did_you_mean(configured, raw)} (columns: {', '.join(raw)})"
        )
    spec = aliases(kind)
    for role in roles.missing(spec.required):
        looked = ", ".join(spec.roles[role][:6])
        raise InputError(
            f'{label}: no column for "{role}" (looked for {looked}, ...; columns: {", ".join(raw)}); '
            f"set columns.{kind}.{role} in the grid"
        )
    mapping = roles.mapping
    used = {v for v in mapping.values() if v is not None}
    exprs = [pl.col(col).alias(role) for role, col in mapping.items() if col is not None]
    exprs += [pl.col(name) for name in raw if name not in used and name not in mapping]
    frame = frame.select(exprs)
    return InputFrame(label, kind, frame, mapping, frame.collect_schema(), is_csv)


# --- dates and timestamps ----------------------------------------------------------------------

_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M")


def local_date(col: str, dtype: pl.DataType, timezone: str, fmt: str | None) -> pl.Expr:
    """A Date in ``timezone`` from a Date, a Datetime (naive = local) or text.

    Text may mix ISO forms: ``2024-01-31``, ``2024-01-31 09:30[:00[.123]]``,
    ``T`` or space, and offsets (``Z``, ``+02:00``, ``-0500``), which are
    converted to ``timezone``.  Anything else is null (and reported by the caller).
    """
    c = pl.col(col)
    if dtype == pl.Date:
        return c
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            return c.dt.convert_time_zone(timezone).dt.date()
        return c.dt.date()
    if dtype != pl.String:
        return pl.lit(None, dtype=pl.Date)
    text = c.str.strip_chars().str.replace("T", " ", literal=True).str.replace(r"[zZ]$", "+00:00")
    tries: list[pl.Expr] = []
    if fmt is not None:
        tries.append(c.str.strip_chars().str.to_datetime(fmt, strict=False, time_unit="us").dt.date())
    tries.append(
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_unit="us", time_zone=timezone).dt.date()
    )
    tries += [text.str.to_datetime(f, strict=False, time_unit="us").dt.date() for f in _NAIVE_FORMATS]
    tries.append(text.str.to_date("%Y-%m-%d", strict=False))
    return pl.coalesce(tries)


def first_bad(table: InputFrame, role: str, bad: pl.Expr) -> tuple[int, int, Any]:
    """(count, first row index, first value) of rows where ``bad`` holds."""
    found = (
        table.frame.with_row_index("__row")
        .filter(bad)
        .select(pl.len().alias("n"), pl.col("__row").first().alias("row"), pl.col(role).first().alias("value"))
        .collect()
        .row(0)
    )
    return int(found[0]), int(found[1] or 0), found[2]


def present(col: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if dtype == pl.String:
        return c.is_not_null() & (c.str.strip_chars() != "")
    return c.is_not_null()


def boolean(col: str, dtype: pl.DataType) -> pl.Expr:
    """true/false/1/0/yes/no (any case) as Boolean; other text null."""
    c = pl.col(col)
    if dtype == pl.Boolean:
        return c
    if dtype.is_numeric():
        return pl.when(c == 1).then(True).when(c == 0).then(False)
    norm = c.cast(pl.String).str.strip_chars().str.to_lowercase()
    return pl.when(norm.is_in(_TRUE)).then(True).when(norm.is_in(_FALSE)).then(False)


def numeric(col: str, dtype: pl.DataType) -> pl.Expr:
    c = pl.col(col)
    if dtype.is_numeric():
        return c.cast(pl.Float64)
    return c.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def check_dates(table: InputFrame, role: str, tz: str, fmt: str | None, *, required: bool, bad: int | None = None,
                 empty: int | None = None) -> None:
    """Raise :class:`InputError` naming a bad (or, when ``required``, an empty) date value, with its row.

    ``bad`` / ``empty``: counts already known from a profiling pass (0 skips the search).
    """
    dtype = table.schema[role]
    if not (dtype in (pl.String, pl.Date) or isinstance(dtype, pl.Datetime)):
        raise InputError(
            f'{table.label}: column "{table.column(role)}" has type {dtype}, expected dates or timestamps; '
            "export it as ISO text (2024-01-31T09:30:00Z) or a timestamp"
        )
    given = present(role, dtype)
    parsed = local_date(role, dtype, tz, fmt)
    if bad is None or bad:
        n, idx, value = first_bad(table, role, given & parsed.is_null())
        if n:
            hint = (
                '; or set timestamps.format in the grid (e.g. "%d/%m/%Y %H:%M")' if fmt is None
                else f' (timestamps.format is "{fmt}")'
            )
            raise InputError(
                f'{table.label}: column "{table.column(role)}" has {n:,} value(s) that are not dates or timestamps '
                f'(first: "{value}" on {table.where(idx)}); write ISO 8601 such as 2024-01-31 or '
                f"2024-01-31T09:30:00+01:00{hint}"
            )
    if required and (empty is None or empty):
        n, idx, _ = first_bad(table, role, ~given)
        if n:
            raise InputError(
                f'{table.label}: column "{table.column(role)}" is empty on {n:,} row(s) (first: {table.where(idx)}); '
                "every event needs a timestamp — fill or drop those rows"
            )
