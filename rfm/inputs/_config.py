"""The ``input:`` section of the config: how order lines are read and mapped.

(The rest of the config file is :class:`rfm.customers.Config`.)
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rfm.inputs._yaml import StrictModel

#: Column roles an order line can have; the first four are required.
REQUIRED_ROLES = ("customer_id", "order_id", "order_date", "amount")
OPTIONAL_ROLES = ("category", "status", "quantity")

#: strftime-style codes and separators only: a date format is never SQL.
_DATE_FORMAT = re.compile(r"^[%A-Za-z0-9 :/.,_T\-]+$")


class Columns(StrictModel):
    """Which input column plays which role. Unset roles are detected by common names."""

    customer_id: str | None = None
    order_id: str | None = None
    order_date: str | None = None
    amount: str | None = None
    category: str | None = None
    status: str | None = None
    quantity: str | None = None


class CsvOptions(StrictModel):
    """How to read CSV/text files. Unset options are sniffed by DuckDB."""

    delimiter: str | None = Field(None, description='one character, or "whitespace" for runs of spaces/tabs')
    header: bool | None = None
    decimal: Literal[".", ","] = "."
    thousands: Literal[",", ".", " ", "'"] | None = Field(
        None, description='thousands separator inside amounts ("1,250.00": ","; "1 250,00": " ", no-break spaces too)'
    )
    encoding: Literal["utf-8", "latin-1", "cp1252", "utf-16"] = Field(
        "utf-8", description="text encoding of the file; a UTF-16 byte-order mark is recognised by itself"
    )
    names: tuple[str, ...] | None = Field(None, description="column names for a file without a header row")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and value != "whitespace" and len(value) != 1:
            raise ValueError('delimiter must be one character or "whitespace"')
        return value

    @field_validator("encoding", mode="before")
    @classmethod
    def _encoding_alias(cls, value: object) -> object:
        aliases = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1", "windows-1252": "cp1252",
                   "utf16": "utf-16"}
        return aliases.get(value.lower(), value.lower()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvOptions:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError(f'thousands and decimal are both "{self.decimal}"; they must differ')
        return self


class InputConfig(StrictModel):
    columns: Columns = Columns()
    csv: CsvOptions = CsvOptions()
    date_format: str | None = Field(None, description='strftime format of text dates, e.g. "%d/%m/%Y"')
    table: str | None = Field(None, description="table name when ORDERS is a DuckDB database file")
    excluded_statuses: tuple[str, ...] = Field(
        ("cancelled", "canceled", "void", "voided", "failed", "test"),
        description="order lines with one of these statuses (case-insensitive) are dropped and counted",
    )
    duplicates: Literal["unchecked", "keep", "drop"] = Field(
        "unchecked",
        description="exact duplicate lines: unchecked (every line counts; the one-scan route), "
        "keep (counted and reported, kept) or drop (counted once, the copies reported)",
    )
    order_id_fallback: Literal["none", "line", "customer_day"] = Field(
        "none", description="when there is no order id column: each line is an order, or each customer-day is"
    )

    @field_validator("date_format")
    @classmethod
    def _safe_format(cls, value: str | None) -> str | None:
        if value is not None and (not _DATE_FORMAT.match(value) or "%" not in value):
            raise ValueError('date_format must be a strftime pattern such as "%Y-%m-%d" or "%d/%m/%Y"')
        return value
