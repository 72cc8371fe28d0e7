"""Reading order lines into the engine: files, globs, folders, DuckDB files, remote paths, frames.

A CSV file is checked for what the engine would misread or report badly:
an empty file, a pattern matching nothing, a header naming a column twice,
NUL bytes (UTF-16 without a byte-order mark, a spreadsheet renamed .csv),
bytes that are not UTF-8 (named on their line, with the encoding to set),
a cut-short or mislabelled .gz.  Files in another encoding are read from a
UTF-8 copy (:mod:`rfm.inputs._encoding`).
"""

from __future__ import annotations

import csv
import glob
import gzip
import re
from pathlib import Path
from typing import Any

from rfm._files import is_uri, remove_quietly
from rfm.engine import NOT_UTF8, Engine, Table, redact
from rfm.errors import EngineError, InputError
from rfm.inputs._config import InputConfig
from rfm.inputs._encoding import (
    AlreadyUtf8,
    encoding_hint,
    first_non_utf8,
    has_utf16_bom,
    nul_line,
    readable,
    remove_with,
    utf8_copy,
)
from rfm.inputs._yaml import did_you_mean

_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".csv.zst")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return redact(str(source))  # a database URL's password never reaches a message
    return f"<{type(source).__module__.split('.')[0]}.{type(source).__name__}>"


def read(engine: Engine, source: Any, cfg: InputConfig, table: str | None) -> tuple[Table, dict[str, Any] | None]:
    """The raw input as an engine table, and the options to re-read it as text (CSV files only)."""
    label = describe_source(source)
    uris = engine.reads_uris
    if source is None:
        if uris and (table or cfg.table):
            return engine.read_table(table or cfg.table), None  # type: ignore[arg-type]
        raise InputError(
            "no orders given; pass a file (or, with --engine spark, --table catalog.schema.table)"
        )
    if uris and isinstance(source, str) and is_uri(source):  # s3://, hdfs://, dbfs:/ ... : Spark reads it
        return _read_uri(engine, source, cfg), None
    if not isinstance(source, (str, Path)):
        try:
            return engine.register(source, label="raw"), None
        except EngineError:
            raise InputError(
                f"{label}: cannot read this object as orders ({type(source).__name__}); "
                "pass a polars/pandas DataFrame, a pyarrow Table, or a file path"
            ) from None
    text = str(source)
    path = Path(text)
    is_glob = any(ch in text for ch in "*?[")
    lower = text.lower()
    if not is_glob and not path.exists():
        raise InputError(f"{text}: file not found; check the path")
    if path.is_dir() and (path / "_delta_log").is_dir():
        try:
            return engine.read_delta(text), None
        except EngineError as exc:
            raise InputError(str(exc)) from None
    if path.is_dir():
        parquet = sorted(path.rglob("*.parquet"))
        csvs = sorted(p for p in path.rglob("*") if str(p).lower().endswith(_CSV_SUFFIXES))
        if parquet:
            return _parquet(engine, [str(p) for p in parquet], text), None
        if csvs:  # rows of several files: messages give row numbers, not line numbers
            return _csv(engine, [str(p) for p in csvs], cfg, text, rereadable=False)
        raise InputError(f"{text}: directory holds no .parquet or .csv files")
    if lower.endswith(_PARQUET_SUFFIXES):
        if is_glob and not glob.glob(text, recursive=True):
            raise InputError(f"{text}: no file matches this pattern; check the path and the * or ? in it")
        return _parquet(engine, text, text), None
    if lower.endswith(_DUCKDB_SUFFIXES):
        if uris:
            raise InputError(f"{text}: a DuckDB database file cannot be read by Spark; export the table to Parquet")
        return _database(engine, text, table or cfg.table), None
    if lower.endswith(_CSV_SUFFIXES) or is_glob:  # a glob without a CSV ending: row numbers, not lines
        return _csv(engine, text, cfg, text, rereadable=lower.endswith(_CSV_SUFFIXES))
    raise InputError(
        f"{text}: unknown file type; use .csv/.tsv/.txt (optionally .gz), .parquet, or a DuckDB .duckdb/.db file"
    )


