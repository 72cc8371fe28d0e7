"""What the bench scripts share (run them as ``python bench/<script>.py``: this folder is on sys.path)."""

from __future__ import annotations


def parse_size(text: str) -> int:
    """1M -> 1_000_000; K, M and G suffixes, underscores allowed."""
    text = text.strip().upper().replace("_", "")
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("KMG")) * mult)
