"""Loader for the named SQL blocks in ``queries/*.sql`` (aiosql style).

A block starts with ``-- name: <name>``, may carry comment lines, and declares
its bind parameters with ``-- params: a, b`` (or ``-- params: none``)::

    -- name: customer_metrics
    -- One row per customer as of $as_of.
    -- params: as_of, window_start
    CREATE OR REPLACE TEMP TABLE ...

Loading fails, naming ``file:line``, on an empty body, a duplicate name, a
``$param`` used but not declared, or a declared one never used.  Values are
always bound, never formatted into the SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from rfm.errors import ConfigError

_NAME = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)\s*$")
_PARAMS = re.compile(r"^--\s*params:\s*(?P<params>.*)$")
# $identifier outside string literals and comments (stripped before matching).
_PARAM_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def queries_dir() -> Path:
    """``rfm/queries`` inside an installed wheel, ``<repo>/queries`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "queries", here.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"SQL query files not found next to {here}; reinstall the package")


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    params: tuple[str, ...]
    file: str
    line: int
    doc: str

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        missing = [p for p in self.params if p not in values]
        extra = [k for k in values if k not in self.params]
        if missing or extra:
            raise TypeError(
                f"query {self.name} ({self.file}:{self.line}) takes params {list(self.params)}; "
                f"missing {missing}, unexpected {extra}"
            )
        return {p: values[p] for p in self.params}


def _strip(sql: str) -> str:
    """SQL without string literals and comments, for finding $params."""
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r"--[^\n]*", "", sql)


def parse_file(path: Path) -> dict[str, Query]:
    text = path.read_text(encoding="utf-8")
    queries: dict[str, Query] = {}
    blocks: list[tuple[str, int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        match = _NAME.match(line.strip())
        if match:
            blocks.append((match["name"], lineno, []))
        elif blocks:
            blocks[-1][2].append(line)
        elif line.strip() and not line.strip().startswith("--"):
            raise ConfigError(f"{path.name}:{lineno}: SQL before the first '-- name:' line")
    for name, lineno, lines in blocks:
        where = f"{path.name}:{lineno}"
        if name in queries:
            raise ConfigError(f"{where}: duplicate query name {name!r} (first at line {queries[name].line})")
        declared: tuple[str, ...] | None = None
        doc, body = [], []
        for line in lines:
            stripped = line.strip()
            params = _PARAMS.match(stripped)
            if params and not body:
                raw = params["params"].strip()
                declared = () if raw in ("", "none") else tuple(p.strip().lstrip("$") for p in raw.split(","))
            elif stripped.startswith("--") and not body:
                doc.append(stripped.lstrip("-").strip())
            else:
                body.append(line)
        sql = "\n".join(body).strip()
        if not sql:
            raise ConfigError(f"{where}: query {name!r} has an empty body")
        if declared is None:
            raise ConfigError(f"{where}: query {name!r} has no '-- params:' line (write '-- params: none' if it takes none)")
        used = set(_PARAM_USE.findall(_strip(sql)))
        undeclared = sorted(used - set(declared))
        unused = sorted(set(declared) - used)
        if undeclared:
            raise ConfigError(f"{where}: query {name!r} uses undeclared parameter(s) {undeclared}; add them to '-- params:'")
        if unused:
            raise ConfigError(f"{where}: query {name!r} declares parameter(s) {unused} it never uses")
        queries[name] = Query(name, sql.rstrip(";"), declared, path.name, lineno, " ".join(doc))
    return queries


@cache
def load_queries() -> dict[str, Query]:
    """Every named query of every ``queries/*.sql`` file, by name."""
    found: dict[str, Query] = {}
    for path in sorted(queries_dir().glob("*.sql")):
        for name, query in parse_file(path).items():
            if name in found:
                raise ConfigError(f"{path.name}:{query.line}: query {name!r} also defined in {found[name].file}")
            found[name] = query
    return found


def query(name: str) -> Query:
    try:
        return load_queries()[name]
    except KeyError:
        raise ConfigError(f"no SQL query named {name!r} in {queries_dir()}") from None


def execute(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> None:
    """Run a statement (DDL) to completion."""
    q = query(name)
    con.execute(q.sql, q.bind(params))


def fetch(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> pl.DataFrame:
    """Run a SELECT and return a polars frame."""
    q = query(name)
    return con.sql(q.sql, params=q.bind(params) or None).pl()


def fetch_rows(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> list[tuple[Any, ...]]:
    q = query(name)
    return con.sql(q.sql, params=q.bind(params) or None).fetchall()


def first_row(con: duckdb.DuckDBPyConnection, text: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
    """First row of an ad-hoc SELECT (None when empty)."""
    rows = con.sql(text, params=params).limit(1).fetchall()
    return rows[0] if rows else None
