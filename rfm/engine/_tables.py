"""Handles to what an engine holds: named tables and lazily run blocks.

Callers never see a table name: they hold :class:`Table` handles and pass
them to the next block as ``tables={"orders": handle}``.  A handle's table is
dropped once the handle is garbage-collected, so a result that owns its
handles owns its data.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from rfm.engine._engine import Engine


def quote_ident(name: str) -> str:
    """A SQL identifier, double-quoted, with embedded quotes doubled: the one quoting function."""
    return '"' + str(name).replace('"', '""') + '"'


class Relation:
    """Rows the engine can produce: a named :class:`Table` or a lazily run block (:meth:`Engine.query`)."""

    engine: Engine

    def _select(self) -> tuple[str, dict[str, Any] | None]:
        raise NotImplementedError

    def pl(self, limit: int | None = None) -> pl.DataFrame:
        """The rows as a polars frame (the first ``limit`` rows when given)."""
        return self.engine._to_polars(self, limit)

    def write(self, path: str | Path, *, spreadsheet_safe: bool = False, if_exists: str = "fail") -> Path:
        """Stream the rows to ``path`` (.parquet or .csv), atomically; or to a PostgreSQL table
        (``postgresql://.../db?table=schema.name``), swapped in atomically, ``if_exists`` fail,
        replace or append-snapshot.

        ``spreadsheet_safe`` prefixes every text cell a spreadsheet would run as
        a formula (``=``, ``+``, ``-``, ``@``, tab, CR) with ``'``: for CSV lists
        meant for Excel or a CRM import."""
        return self.engine._write(self, path, spreadsheet_safe, if_exists)


class Table(Relation):
    """A relation owned by an engine: a temp table, a view or a registered frame.

    Its name in the database is private.  Pass the handle to the engine as a
    ``tables=`` input of a block; it is dropped when the handle is
    garbage-collected (views keep the handles they read alive)."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        kind: str,
        label: str,
        deps: tuple[Table, ...] = (),
        *,
        order: tuple[str, ...] = (),
    ) -> None:
        self.engine = engine
        self.label = label
        self._name = name
        self._deps = deps
        # The ORDER BY its rows were built in, for engines that do not keep a table's row order (Spark).
        self._order = order
        weakref.finalize(self, engine._discard, name, kind).atexit = False

    def _select(self) -> tuple[str, dict[str, Any] | None]:
        order = f" ORDER BY {', '.join(self._order)}" if self._order else ""
        return f"SELECT * FROM {quote_ident(self._name)}{order}", None

    @property
    def columns(self) -> dict[str, str]:
        """Column name -> engine type, in table order."""
        return self.engine._describe(self._name)

    def count(self) -> int:
        return int(self.engine._rows(f"SELECT count(*) FROM {quote_ident(self._name)}", None)[0][0])

    def __repr__(self) -> str:
        return f"<Table {self.label}>"


class QueryRows(Relation):
    """A block with its inputs and parameters, run when its rows are read or written."""

    def __init__(self, engine: Engine, sql: str, params: dict[str, Any] | None, deps: tuple[Table, ...] = ()) -> None:
        self.engine = engine
        self._sql = sql
        self._params = params
        self._deps = deps  # the tables it reads live as long as it does

    def _select(self) -> tuple[str, dict[str, Any] | None]:
        return self._sql, self._params
