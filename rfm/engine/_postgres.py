"""PostgreSQL as a source of order lines and a sink for results, through ADBC (extra ``rfm[postgres]``).

Reading: a table (``--table schema.name``) or a query (``--query``) of the
database a ``postgresql://`` URL names, as an Arrow record-batch stream that
the engine scans once into its own table (spilling as it needs; the stream is
never held in Python).  Types Arrow cannot carry as themselves are cast in the
query: NUMERIC to DOUBLE PRECISION, UUID and anything exotic to TEXT.

Writing: ``postgresql://.../db?table=schema.name``, in one transaction, so a
reader (READ COMMITTED, PostgreSQL's default) sees the old rows or the new
ones, never half of them, and a failed load changes nothing.  ``if_exists``:
``fail`` (the default), ``replace`` (the table's rows deleted and the new ones
loaded, keeping its grants, indexes and the views on it; a table with other
columns is replaced by a new one, swapped in by rename), or
``append-snapshot`` (rows added through a temporary table; a date written
again replaces that date's rows; the columns must match).

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
from urllib.parse import parse_qsl, unquote, urlsplit

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
    """``text`` with the password of every PostgreSQL URL in it replaced by ``***`` (user-info and
    ``password=`` forms) and any password known to this process (see :func:`_secrets`) removed."""
    text = _PASSWORD.sub(r"\1:***@", text)
    text = _PASSWORD_KEY.sub(r"\1***", text)
    for secret in sorted(_SECRETS, key=len, reverse=True):  # a longer secret may contain a shorter one
        text = text.replace(secret, "***")
    return text


_PASSWORD_KEY = re.compile(r"((?:ssl)?password=)[^&\s\"']*", re.I)
_SECRETS: set[str] = set()  # passwords seen in URLs this process parsed: never printed, in any form


def remember_secrets(url: str) -> None:
    """Note the password(s) a URL carries, raw and decoded, so :func:`redact` removes them from any
    text (libpq echoes a malformed password in its own messages, without the URL around it)."""
    found = re.findall(r"^postgres(?:ql)?://[^:/?#\s]*:(.*)@[^@]*$", url.split("?")[0], re.I)
    found += [v for k, v in re.findall(r"[?&]((?:ssl)?password)=([^&]*)", url, re.I)]
    for raw in found:
        for form in {raw, unquote(raw)}:
            if len(form) >= 3:  # a 1-2 character "password" would blank out unrelated text
                _SECRETS.add(form)
def available() -> bool:
    return importlib.util.find_spec("adbc_driver_postgresql") is not None


@dataclass(frozen=True)
class Target:
    """A database URL (without rfm's own ``table`` query key) and the table it names."""

    uri: str
    table: tuple[str, str | None] | None  # (name, schema)
    where: str  # scheme://user@host:port/db: what messages show (never a password or query string)

    @property
    def label(self) -> str:
        if not self.table:
            return self.where
        name, schema = self.table
        return f"{self.where} table {schema + '.' if schema else ''}{name}"


def parse(url: str, table: str | None = None) -> Target:
    """``postgresql://user@host:port/db[?table=schema.name&...]``; ``table`` (``--table``) wins.

    The URL reaches libpq as written except rfm's own ``table`` key; messages show only
    ``scheme://user@host:port/db``."""
    remember_secrets(url)
    try:
        parts = urlsplit(url)
        host, port, user = parts.hostname or "", parts.port, parts.username
    except ValueError:
        raise InputError(f"{_where_of(url)}: not a valid postgresql:// URL; write postgresql://user@host:port/db") from None
    named = table or dict(parse_qsl(parts.query)).get("table")
    # drop only table=...: re-encoding the rest would change what libpq reads (spaces, %XX)
    rest = "&".join(kv for kv in parts.query.split("&") if kv and not kv.lower().startswith("table="))
    uri = url.split("?")[0] + (f"?{rest}" if rest else "")
    where = f"{parts.scheme}://{user + '@' if user else ''}{host}{f':{port}' if port else ''}{parts.path}"
    return Target(uri, split_name(named, where) if named else None, where)


def _where_of(url: str) -> str:
    return redact(url.split("?")[0])


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
        raise ConfigError(f"{target.where}: reading and writing PostgreSQL needs the postgres extra: {EXTRA}")
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
    text = re.split(r"\s+LINE \d+:", text)[0]
    for cut in (" Query was:", ". SQLSTATE", " SQLSTATE:", " Is the server running"):
        text = text.split(cut)[0]
    return text.strip()[:300]


def read(target: Target, query: str | None, consume: Any) -> Any:
    """Stream the rows of the target's table (or of ``query``) as Arrow record batches into
    ``consume(reader)`` (the engine scans them into its own table) and return what it returns."""
    if (query is None) == (target.table is None):
        raise InputError(
            f"{target.where}: name the orders with --table schema.table (or ?table= in the URL) "
            "or --query \"SELECT ...\", one of the two"
        )
    if query is not None:
        query = query.strip().rstrip(";").strip()  # a trailing ; would end the wrapping query
    source = f"(\n{query}\n) AS q" if query is not None else _qualified(target.table)  # type: ignore[arg-type]
    with connect(target) as con:
        cur = con.cursor()
        try:
            cur.execute(f"SELECT * FROM {source} LIMIT 0")
            columns = _columns(cur.fetch_arrow_table().schema)
            select = ", ".join(_read_as(name, pgtype, typmod) for name, pgtype, typmod in columns)
            cur.execute(f"SELECT {select} FROM {source}")
            reader = cur.fetch_record_batch()
        except Exception as exc:
            raise InputError(f"{target.label}: {_query_error(exc, query)}") from None
        try:
            return consume(reader)
        except (EngineError, OSError, ValueError) as exc:  # the stream broke mid-way
            raise InputError(f"{target.label}: {_query_error(exc, query)}") from None


def source_label(url: str, table: str | None, query: str | None) -> str:
    """How messages name a database source: ``scheme://user@host:port/db table schema.name`` (or ``query``)."""
    target = parse(url, table)
    return f"{target.where} query" if query is not None else target.label


def read_arrow(url: str, what: str) -> Any:
    """A small table (leads, events, outcomes) named by ``url``'s ``?table=``, as an Arrow table."""
    target = parse(url)
    if target.table is None:
        raise InputError(f"{target.where}: say which table holds the {what}: add ?table=schema.name to the URL")
    return read(target, None, lambda reader: reader.read_all())


def _columns(schema: Any) -> list[tuple[str, str, int]]:
    """(name, PostgreSQL type, typmod) per column, from the driver's field metadata (driver >= 1.13)."""
    out = []
    for field in schema:
        meta = field.metadata or {}
        pgtype = (meta.get(b"POSTGRESQL:type") or meta.get(b"ADBC:postgresql:typname") or b"").decode()
        if not pgtype:
            raise EngineError("the PostgreSQL driver gave no column types; upgrade it: pip install -U 'rfm[postgres]'")
        out.append((field.name, pgtype, int((meta.get(b"POSTGRESQL:typmod") or b"-1").decode())))
    return out


def _read_as(name: str, pgtype: str, typmod: int) -> str:
    """How a column is read: as itself, or cast to a type Arrow carries (whole NUMERICs stay whole:
    a numeric(12, 0) id must not become 12345.0)."""
    col = quote_ident(name)
    if pgtype in _NATIVE:
        return col
    if pgtype == "numeric":
        precision, scale = ((typmod - 4) >> 16, (typmod - 4) & 0xFFFF) if typmod >= 4 else (0, -1)
        if scale == 0 and precision <= 18:
            return f"CAST({col} AS BIGINT) AS {col}"
        return f"CAST({col} AS DOUBLE PRECISION) AS {col}"
    if pgtype == "money":
        return f"CAST(CAST({col} AS NUMERIC) AS DOUBLE PRECISION) AS {col}"
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
        raise InputError(f"{target.where}: say which table to write: add ?table=schema.name to the URL")
    with connect(target) as con:  # always: a wrong password or an absent server fails before the work
        try:
            exists = _exists(con.cursor(), *target.table)
        except Exception as exc:
            raise InputError(f"{target.label}: {_why(exc)}") from None
    if exists and if_exists == "fail":
        raise InputError(_exists_message(target))


def _exists_message(target: Target) -> str:
    return (
        f"{target.label}: the table exists; pass --if-exists replace (swap in the new scores) "
        "or --if-exists append-snapshot (add them, keeping earlier dates)"
    )


def write(target: Target, stream: Any, *, if_exists: IfExists, schema: Any) -> None:
    """Write ``stream`` (Arrow batches) to the target table in one transaction (see the module docstring)."""
    if target.table is None:
        raise InputError(f"{target.where}: say which table to write: add ?table=schema.name to the URL")
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
            cur.execute("SET LOCAL lock_timeout = '60s'")  # never queue forever behind a reader
            new, target_sql = _qualified((staging, db_schema)), _qualified((name, db_schema))
            columns = [f.name for f in schema]
            existing = _table_columns(cur, name, db_schema) if exists else []
            same = [c for c, _ in existing] == columns
            if if_exists == "append-snapshot" and exists:
                if not same:
                    raise InputError(
                        f"{where}: the table's columns ({', '.join(c for c, _ in existing)}) are not the new rows' "
                        f"({', '.join(columns)}); append to a table with the same columns, or start a new one"
                    )
                if "as_of" not in columns:
                    raise InputError(f"{where}: these rows have no as_of column to tell snapshots apart; "
                                     "use --if-exists replace")
            if exists and same and if_exists == "replace":
                # the table stays (its grants, indexes and the views on it); its rows change in this transaction
                cur.execute(f"DELETE FROM {target_sql}")
                cur.adbc_ingest(name, stream, mode="append", db_schema_name=db_schema)
            elif exists and same:  # append-snapshot: a date written again replaces that date's rows
                temp = quote_ident(staging)
                cur.adbc_ingest(staging, stream, mode="create", temporary=True)
                cols = ", ".join(quote_ident(c) for c in columns)
                cur.execute(f"DELETE FROM {target_sql} WHERE as_of IN (SELECT DISTINCT as_of FROM {temp})")
                cur.execute(f"INSERT INTO {target_sql} ({cols}) SELECT {cols} FROM {temp}")
                cur.execute(f"DROP TABLE {temp}")
            else:
                cur.adbc_ingest(staging, stream, mode="create", db_schema_name=db_schema)
                if exists:  # other columns: swap the new table in (grants on the old one do not carry over)
                    cur.execute(f"ALTER TABLE {target_sql} RENAME TO {quote_ident(old)}")
                    cur.execute(f"ALTER TABLE {new} RENAME TO {quote_ident(name)}")
                    cur.execute(f"DROP TABLE {_qualified((old, db_schema))}")
                else:
                    cur.execute(f"ALTER TABLE {new} RENAME TO {quote_ident(name)}")
            con.commit()
        except InputError:
            con.rollback()
            raise
        except Exception as exc:
            con.rollback()
            raise EngineError(f"{where}: cannot write ({_write_error(exc)}); nothing was changed") from None


def _exists(cur: Any, name: str, schema: str | None) -> bool:
    if schema is None:
        cur.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = current_schema()",
                    parameters=(name,))
    else:
        cur.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = $1 AND schemaname = $2",
                    parameters=(name, schema))
    return bool(cur.fetchone()[0])


def _table_columns(cur: Any, name: str, schema: str | None) -> list[tuple[str, str]]:
    """(column, type) of an existing table, in order."""
    where = "c.relname = $1 AND n.nspname = " + ("$2" if schema is not None else "current_schema()")
    cur.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
        "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE {where} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        parameters=(name, schema) if schema is not None else (name,),
    )
    return [(r[0], r[1]) for r in cur.fetchall()]


def _write_error(exc: BaseException) -> str:
    text = redact(" ".join(str(exc).split()))
    if "permission denied" in text:
        return f"{_short(text)}; ask for CREATE on the schema"
    if "column" in text and "does not exist" in text:
        return f"{_short(text)}; the existing table has other columns: use --if-exists replace"
    return _short(text)
