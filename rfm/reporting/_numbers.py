"""Numbers as the reader writes them: money with its currency, grouping and decimal marks.

One source for both halves of a report.  Python formats the cards and tables
with :class:`Numbers`; Vega-Lite formats the axes and tooltips with the same
symbols, passed as the chart config's ``locale`` (:meth:`Numbers.vega_locale`),
and every money format in :mod:`rfm.reporting._charts` starts with d3's ``$``
(the locale's currency prefix and suffix).  The symbols come from the CLDR
data Babel ships (``€1,234.50`` in ``en``, ``1 234,50 €`` in ``fr``), so no
locale table is written by hand here.  Digits are grouped by three, as d3-format
groups them.

Without ``report.currency`` amounts print as plain numbers (the orders'
currency is unknown) and the report says so once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    UnknownCurrencyError,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
    validate_currency,
)

from rfm.errors import ConfigError

#: What the number part of a CLDR pattern is made of.
_NUMBER = re.compile(r"[#0,.]+")
#: The precision and type of a Python number format ("{:,.1f}" -> 1, f).
_PRECISION = re.compile(r"\.(\d+)([f%])")


def half_up(value: float, digits: int) -> float:
    """``value`` (>= 0) rounded to ``digits`` places from its exact binary value, halves up: what
    JavaScript's ``toFixed`` (and so d3-format) does, where Python's formatting rounds halves to even."""
    return float(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def check_locale(name: str) -> str:
    """``name`` if Babel knows the locale (``en``, ``fr``, ``de_CH``, ``pt-BR``), else a ConfigError."""
    try:
        Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ConfigError(
            f'report.locale: unknown locale "{name}"; use a language code such as en, fr, de or de_CH'
        ) from None
    return name


def check_currency(code: str) -> str:
    """``code`` if it is an ISO 4217 currency (EUR, USD, GBP...), else a ConfigError."""
    try:
        validate_currency(code)
    except UnknownCurrencyError:
        raise ConfigError(f'report.currency: "{code}" is not an ISO 4217 currency code; use e.g. EUR, USD or GBP') from None
    return code


@dataclass(frozen=True)
class Numbers:
    """How one report writes numbers: ``currency`` (ISO code or None) in ``locale``."""

    currency: str | None = None
    locale: str = "en"

    @cached_property
    def _babel(self) -> Locale:
        return Locale.parse(check_locale(self.locale).replace("-", "_"))

    @cached_property
    def _marks(self) -> dict[str, str]:
        return {",": get_group_symbol(self._babel), ".": get_decimal_symbol(self._babel)}

    @cached_property
    def _affixes(self) -> tuple[str, str]:
        """The currency's prefix and suffix in this locale (``("€", "")`` in en, ``("", " €")`` in fr)."""
        if self.currency is None:
            return "", ""
        pattern = self._babel.currency_formats["standard"].pattern.split(";")[0]
        match = _NUMBER.search(pattern)
        assert match is not None  # every CLDR currency pattern holds a number
        symbol = get_currency_symbol(self.currency, self._babel)
        before, after = pattern[: match.start()], pattern[match.end():]
        return before.replace("¤", symbol), after.replace("¤", symbol)

    def money(self, value: float | None, digits: int = 0) -> str:
        """``value`` as an amount: ``€1,235`` (digits 0) or ``€1,234.50`` (digits 2); "n/a" for None.

        Rounded as the charts' d3-format rounds (JavaScript's ``toFixed``: the binary value, halves
        away from zero), so a table and a tooltip never disagree on a half."""
        if value is None or not math.isfinite(value):
            return "n/a"
        rounded = half_up(abs(value), digits)
        number = f"{rounded:,.{digits}f}".translate(self._translate)
        before, after = self._affixes
        sign = get_minus_sign_symbol(self._babel) if value < 0 and rounded != 0 else ""  # no "-0"
        return f"{sign}{before}{number}{after}"

    @cached_property
    def _translate(self) -> dict[int, str]:
        return str.maketrans(self._marks)

    def number(self, fmt: str) -> Callable[[Any], str]:
        """A cell formatter: Python's ``fmt`` (e.g. ``"{:,.1f}"``, ``"{:.1%}"``) in this locale's marks."""

        digits = _PRECISION.search(fmt)

        def render(value: Any) -> str:
            if digits and isinstance(value, float) and math.isfinite(value):  # halves as d3 rounds (see money)
                places = int(digits.group(1)) + (2 if digits.group(2) == "%" else 0)
                rounded = half_up(abs(value), places)
                value = -rounded if value < 0 and rounded else rounded  # no "-0.0"
            return fmt.format(value).translate(self._translate)

        return render

    def money_cells(self, digits: int = 0) -> Callable[[Any], str]:
        """A cell formatter for amounts (see :meth:`money`)."""
        return lambda value: self.money(value, digits)

    def vega_locale(self) -> dict[str, Any]:
        """Vega-Lite's ``config.locale``: the same marks and currency affixes for axes and tooltips."""
        return {
            "number": {
                "decimal": self._marks["."],
                "thousands": self._marks[","],
                "grouping": [3],
                "currency": list(self._affixes),
                "minus": get_minus_sign_symbol(self._babel),
            }
        }
