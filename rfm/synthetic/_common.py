"""What both generators share: argument checks, seeded random streams, atomic writes.

* :func:`int_arg` / :func:`date_arg` - integer and date argument checks
  that raise ``InputError`` with a message naming the argument (the order
  generator's; the lead generator's few checks keep their own wording).
* :func:`stream` - the one way a seed becomes a random stream:
  ``Generator(PCG64(SeedSequence(seed, spawn_key=...)))``.  Without a spawn
  key this is exactly ``numpy.random.default_rng(seed)``.
* :func:`write_atomic` - ``write_atomic(path, writer)`` runs ``writer(tmp)``
  on a temporary file beside ``path`` and moves it into place with
  ``os.replace``; a failed run leaves no partial file.  Both generators
  write through it; it is imported here only, so moving it is a one-line
  change.
"""

from __future__ import annotations

import operator
from datetime import date, datetime

import numpy as np

from rfm._files import write_atomic
from rfm.errors import InputError

__all__ = ["date_arg", "int_arg", "stream", "write_atomic"]


def int_arg(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools and floats are refused)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InputError(
            f"{name} must be an integer >= {minimum}, got {value!r} "
            f"({type(value).__name__})"
        ) from None
    if v < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {v}")
    return v


def date_arg(name: str, value: object) -> date:
    """``value`` as a date: a date, a datetime (its date) or 'YYYY-MM-DD'."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InputError(f"{name} must be a date (or 'YYYY-MM-DD'), got {value!r}")


def stream(seed: int, *spawn_key: int) -> np.random.Generator:
    """The PCG64 stream of ``seed``; ``spawn_key`` picks an independent sub-stream."""
    ss = np.random.SeedSequence(seed, spawn_key=spawn_key)
    return np.random.Generator(np.random.PCG64(ss))
