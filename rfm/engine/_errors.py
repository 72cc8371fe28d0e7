"""DuckDB's exceptions turned into the library's, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from rfm.errors import DataError, EngineError

#: The words an engine error carries when a text file is not UTF-8 (rfm.inputs then finds the line).
NOT_UTF8 = "the file is not UTF-8"


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
        if "not utf-8 encoded" in str(exc):  # said on a later line of DuckDB's message
            raise DataError(f"{prefix}{first_line(exc)}: {NOT_UTF8}") from None
        raise DataError(prefix + first_line(exc)) from None
    except duckdb.Error as exc:
        raise EngineError(prefix + first_line(exc)) from None
