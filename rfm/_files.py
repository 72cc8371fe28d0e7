"""Atomic output: write to a temp file beside the target, then rename.

A failed run never leaves a half-written file and never replaces a good one.
Every file ``rfm`` writes goes through :func:`atomic_path` (the engine's table
writes included), so this is the one place that decides how outputs land.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from rfm.errors import InputError

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".html": "html"}


def output_format(path: str | Path, allowed: tuple[str, ...] = ("parquet", "csv")) -> str:
    """The format ``path`` names by its extension; an error when it is not one of ``allowed``."""
    suffix = Path(path).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt not in allowed:
        raise InputError(f"{path}: cannot write {suffix or 'a file without extension'}; use {' or '.join('.' + a for a in allowed)}")
    return fmt


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path in the target's directory; rename onto ``path`` on success."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.exists():
        raise InputError(f"{target}: directory {directory} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the usual mode for new files.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp)`` and move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a polars frame to .parquet or .csv (by extension), atomically."""
    fmt = output_format(path)

    def writer(tmp: Path) -> None:
        if fmt == "parquet":
            frame.write_parquet(tmp)
        else:
            frame.write_csv(tmp)

    return write_atomic(path, writer)
