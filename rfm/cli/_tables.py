"""Plain fixed-width text tables and the command line's small value parsers."""

from __future__ import annotations

import polars as pl

from rfm.errors import InputError

SEGMENT_COLUMNS = {
    "segment": ("Segment", "{}"),
    "customers": ("Customers", "{:,}"),
    "customer_share": ("Share", "{:.1%}"),
    "revenue": ("Revenue", "{:,.2f}"),
    "revenue_share": ("Rev. share", "{:.1%}"),
    "median_recency_days": ("Med. recency (d)", "{:,.10g}"),  # a median of whole numbers: whole, or half way
    "median_frequency": ("Med. orders", "{:,.10g}"),
    "median_monetary": ("Med. monetary", "{:,.2f}"),
    "action": ("Action", "{}"),
}


def format_table(frame: pl.DataFrame, columns: dict[str, tuple[str, str]]) -> str:
    """A plain fixed-width text table; numbers right-aligned."""
    heads = [title for title, _ in columns.values()]
    rows = []
    for rec in frame.iter_rows(named=True):
        rows.append(["" if rec[c] is None else fmt.format(rec[c]) for c, (_, fmt) in columns.items()])
    numeric = [frame.schema[c].is_numeric() for c in columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric)).rstrip()

    return "\n".join([line(heads), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def parse_days(text: str | None) -> int | None:
    """``90``, ``90d``, ``13w`` or ``6m`` (30.4375-day months) as days."""
    if text is None:
        return None
    raw = text.strip().lower()
    scale = {"d": 1.0, "w": 7.0, "m": 30.4375, "y": 365.25}.get(raw[-1:], None)
    number = raw[:-1] if scale else raw
    try:
        value = float(number) * (scale or 1.0)
    except ValueError:
        raise InputError(f'--horizon "{text}" is not a duration; write e.g. 90d, 13w or 6m') from None
    if value <= 0:
        raise InputError(f'--horizon "{text}" must be positive')
    return int(round(value))