def _read_uri(engine: Engine, uri: str, cfg: InputConfig) -> Table:
    """A path only Spark can see (object store, HDFS, DBFS): the format by its ending, a folder as Parquet."""
    lower = uri.lower().rstrip("/")
    if lower.endswith(_CSV_SUFFIXES):
        return _csv(engine, uri, cfg, uri, rereadable=False)[0]
    if lower.endswith(_PARQUET_SUFFIXES) or uri.endswith("/"):
        return _parquet(engine, uri, uri)
    raise InputError(
        f"{uri}: cannot tell the format; end the path with .parquet or .csv, end a folder of Parquet files "
        "with /, or read a catalog table with --table"
    )


def _parquet(engine: Engine, paths: str | list[str], label: str) -> Table:
    try:
        return engine.read_parquet(paths)
    except EngineError as exc:
        raise InputError(f"{label}: not a readable Parquet file ({exc})") from None


def _csv(
    engine: Engine, paths: str | list[str], cfg: InputConfig, label: str, *, rereadable: bool = True
) -> tuple[Table, dict[str, Any] | None]:
    opts = cfg.csv
    remote = isinstance(paths, str) and is_uri(paths)
    files = [] if remote else local_files(paths, label)
    if isinstance(paths, str) and not remote and not _is_glob(paths) and Path(paths).stat().st_size == 0:
        raise InputError(f"{label}: the file is empty (0 bytes); export the orders again")
    encoding = opts.encoding
    if not all(readable(f) for f in files):  # .csv.zst: the engine decompresses; no byte checks here
        if encoding != "utf-8":
            raise InputError(f"{label}: input.csv.encoding works on .csv and .csv.gz files; decompress the .zst "
                             "file first (zstd -d)")
        files = []
    if encoding == "utf-8" and files and has_utf16_bom(files[0]):
        encoding = "utf-16"  # Excel's "Unicode text": the byte-order mark says so, nothing to guess
    copies: list[Path] = []
    if encoding != "utf-8":
        if remote:
            raise InputError(f'{label}: input.csv.encoding "{encoding}" is read from local files; '
                             "convert a remote file to UTF-8 first")
        copies = [_utf8_copy(f, encoding, label) for f in files]
        paths = [str(c) for c in copies] if isinstance(paths, list) or len(copies) != 1 else str(copies[0])
    else:
        for f in files[:1]:
            line = nul_line(f)
            if line is not None:
                raise InputError(
                    f"{label}: holds a NUL byte on line {line} (a binary file, or UTF-16 read as UTF-8); export it "
                    "again as text, or set input.csv.encoding: utf-16"
                )
        if not engine.checks_utf8:  # Spark reads bytes that are not UTF-8 as "\ufffd", silently
            for f in files:
                _refuse_non_utf8(f, label)
    first = paths[0] if isinstance(paths, list) else paths
    try:
        if opts.delimiter == "whitespace":
            names = _whitespace_names(cfg, label, first)
            table, options = engine.read_whitespace(paths, names=names, skip_header=bool(opts.header)), None
        else:
            options = {"paths": paths, "sep": opts.delimiter, "header": opts.header, "names": opts.names}
            table = engine.read_csv(decimal=opts.decimal, **options)
    except EngineError as exc:
        for c in copies:
            remove_quietly(c)
        raise unreadable_csv(exc, label, files) from None
    for c in copies:
        remove_with(table, c)  # the copy lives as long as the table reading it
    if opts.names is None and opts.header is not False and len(files) == 1 and not _is_glob(str(first)):
        _refuse_duplicate_header(str(first), len(table.columns), label)
    return table, options if rereadable else None


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def local_files(paths: str | list[str], label: str) -> list[str]:
    """The files a local path, list or pattern names; a pattern matching nothing is refused here."""
    if isinstance(paths, list):
        return paths
    if not _is_glob(paths):
        return [paths]
    matches = sorted(glob.glob(paths, recursive=True))
    if not matches:
        raise InputError(f"{label}: no file matches this pattern; check the path and the * or ? in it")
    return matches


