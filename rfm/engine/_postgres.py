"""PostgreSQL as a source of order lines and a sink for results, through ADBC (extra ``rfm[postgres]``).

Reading: a table (``--table schema.name``) or a query (``--query``) of the
database a ``postgresql://`` URL names, as an Arrow record-batch stream that
the engine scans once into its own table (spilling as it needs; the stream is
never held in Python).  Types Arrow cannot carry as themselves are cast in the
query: NUMERIC to DOUBLE PRECISION, UUID and anything exotic to TEXT.

Writing: ``postgresql://.../db?table=schema.name``.  The rows are loaded into
a new table and swapped for the old one (rename) in the same transaction, so a
reader sees the old table or the new one, never a half-written one; a failed
load leaves the old table as it was.  ``if_exists``: ``fail`` (the default),
``replace``, or ``append-snapshot`` (rows added; the ``as_of`` column keeps
each run's date, so score history accumulates).

Credentials come from the URL, the ``PG*`` environment variables or
``~/.pgpass`` (libpq reads them); a password never appears in a message:
every text that may hold a URL goes through :func:`redact`.
"""

from __future__ import annotations

import importlib.util
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rfm.engine._tables import quote_ident
from rfm.errors import ConfigError, EngineError, InputError

EXTRA = "pip install 'rfm[postgres]'"
IfExists = Literal["fail", "replace", "append-snapshot"]
_URL = re.compile(r"^postgres(?:ql)?://", re.I)
_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*):[^@\s]*@", re.I)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# PostgreSQL types Arrow carries as themselves; anything else is read as text (numeric as double).
_NATIVE = {
    "int2", "int4", "int8", "float4", "float8", "text", "varchar", "bpchar", "char", "name", "date",
    "timestamp", "timestamptz", "bool",
}


def is_url(text: Any) -> bool:
    return isinstance(text, str) and bool(_URL.match(text))


def redact(text: str) -> str:
    """``text`` with the password of every PostgreSQL URL in it replaced by ``***``."""
    return _PASSWORD.sub(r"\1:***@", text)


def available() -> bool:
    return importlib.util.find_spec("adbc_driver_postgresql") is not None


@dataclass(frozen=True)
class Target:
    """A database URL (without rfm's own ``table`` query key) and the table it names."""

    uri: str
    table: tuple[str, str | None] | None  # (name, schema)

    @property
    def label(self) -> str:
        where = redact(self.uri)
        if not self.table:
            return where
        name, schema = self.table
        return f"{where} table {schema + '.' if schema else ''}{name}"


def parse(url: str, table: str | None = None) -> Target:
    """``postgresql://user@host:port/db[?table=schema.name&...]``; ``table`` (``--table``) wins."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "table"]
    named = table or dict(parse_qsl(parts.query)).get("table")
    uri = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return Target(uri, split_name(named, redact(url)) if named else None)


def split_name(name: str, where: str) -> tuple[str, str | None]:
    """``schema.table`` or ``table``, each part a plain identifier (no quoting games)."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_NAME.match(p) for p in parts):
        raise InputError(
            f"{where}: table {name!r} is not a plain [schema.]name (letters, digits, _); rename it or use --query"
        )
    return (parts[-1], parts[0] if len(parts) == 2 else None)


def _qualified(table: tuple[str, str | None]) -> str:
    name, schema = table
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


@contextmanager
def connect(target: Target) -> Iterator[Any]:
    """An ADBC connection (autocommit off), errors in one redacted line."""
    if not available():
        raise ConfigError(f"{redact(target.uri)}: reading and writing PostgreSQL needs the postgres extra: {EXTRA}")
    import adbc_driver_postgresql.dbapi as pg  # the optional extra: only when a postgresql:// URL is given

    try:
        con = pg.connect(target.uri)
    except Exception as exc:  # every ADBC/libpq failure to connect
        raise InputError(f"{target.label}: {_why(exc)}") from None
    try:
        yield con
    finally:
        con.close()


def _why(exc: BaseException) -> str:
    text = redact(" ".join(str(exc).split()))
    if "password authentication failed" in text or "no password supplied" in text:
        return "authentication failed; check the user and password (in the URL, PGPASSWORD or ~/.pgpass)"
    if "does not exist" in text and "database" in text:
        return f"cannot connect ({_short(text)}); check the database name"
    if "Failed to connect" in text or "could not connect" in text or "Connection refused" in text:
        return f"cannot connect ({_short(text)}); check host and port, and that the server is running"
    return _short(text)


def _short(text: str) -> str:
    """The server's own words: no driver prefixes, no echo of the query."""
    text = re.sub(r"^(IO|INVALID_ARGUMENT|INTERNAL|UNKNOWN|NOT_FOUND|ALREADY_EXISTS|UNAUTHENTICATED|UNAUTHORIZED):\s*",
                  "", text)
    text = re.sub(r"\[libpq\]\s*|Failed to (prepare|execute) query:\s*|Failed to create table:\s*|ERROR:\s*", "", text)
    for cut in (" LINE 1:", " Query was:", ". SQLSTATE", " SQLSTATE:", " Is the server running"):
        text = text.split(cut)[0]
    return text.strip()[:300]


