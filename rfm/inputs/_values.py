"""Single values that come in from the command line or the Python API."""

from __future__ import annotations

from datetime import date, datetime

from rfm.errors import InputError


def parse_date(value: date | datetime | str, what: str = "as_of") -> date:
    """A date from the command line or the API; a clear error names ``what`` otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InputError(f'{what}: "{value}" is not a date; write it as YYYY-MM-DD, e.g. 2024-01-31') from None
