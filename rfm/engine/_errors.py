"""DuckDB's exceptions turned into the library's, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from rfm.errors import DataError, EngineError


def first_line(exc: BaseException) -> str:
    """The first line of an engine message (DuckDB messages carry context lines after it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def translated(prefix: str = "") -> Iterator[None]:
    """A bad value becomes a :class:`DataError`, any other engine failure an :class:`EngineError`."""
    try:
        yield
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise DataError(prefix + first_line(exc)) from None
    except duckdb.Error as exc:
        raise EngineError(prefix + first_line(exc)) from None