def read(target: Target, query: str | None, consume: Any) -> Any:
    """Stream the rows of the target's table (or of ``query``) as Arrow record batches into
    ``consume(reader)`` (the engine scans them into its own table) and return what it returns."""
    if (query is None) == (target.table is None):
        raise InputError(
            f"{redact(target.uri)}: name the orders with --table schema.table (or ?table= in the URL) "
            "or --query \"SELECT ...\", one of the two"
        )
    source = f"({query}) AS q" if query is not None else _qualified(target.table)  # type: ignore[arg-type]
    with connect(target) as con:
        cur = con.cursor()
        try:
            cur.execute(f"SELECT * FROM {source} LIMIT 0")
            columns = _columns(cur.fetch_arrow_table().schema)
            select = ", ".join(_read_as(name, pgtype) for name, pgtype in columns)
            cur.execute(f"SELECT {select} FROM {source}")
            reader = cur.fetch_record_batch()
        except Exception as exc:
            raise InputError(f"{target.label}: {_query_error(exc, query)}") from None
        try:
            return consume(reader)
        except EngineError as exc:
            raise InputError(f"{target.label}: {_query_error(exc, query)}") from None


def read_arrow(url: str, what: str) -> Any:
    """A small table (leads, events, outcomes) named by ``url``'s ``?table=``, as an Arrow table."""
    target = parse(url)
    if target.table is None:
        raise InputError(f"{redact(target.uri)}: say which table holds the {what}: add ?table=schema.name to the URL")
    return read(target, None, lambda reader: reader.read_all())


def _columns(schema: Any) -> list[tuple[str, str]]:
    out = []
    for field in schema:
        meta = field.metadata or {}
        pgtype = meta.get(b"POSTGRESQL:type", b"").decode() or "text"
        out.append((field.name, pgtype))
    return out


def _read_as(name: str, pgtype: str) -> str:
    col = quote_ident(name)
    if pgtype in _NATIVE:
        return col
    if pgtype == "numeric":
        return f"CAST({col} AS DOUBLE PRECISION) AS {col}"
    return f"CAST({col} AS TEXT) AS {col}"


def _query_error(exc: BaseException, query: str | None) -> str:
    text = redact(" ".join(str(exc).split()))
    if "syntax error" in text:
        return f"the query does not run ({_short(text)}); check --query"
    if "does not exist" in text and query is None:
        return f"no such table ({_short(text)}); check --table (schema.name)"
    if "permission denied" in text:
        return f"not allowed to read ({_short(text)}); ask for SELECT on it"
    return _short(text)


def check_writable(url: str, if_exists: str) -> None:
    """Before any work: the URL names a table, and with ``fail`` it does not exist yet."""
    target = parse(url)
    if target.table is None:
        raise InputError(f"{redact(target.uri)}: say which table to write: add ?table=schema.name to the URL")
    if if_exists != "fail":
        return
    with connect(target) as con:
        if _exists(con.cursor(), *target.table):
            raise InputError(_exists_message(target))


def _exists_message(target: Target) -> str:
    return (
        f"{target.label}: the table exists; pass --if-exists replace (swap in the new scores) "
        "or --if-exists append-snapshot (add them, keeping earlier dates)"
    )


def write(target: Target, stream: Any, *, if_exists: IfExists, schema: Any) -> None:
    """Load ``stream`` (Arrow batches) into a new table, then swap it in, in one transaction."""
    if target.table is None:
        raise InputError(f"{redact(target.uri)}: say which table to write: add ?table=schema.name to the URL")
    name, db_schema = target.table
    staging = f"{name[:40]}__rfm_new_{secrets.token_hex(4)}"
    old = f"{name[:40]}__rfm_old_{secrets.token_hex(4)}"
    where = target.label
    with connect(target) as con:
        cur = con.cursor()
        try:
            exists = _exists(cur, name, db_schema)
            if exists and if_exists == "fail":
                raise InputError(_exists_message(target))
            cur.adbc_ingest(staging, stream, mode="create", db_schema_name=db_schema)
            new, target_sql = _qualified((staging, db_schema)), _qualified((name, db_schema))
            if not exists:
                cur.execute(f"ALTER TABLE {new} RENAME TO {quote_ident(name)}")
            elif if_exists == "replace":
                cur.execute(f"ALTER TABLE {target_sql} RENAME TO {quote_ident(old)}")
                cur.execute(f"ALTER TABLE {new} RENAME TO {quote_ident(name)}")
                cur.execute(f"DROP TABLE {_qualified((old, db_schema))}")
            else:  # append-snapshot: same columns, in order
                cols = ", ".join(quote_ident(f.name) for f in schema)
                cur.execute(f"INSERT INTO {target_sql} ({cols}) SELECT {cols} FROM {new}")
                cur.execute(f"DROP TABLE {new}")
            con.commit()
        except InputError:
            con.rollback()
            raise
        except Exception as exc:
            con.rollback()
            raise EngineError(f"{where}: cannot write ({_write_error(exc)}); nothing was changed") from None


def _exists(cur: Any, name: str, schema: str | None) -> bool:
    cur.execute(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = coalesce($2, current_schema())",
        parameters=(name, schema),
    )
    return bool(cur.fetchone()[0])


def _write_error(exc: BaseException) -> str:
    text = redact(" ".join(str(exc).split()))
    if "permission denied" in text:
        return f"{_short(text)}; ask for CREATE on the schema"
    if "column" in text and "does not exist" in text:
        return f"{_short(text)}; the existing table has other columns: use --if-exists replace"
    return _short(text)
