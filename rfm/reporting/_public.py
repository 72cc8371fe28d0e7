"""What a mailed report may say about this machine: file names, never folders.

The input is named by its file name (``orders.csv``).  Folders a report could
leak are cut from every text of the page (section texts, notes, captions,
cards, table cells, chart titles): the inputs' folders, the working folder and
the home folder first (they may hold spaces: ``/Users/Jane Doe/``), then any
other absolute path (POSIX, ``~/``, ``C:\\``, ``\\\\server\\share``) is cut to its
last part.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

import polars as pl

#: An absolute path inside a message: POSIX, home-relative, a Windows drive or a UNC share.
_ABSOLUTE = re.compile(
    r"(?<![\w:/.~])(?:~?/|[A-Za-z]:[\\/]|\\\\)(?:[^\s/\\:\"']+[/\\])+([^\s/\\:\"',;]+)"
)


@dataclass(frozen=True)
class Scrubber:
    """Replaces each input label by its name, cuts known folders, then any other absolute path."""

    names: tuple[tuple[str, str], ...]
    folders: tuple[str, ...]

    @classmethod
    def for_inputs(cls, *labels: str | None) -> Scrubber:
        files = [label for label in labels if label and "://" not in label]  # a table label is no path
        names = tuple((label, Path(label).name) for label in files)
        folders = {str(Path(label).resolve().parent) for label in files}
        folders |= {str(Path(label).parent) for label in files if str(Path(label).parent) != "."}
        folders |= {os.getcwd(), str(Path.home())}
        longest = tuple(sorted((f.rstrip("/\\") for f in folders if len(f) > 1), key=len, reverse=True))
        return cls(names, longest)

    def __call__(self, text: str) -> str:
        for label, name in self.names:
            text = text.replace(label, name)
        for folder in self.folders:
            text = text.replace(folder + os.sep, "").replace(folder + "/", "")
        return _ABSOLUTE.sub(lambda m: m.group(1), text)


def scrub_page(node: Any, clean: Scrubber) -> Any:
    """Every string of a page (dataclasses, lists, dicts, polars frames of tables) passed through
    ``clean``, in place where the object allows it; returns the cleaned value."""
    if isinstance(node, str):
        return clean(node)
    if isinstance(node, list):
        node[:] = [scrub_page(v, clean) for v in node]
        return node
    if isinstance(node, tuple):
        return tuple(scrub_page(v, clean) for v in node)
    if isinstance(node, dict):
        for key in list(node):
            node[key] = scrub_page(node[key], clean)
        return node
    if isinstance(node, pl.DataFrame):
        text = [c for c, t in node.schema.items() if t == pl.String]
        return node.with_columns(pl.col(c).map_elements(clean, return_dtype=pl.String) for c in text) if text else node
    if is_dataclass(node) and not isinstance(node, type):
        for f in fields(node):
            object.__setattr__(node, f.name, scrub_page(getattr(node, f.name), clean))
        return node
    return node
