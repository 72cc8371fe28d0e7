"""Atomic output: write to a temp file beside the target, then rename.

A failed run never leaves a half-written file and never replaces a good one.
Every file ``rfm`` writes goes through :func:`atomic_path` (the engine's table
writes included), so this is the one place that decides how outputs land.
Inside :func:`output_group` (every CLI command runs in one) the renames wait
until the whole run has succeeded: all outputs of a run land together, or
none does, and two outputs of one run on the same path are refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


#: Pending (temp file, target) renames of the open output group; a temp of None removes the target.
_GROUP: contextvars.ContextVar[list[tuple[Path | None, Path]] | None] = contextvars.ContextVar(
    "rfm_outputs", default=None)


@contextlib.contextmanager
def output_group() -> Iterator[None]:
    """Outputs written inside land together when the block succeeds, and not at all when it fails."""
    pending: list[tuple[Path | None, Path]] = []
    token = _GROUP.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _ in pending:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        raise
    else:
        for tmp, target in pending:
            if tmp is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(tmp, target)
    finally:
        _GROUP.reset(token)


def remove_with_outputs(path: str | Path) -> None:
    """Remove ``path`` when the run's outputs land (at once outside an :func:`output_group`): a file an
    earlier run wrote that this run does not write again, so no folder mixes two runs."""
    group = _GROUP.get()
    if group is None:
        Path(path).unlink(missing_ok=True)
    else:
        group.append((None, Path(path)))


@contextlib.contextmanager
def immediate_outputs() -> Iterator[None]:
    """Files written inside land at once, even in an :func:`output_group`: for data the same run
    reads back (``rfm demo``'s synthetic leads)."""
    token = _GROUP.set(None)
    try:
        yield
    finally:
        _GROUP.reset(token)


def check_writable(path: str | Path) -> Path:
    """An output path rfm can write: its directory exists and is writable, and it is not a directory."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{target}: directory {directory} does not exist; create it first")
    if target.is_dir():
        raise InputError(f"{target}: is a directory; give a file name (e.g. {target / 'scores.parquet'})")
    if not os.access(directory, os.W_OK | os.X_OK) or not _can_create(directory):
        raise InputError(f"{target}: directory {directory} is not writable; choose another --out")
    return target


def _can_create(directory: Path) -> bool:
    """A file can be made there: permission bits say nothing to root, nor about read-only mounts."""
    try:
        fd, probe = tempfile.mkstemp(prefix=f".rfm-probe.{os.getpid()}.", suffix=".tmp", dir=directory)
    except OSError:
        return False
    os.close(fd)
    remove_quietly(probe)
    return True


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path in the target's directory; rename onto ``path`` on success (at the end of
    the :func:`output_group` when one is open)."""
    target = check_writable(path)
    group = _GROUP.get()
    if group is not None and any(t.resolve() == target.resolve() for _, t in group):
        raise InputError(f"{target}: two outputs of this run would both be written here; give each its own path")
    directory = target.parent if str(target.parent) else Path(".")
    _sweep_stale(directory, target.name)
    try:
        # the pid in the name tells a later run whether the writer is still alive (see _sweep_stale)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise InputError(f"{target}: cannot write here ({exc.strerror}); choose another --out") from None
    os.close(fd)
    tmp_path = Path(tmp)
    deferred = False
    try:
        yield tmp_path
        # mkstemp makes the file private (0600); give it the usual mode for new files.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        if group is not None:
            group.append((tmp_path, target))
            deferred = True
        else:
            os.replace(tmp_path, target)
    finally:
        if not deferred and tmp_path.exists():
            tmp_path.unlink()


def _sweep_stale(directory: Path, name: str) -> None:
    """Remove temp files of ``name`` left by a killed run (their writer's pid is gone); a live run's stay."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.(\d+)\..*\.tmp$")
    for leftover in directory.glob(f".{glob.escape(name)}.*.tmp"):
        m = pattern.match(leftover.name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            leftover.unlink()
        except OSError:  # another run removed it first, or it is not ours to remove
            pass


def private_temp(suffix: str) -> Path:
    """A new private file in rfm's own folder under the temp directory (``rfm-copies-<uid>``),
    named with this process's pid; files there left by runs that were killed are removed first.
    Nothing outside that folder is ever swept: a user's /tmp/rfm-2023-orders.csv is not ours."""
    directory = Path(tempfile.gettempdir()) / f"rfm-copies-{getattr(os, 'getuid', os.getpid)()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    pattern = re.compile(r"^(\d+)-[A-Za-z0-9_]+" + re.escape(suffix) + "$")
    for leftover in directory.iterdir():
        m = pattern.match(leftover.name)
        if m is not None and not _alive(int(m.group(1))):
            remove_quietly(leftover)
    fd, name = tempfile.mkstemp(prefix=f"{os.getpid()}-", suffix=suffix, dir=directory)
    os.close(fd)
    return Path(name)


def remove_quietly(path: str | Path) -> None:
    try:
        Path(path).unlink()
    except OSError:  # already gone, or never made
        pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def refuse_inputs_as_outputs(inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Before any work: no output path is one of the inputs (``--out orders.csv`` would replace them)."""
    seen = {}
    for name, value in inputs.items():
        if isinstance(value, (str, Path)) and Path(value).is_file():
            seen[Path(value).resolve()] = name
    for name, value in outputs.items():
        if isinstance(value, (str, Path)) and Path(value).resolve() in seen:
            raise InputError(
                f"{value}: {name} would overwrite the {seen[Path(value).resolve()]} input; write it to another file"
            )


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp)`` and move the result onto ``path``."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def is_uri(text: str) -> bool:
    """``s3://...``, ``hdfs://...``, ``file:/...``: a path with a scheme (not a Windows drive, ``C:\\``)."""
    return re.match(r"^[a-z][a-z0-9+.-]*:/", text, re.I) is not None and not re.match(r"^[a-z]:[\\/]", text, re.I)


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
