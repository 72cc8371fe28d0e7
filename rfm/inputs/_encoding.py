"""Text files that are not UTF-8: recognised, named on the line they go wrong, and read.

The engines read UTF-8 only (DuckDB's other encodings cover latin-1 and
little-endian UTF-16, not Windows-1252, the encoding of most French and
German Excel exports).  A file in another encoding is decoded once, in large
blocks by Python's codecs (no per-row work), into a private UTF-8 copy under
the temp directory that the engine then reads; the copy is removed with the
table that reads it.  Line numbers are unchanged, so messages still point at
the user's file.
"""

from __future__ import annotations

import codecs
import gzip
import weakref
from pathlib import Path
from typing import IO, Any

from rfm._files import private_temp, remove_quietly

#: input.csv.encoding values and the codec each one reads with.
ENCODINGS = {"utf-8": "utf-8-sig", "latin-1": "latin-1", "cp1252": "cp1252", "utf-16": "utf-16"}
_BLOCK = 1 << 22  # 4 MiB


def readable(path: str) -> bool:
    """Python can read the file's text (zstd-compressed files only the engine reads)."""
    return not path.lower().endswith(".zst")


def _open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115


def has_utf16_bom(path: str) -> bool:
    """The file starts with a UTF-16 byte-order mark (Excel's "Unicode text" export)."""
    try:
        with _open(path) as fh:
            return fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    except (OSError, EOFError):
        return False


def nul_line(path: str, size: int = 1 << 16) -> int | None:
    """The line of the first NUL byte in the file's first ``size`` bytes: a text export has none,
    UTF-16 without a byte-order mark and binary files (a spreadsheet renamed .csv) have many."""
    try:
        with _open(path) as fh:
            head = fh.read(size)
    except (OSError, EOFError):
        return None
    at = head.find(b"\x00")
    return None if at < 0 else head.count(b"\n", 0, at) + 1


def first_non_utf8(path: str) -> tuple[int, bytes] | None:
    """(line number, the bytes that are not UTF-8) of the first such place in the file, or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with _open(path) as fh:
            while block := fh.read(_BLOCK):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    return line + block.count(b"\n", 0, exc.start), block[exc.start : exc.end]
                line += block.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:  # a sequence cut off by the end of the file
        return line, exc.object[exc.start : exc.end]
    except (OSError, EOFError):
        return None
    return None


def encoding_hint(bad: bytes) -> str:
    """Which encoding to try for bytes that are not UTF-8."""
    if bad[:1] == b"\x00" or bad[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    if any(b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) for b in bad):  # undefined in Windows-1252
        return "latin-1"
    if any(0x80 <= b <= 0x9F for b in bad):  # printable in Windows-1252 only (€, ’, œ ...)
        return "cp1252"
    return "cp1252 (or latin-1)"


def utf8_copy(path: str, encoding: str) -> Path:
    """A private UTF-8 copy of ``path`` read as ``encoding`` (the caller removes it, see :func:`remove_with`).

    Raises :class:`UnicodeDecodeError` with the line number as its ``reason``
    when the file does not decode."""
    target = private_temp(".csv")
    try:
        _transcode(path, encoding, target)
    except BaseException:
        remove_quietly(target)
        raise
    return target


def remove_with(owner: Any, path: Path) -> None:
    """Remove ``path`` once ``owner`` (the table reading it) is collected, or at exit."""
    weakref.finalize(owner, remove_quietly, path)


class AlreadyUtf8(ValueError):
    """The file given an 8-bit encoding is valid UTF-8 with accents: reading it as cp1252 would garble them."""

    def __init__(self, line: int, sample: str) -> None:
        super().__init__(f"line {line}")
        self.line, self.sample = line, sample


def _transcode(path: str, encoding: str, target: Path) -> None:
    codec = ENCODINGS[encoding]
    if codec == "utf-16" and not has_utf16_bom(path):
        codec = "utf-16-le"  # no byte-order mark: Windows writes little-endian
    decoder = codecs.getincrementaldecoder(codec)()
    # an 8-bit file is never valid UTF-8 once it has accents; one that is was not exported as cp1252
    check = codecs.getincrementaldecoder("utf-8")() if encoding in ("latin-1", "cp1252") else None
    first_accent: tuple[int, str] | None = None
    line = 1
    with _open(path) as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while block := src.read(_BLOCK):
            try:
                dst.write(decoder.decode(block))
            except UnicodeDecodeError as exc:
                exc.reason = "line " + str(line + block.count(b"\n", 0, exc.start))
                raise
            if check is not None:
                try:
                    text = check.decode(block)
                except UnicodeDecodeError:
                    check = None
                else:
                    if first_accent is None and not text.isascii():
                        at = next(i for i, ch in enumerate(text) if not ch.isascii())
                        start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
                        shown = text[start : end if end >= 0 else None].strip()[:40]
                        first_accent = (line + text.count("\n", 0, at), shown)
            line += block.count(b"\n")
        try:
            dst.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:  # the file ends inside a character (odd-length UTF-16)
            exc.reason = f"line {line} (the file ends inside a character)"
            raise
    if check is not None and first_accent is not None:
        raise AlreadyUtf8(*first_accent)