def _utf8_copy(path: str, encoding: str, label: str) -> Path:
    try:
        return utf8_copy(path, encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{label}: not {encoding} on {exc.reason}{'' if path == label else f' of {path}'} "
            f"(bytes {exc.object[exc.start:exc.end]!r}); "
            "check input.csv.encoding (utf-8, cp1252, latin-1 or utf-16)"
        ) from None
    except AlreadyUtf8 as exc:
        raise InputError(
            f'{label}: input.csv.encoding is {encoding} but the file is UTF-8 (line {exc.line}: "{exc.sample}"); '
            "remove input.csv.encoding"
        ) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{label}: {_gzip_problem(str(exc)) or f'cannot read the file ({exc})'}") from None


def _refuse_non_utf8(path: str, label: str) -> None:
    found = first_non_utf8(path)
    if found is not None:
        raise _not_utf8(label, path, *found)


def _not_utf8(label: str, path: str, line: int, bad: bytes) -> InputError:
    where = f"line {line}" if path == label else f"line {line} of {path}"  # several files: say which
    return InputError(
        f"{label}: not UTF-8 on {where} (bytes {bad!r}); set input.csv.encoding: {encoding_hint(bad)}"
    )


def _gzip_problem(message: str) -> str | None:
    if re.search(r"end of (the )?GZIP stream|Compressed file ended|end-of-stream", message, re.I):
        return "the .gz file is cut short (a copy or download that did not finish); copy it again"
    if re.search(r"not a GZIP|Not a gzipped file", message, re.I):
        return "has a .gz name but is not gzip-compressed; rename it without .gz or compress it"
    return None


def unreadable_csv(exc: EngineError, label: str, files: list[str]) -> InputError:
    """The one message for a CSV the engine cannot open: the cause in the user's terms when known."""
    text = str(exc)
    if NOT_UTF8 in text:
        for f in files:
            found = first_non_utf8(f)
            if found is not None:
                return _not_utf8(label, f, *found)
    gz = _gzip_problem(text)
    if gz is not None:
        return InputError(f"{label}: {gz}")
    return InputError(f"{label}: cannot read as CSV ({exc}); check input.csv options")


def _refuse_duplicate_header(path: str, n_columns: int, label: str) -> None:
    """A header naming one column twice (amount,amount): readers rename the second silently; stop instead."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:  # type: ignore[operator]
            line = fh.readline()
    except OSError:
        return
    for sep in (",", ";", "\t", "|"):
        names = next(csv.reader([line], delimiter=sep), [])
        if len(names) == n_columns:
            break
    else:
        return
    seen: dict[str, int] = {}
    for position, name in enumerate((n.strip() for n in names), start=1):
        if name in seen:
            raise InputError(
                f'{label}: the header names "{name}" twice (columns {seen[name]} and {position}); '
                "rename one of them so each column has its own name"
            )
        seen[name] = position


def _whitespace_names(cfg: InputConfig, label: str, first: str) -> list[str]:
    """Column names of fixed-layout text: configured, or the first line's words."""
    if cfg.csv.names is not None:
        return list(cfg.csv.names)
    if not cfg.csv.header:
        raise InputError(
            f'{label}: input.csv.delimiter is "whitespace" but the columns have no names; '
            "set input.csv.names: [...] or input.csv.header: true"
        )
    if is_uri(first):
        raise InputError(f"{label}: the column names of whitespace text are read from a local file; "
                         "set input.csv.names: [...] for a remote one")
    matches = sorted(glob.glob(first)) if _is_glob(first) else [first]
    if not matches:
        raise InputError(f"{label}: no file matches this pattern; check the path and the * or ? in it")
    with open(matches[0], encoding="utf-8-sig") as fh:
        return fh.readline().split()


def _database(engine: Engine, path: str, table: str | None) -> Table:
    try:
        tables = engine.database_tables(path)
    except EngineError as exc:
        raise InputError(f"{path}: cannot open as a DuckDB database ({exc})") from None
    if table is None:
        if len(tables) != 1:
            raise InputError(
                f"{path}: holds {len(tables)} tables ({', '.join(tables) or 'none'}); name one with --table or input.table"
            )
        table = tables[0]
    if table not in tables:
        raise InputError(f'{path}: no table "{table}"{did_you_mean(table, tables)} (tables: {", ".join(tables)})')
    return engine.read_database_table(table)
