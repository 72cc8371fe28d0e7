"""Loader for the named SQL blocks in ``queries/<capability>/*.sql`` (aiosql style).

A block starts with ``-- name: <name>``, may carry comment lines, and declares
its bind parameters with ``-- params: a, b`` (or ``-- params: none``) and the
tables it reads with ``-- tables: lines, grid`` (optional; none when absent)::

    -- name: build_customers
    -- One row per customer as of $as_of.
    -- params: as_of, monetary
    -- tables: totals
    SELECT ... FROM {totals} WHERE ...

A block's full name is qualified by its folder: ``customers.build_customers``.
``$param`` values are always bound, never formatted into the SQL text;
``{table}`` placeholders are replaced by the engine with the quoted name of
a table it owns (see :class:`rfm.engine.Table`), so table names never appear in
a query file.  Loading fails, naming ``file:line``, on an empty body, a
duplicate name, a ``$param`` or ``{table}`` used but not declared, or one
declared and never used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from rfm.errors import ConfigError

_NAME = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$")
_PARAMS = re.compile(r"^--\s*params:\s*(?P<params>.*)$")
_TABLES = re.compile(r"^--\s*tables:\s*(?P<tables>.*)$")
# $identifier and {identifier} outside string literals and comments (stripped before matching).
_PARAM_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_TABLE_USE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# A block whose first keyword is one of these returns rows; anything else is a statement.
_QUERY_START = re.compile(r"^\s*(\(|SELECT\b|WITH\b|FROM\b|VALUES\b)", re.I)


def queries_dir() -> Path:
    """``rfm/queries`` inside an installed wheel, ``<repo>/queries`` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "queries", here.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"SQL query files not found next to {here}; reinstall the package")


@dataclass(frozen=True)
class Query:
    """One named block: its SQL, declared parameters and tables, and where it was defined."""

    name: str
    sql: str
    params: tuple[str, ...]
    tables: tuple[str, ...]
    file: str
    line: int
    doc: str

    @property
    def returns_rows(self) -> bool:
        return bool(_QUERY_START.match(self.sql))

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The declared parameters' values; a call with missing or unknown ones is a programming error."""
        missing = [p for p in self.params if p not in values]
        extra = [k for k in values if k not in self.params]
        if missing or extra:
            raise TypeError(
                f"query {self.name} ({self.file}:{self.line}) takes params {list(self.params)}; "
                f"missing {missing}, unexpected {extra}"
            )
        return {p: values[p] for p in self.params}

    def render(self, names: Mapping[str, str], quote: Callable[[str], str]) -> str:
        """The SQL with every ``{table}`` replaced by ``quote(names[table])``."""
        missing = [t for t in self.tables if t not in names]
        extra = [t for t in names if t not in self.tables]
        if missing or extra:
            raise TypeError(
                f"query {self.name} ({self.file}:{self.line}) reads tables {list(self.tables)}; "
                f"missing {missing}, unexpected {extra}"
            )
        return _TABLE_USE.sub(lambda m: quote(names[m.group(1)]) if m.group(1) in names else m.group(0), self.sql)


def _strip(sql: str) -> str:
    """SQL without string literals and comments, for finding $params and {tables}."""
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r"--[^\n]*", "", sql)


def _names(raw: str) -> tuple[str, ...]:
    raw = raw.strip()
    return () if raw in ("", "none") else tuple(p.strip().lstrip("$") for p in raw.split(","))


def parse_file(path: Path, prefix: str = "") -> dict[str, Query]:
    """Every block of one file, by (qualified) name."""
    text = path.read_text(encoding="utf-8")
    where_file = f"{prefix.rstrip('.') + '/' if prefix else ''}{path.name}"
    queries: dict[str, Query] = {}
    blocks: list[tuple[str, int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _NAME.match(line.strip())
        if match:
            blocks.append((match["name"], lineno, []))
        elif blocks:
            blocks[-1][2].append(line)
        elif line.strip() and not line.strip().startswith("--"):
            raise ConfigError(f"{where_file}:{lineno}: SQL before the first '-- name:' line")
    for short, lineno, lines in blocks:
        name = prefix + short
        where = f"{where_file}:{lineno}"
        if name in queries:
            raise ConfigError(f"{where}: duplicate query name {short!r} (first at line {queries[name].line})")
        declared: tuple[str, ...] | None = None
        tables: tuple[str, ...] = ()
        doc, body = [], []
        for line in lines:
            stripped = line.strip()
            params = _PARAMS.match(stripped)
            table_line = _TABLES.match(stripped)
            if params and not body:
                declared = _names(params["params"])
            elif table_line and not body:
                tables = _names(table_line["tables"])
            elif stripped.startswith("--") and not body:
                doc.append(stripped.lstrip("-").strip())
            else:
                body.append(line)
        sql = "\n".join(body).strip()
        if not sql:
            raise ConfigError(f"{where}: query {short!r} has an empty body")
        if declared is None:
            raise ConfigError(f"{where}: query {short!r} has no '-- params:' line (write '-- params: none' if it takes none)")
        code = _strip(sql)
        for kind, used, listed, line_name in (
            ("parameter", set(_PARAM_USE.findall(code)), declared, "params"),
            ("table", set(_TABLE_USE.findall(code)), tables, "tables"),
        ):
            undeclared = sorted(used - set(listed))
            unused = sorted(set(listed) - used)
            if undeclared:
                raise ConfigError(f"{where}: query {short!r} uses undeclared {kind}(s) {undeclared}; add them to '-- {line_name}:'")
            if unused:
                raise ConfigError(f"{where}: query {short!r} declares {kind}(s) {unused} it never uses")
        queries[name] = Query(name, sql.rstrip(";"), declared, tables, where_file, lineno, " ".join(doc))
    return queries


@cache
def load_queries(root: Path | None = None) -> dict[str, Query]:
    """Every named block of every ``queries/<capability>/*.sql`` file, by qualified name."""
    root = root or queries_dir()
    found: dict[str, Query] = {}
    stray = sorted(p.name for p in root.glob("*.sql"))
    if stray:
        raise ConfigError(f"{root}: {stray[0]} is not in a capability folder; move it to queries/<capability>/")
    for path in sorted(root.glob("*/*.sql")):
        for name, query in parse_file(path, prefix=f"{path.parent.name}.").items():
            if name in found:
                raise ConfigError(f"{query.file}:{query.line}: query {name!r} also defined in {found[name].file}")
            found[name] = query
    return found


def query(name: str) -> Query:
    try:
        return load_queries()[name]
    except KeyError:
        raise ConfigError(f"no SQL query named {name!r} in {queries_dir()}") from None
