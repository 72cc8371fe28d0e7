"""Report definitions: which charts and tables, in which order, with which titles and text.

Definitions are YAML files in ``reports/`` (shipped in the wheel as
``rfm/reports``), validated by :class:`ReportDefinition` (this module: the
schema) and checked against the blocks a report can draw by
:func:`rfm.reporting._registry.load_definition`: unknown keys, unknown block
or figure names and unknown ``{placeholders}`` fail at load time, naming the
file.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from rfm.errors import ConfigError
from rfm.inputs import StrictModel, YamlModel, did_you_mean

#: Report kinds a user can ask for; ``leads`` is a section set appended when leads are given.
KINDS = ("segments", "campaign", "churn")
LEADS = "leads"

#: Placeholders allowed in titles and text, filled per report.
PLACEHOLDERS = (
    "as_of",
    "compare_as_of",
    "horizon_days",
    "active_days",
    "recent_days",
    "calibration_end",
    "holdout_end",
    "action",
    "customers",
    "leads_as_of",
    "clv_months",
)


def reports_dir() -> Path:
    """``rfm/reports`` inside an installed wheel, ``<repo>/reports`` in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "reports", here.parent / "reports"):
        if (candidate / "segments.yaml").is_file():
            return candidate
    raise ConfigError(f"report definitions not found next to {here}; reinstall the package")


class Settings(StrictModel):
    """Numbers a report's text refers to; each definition sets the ones it uses."""

    active_days: int = Field(365, gt=0, description="'active' = ordered within this many days")
    recent_days: int = Field(365, gt=0, description="revenue window for 'revenue at risk'")
    histogram_bins: int = Field(30, ge=2, le=100)
    preview_rows: int = Field(15, ge=0, le=200, description="customers shown per campaign list")
    top_offers: int = Field(5, ge=1, le=30)
    action_order: list[str] = Field(default_factory=list, description="campaign sections first in this order")
    migration_days: int = Field(90, gt=0, description="default earlier date = as_of minus this")


class Block(StrictModel):
    """One chart or table, by its registered name (see :mod:`rfm.reporting._registry`)."""

    chart: str | None = None
    table: str | None = None
    title: str | None = None
    subtitle: str | None = None
    text: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Block:
        if (self.chart is None) == (self.table is None):
            raise ValueError("a block names exactly one of chart: or table:")
        return self

    @property
    def name(self) -> str:
        return self.chart or self.table or ""


class Section(StrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    title: str
    text: str = ""
    #: ``action``: the section repeats once per action (``{action}`` in its texts).
    for_each: Literal["action"] | None = None
    #: Extra text per action when ``for_each: action``.
    action_text: dict[str, str] = Field(default_factory=dict)
    columns: int = Field(1, ge=1, le=3)
    figures: list[str] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)


class ReportDefinition(YamlModel):
    title: str
    subtitle: str = ""
    intro: str = ""
    settings: Settings = Settings()
    headline: list[str] = Field(default_factory=list)
    sections: list[Section] = Field(min_length=1)


def _check_text(text: str, where: str) -> None:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in PLACEHOLDERS:
            raise ConfigError(
                f'{where}: unknown placeholder "{{{name}}}"{did_you_mean(name, PLACEHOLDERS)} '
                f"(placeholders: {', '.join(PLACEHOLDERS)})"
            )


def check_names(defn: ReportDefinition, charts: set[str], tables: set[str], figures: set[str]) -> None:
    """Every block and figure names something the report can draw; texts use known placeholders."""
    src = defn.source
    for text, where in [(defn.title, "title"), (defn.subtitle, "subtitle"), (defn.intro, "intro")]:
        _check_text(text, f"{src}: {where}")
    for name in defn.headline:
        if name not in figures:
            raise ConfigError(
                f'{src}: headline: unknown figure "{name}"{did_you_mean(name, sorted(figures))} '
                f"(figures: {', '.join(sorted(figures))})"
            )
    for i, section in enumerate(defn.sections):
        where = f"{src}: sections.{i} ({section.id})"
        for text in [section.title, section.text, *section.action_text.values()]:
            _check_text(text, where)
        for name in section.figures:
            if name not in figures:
                raise ConfigError(f'{where}: unknown figure "{name}"{did_you_mean(name, sorted(figures))}')
        for j, block in enumerate(section.blocks):
            known, kind = (charts, "chart") if block.chart else (tables, "table")
            if block.name not in known:
                raise ConfigError(
                    f'{where}: blocks.{j}: unknown {kind} "{block.name}"{did_you_mean(block.name, sorted(known))} '
                    f"({kind}s: {', '.join(sorted(known))})"
                )
            for text in [block.title or "", block.subtitle or "", block.text]:
                _check_text(text, f"{where}: blocks.{j}")
