"""Which input column plays which role: one mapper for orders, leads, events and outcomes.

A role is mapped by the config (``input.columns`` for orders, ``columns.<kind>``
in a lead grid) or recognised by the common names listed per kind in
``rfm/presets/columns.yaml``, ignoring case, spaces, ``_`` and ``-``.  The
mapper only decides; the reader of each kind words its own messages from
what it returns (a configured name that is not a column, a required role
that is missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import RootModel

from rfm.inputs._yaml import PRESETS, StrictModel, read_yaml, validate

Kind = Literal["orders", "leads", "events", "outcomes"]


class KindAliases(StrictModel):
    required: list[str]
    roles: dict[str, list[str]]


class ColumnAliases(RootModel[dict[str, KindAliases]]):
    """``rfm/presets/columns.yaml``: per input kind, the required roles and the common names of every role."""


def norm(name: str) -> str:
    """A column name compared ignoring case, spaces, ``_`` and ``-``."""
    return re.sub(r"[\s_\-]+", "", str(name).lower())


@cache
def aliases(kind: Kind) -> KindAliases:
    """The roles of an input kind (in mapping order) and their common names."""
    path = PRESETS / "columns.yaml"
    table: ColumnAliases = validate(ColumnAliases, read_yaml(path), str(path))
    return table.root[kind]


@dataclass(frozen=True)
class Roles:
    """The outcome of mapping: role -> column (None: absent), which roles were recognised by name,
    and configured names that are not columns of the input (role, name)."""

    mapping: dict[str, str | None]
    detected: tuple[str, ...]
    unknown: tuple[tuple[str, str], ...]

    def missing(self, required: Sequence[str]) -> list[str]:
        return [role for role in required if self.mapping.get(role) is None]


def map_roles(kind: Kind, columns: Sequence[str], configured: Mapping[str, str | None]) -> Roles:
    """Map every role of ``kind``: the configured column, else the first common name whose column no earlier role took."""
    by_norm: dict[str, str] = {}
    for name in columns:
        by_norm.setdefault(norm(name), name)  # the first column of a spelling wins
    mapping: dict[str, str | None] = {}
    detected: list[str] = []
    unknown: list[tuple[str, str]] = []
    for role, names in aliases(kind).roles.items():
        name = configured.get(role)
        if name is not None:
            if name not in columns:
                unknown.append((role, name))
            mapping[role] = name
            continue
        taken = set(mapping.values())
        hit = next((by_norm[norm(a)] for a in names if norm(a) in by_norm and by_norm[norm(a)] not in taken), None)
        mapping[role] = hit
        if hit is not None:
            detected.append(role)
    return Roles(mapping, tuple(detected), tuple(unknown))

