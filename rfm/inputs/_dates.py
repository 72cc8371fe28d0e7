"""Text dates whose format nobody gave: read off the values, or a question to the user.

ISO dates (with a time, with a UTC offset) need no format.  Anything else is
tried against common spreadsheet forms over the whole column (kept lines): one
form reads every value: used, and said in the summary line; day-first and
month-first both read every value as different days: refused, naming both
readings of an example.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from rfm.engine import Engine, LineSpec, Table
from rfm.errors import InputError

DATE_GUESSES = ("%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%y", "%m/%d/%y",
                "%d-%m-%y", "%m-%d-%y", "%d.%m.%y")
# ... and with a time of day after the date (spreadsheet exports)
DATE_TIME_GUESSES = tuple(f"{d}{t}" for d in DATE_GUESSES for t in ("", " %H:%M", " %H:%M:%S"))


def shape(fmt: str) -> str:
    """The regular expression a value written in ``fmt`` matches: %Y four digits, %y two."""
    fields = {"%Y": "[0-9]{4}", "%y": "[0-9]{2}", "%m": "[0-9]{1,2}", "%d": "[0-9]{1,2}", "%H": "[0-9]{1,2}",
              "%M": "[0-9]{2}", "%S": "[0-9]{2}"}
    out, i = "^", 0
    while i < len(fmt):
        if fmt[i] == "%":
            out += fields[fmt[i : i + 2]]
            i += 2
        else:
            out += "[.]" if fmt[i] == "." else fmt[i]
            i += 1
    return out + "$"


def settle_date_format(engine: Engine, raw: Table, spec: LineSpec, label: str) -> tuple[str | None, str]:
    """The format of a text date column that is not YYYY-MM-DD, read off the values of the kept
    lines, and how it was settled (for the summary line); (None, "") for ISO dates, or when no
    format reads the first value (the scan then stops on it with a hint).

    Refuses a column every value of which reads both day-first and month-first as different days:
    "01/03/2024" is a question for the user, not a guess."""
    col = spec.columns["order_date"]
    first = engine.first_kept_value(raw, spec, col)  # type: ignore[arg-type]
    text = str(first).strip() if first is not None else ""
    if not text or re.match(r"^[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}", text):
        return None, ""
    candidates = [f for f in DATE_TIME_GUESSES if re.match(shape(f), text) and engine.parses_as_date(text, f)]
    if not candidates:
        return None, ""
    found = engine.date_readings(raw, spec, col, candidates, [shape(f) for f in candidates])  # type: ignore[arg-type]
    complete = [f for f in candidates if found["parsed"][f] == found["values"]]
    if not complete:  # the best reading; the scan names the first value it does not read
        best = max(candidates, key=lambda f: found["parsed"][f])
        return best, f"dates read as {best}"
    chosen = complete[0]
    for other in complete[1:]:
        if found["differ"][(chosen, other)]:
            example = str(found["example"][(chosen, other)]).strip()
            raise InputError(
                f'{label}: column "{col}" is ambiguous: every date reads both as {chosen} and as {other} '
                f'(e.g. "{example}" is {_day(example, chosen)} or {_day(example, other)}); '
                f'which is it? set input.date_format: "{chosen}" or "{other}"'
            )
    swapped = _swap_day_month(chosen)
    if swapped in candidates and swapped not in complete:
        return chosen, f'dates read as {chosen}: "{str(found["unread"][swapped]).strip()}" cannot be {swapped}'
    return chosen, f"dates read as {chosen}"


def _swap_day_month(fmt: str) -> str:
    return fmt.replace("%d", "\\0").replace("%m", "%d").replace("\\0", "%m")


def _day(value: str, fmt: str) -> str:
    """``value`` read with ``fmt``, spelt out: 1 March 2024 (the format itself if Python disagrees)."""
    try:
        day = datetime.strptime(value, fmt)
    except ValueError:
        return f"read as {fmt}"
    return f"{day.day} {day:%B %Y}"


def epoch_hint(value: Any) -> str | None:
    """'Unix epoch seconds (2024-01-10)' when a whole number reads as one between 1990 and 2100 (or
    milliseconds, microseconds); None when it could be a yyyymmdd date or anything else."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    for unit, scale in (("seconds", 1), ("milliseconds", 1_000), ("microseconds", 1_000_000)):
        seconds = number / scale
        if 631_152_000 <= seconds < 4_102_444_800:  # 1990-01-01 .. 2100-01-01
            day = datetime.fromtimestamp(seconds, tz=timezone.utc).date()
            return f"Unix epoch {unit} ({day})"
    return None
