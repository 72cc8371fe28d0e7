"""The lead-scoring grid: one YAML file, validated by a schema.

A grid keeps profile **fit** and behavioural **engagement** apart:

* ``fit.criteria`` test profile fields (``equals``, ``in``, ``contains``,
  ``regex``, ``range``, ``missing``), each worth points (negative allowed);
* ``engagement.rules`` count events (``first``, ``each`` or every N), with
  per-rule caps and windows, negative rules on absence, and decay (half-life
  or window) per rule group;
* ``grades`` turn the two scores into a fit grade A-D and an engagement level
  1-4, ``tiers`` map the 16 priority cells to hot / warm / cold and ``stages``
  lift leads along contact -> marketing-qualified -> sales-qualified ->
  opportunity.

Everything is checked when the grid is loaded, so a typo fails before any
data is read.  The shipped example is ``rfm/presets/leads_grid.yaml``.
"""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import Field, field_validator, model_validator

from rfm._files import output_format, write_text
from rfm.errors import ConfigError
from rfm.inputs import PRESETS, StrictModel, YamlModel, did_you_mean, load_model

EXAMPLE_GRID = PRESETS / "leads_grid.yaml"

GRADES = ("A", "B", "C", "D")
LEVELS = (1, 2, 3, 4)
CELLS = tuple(f"{g}{lvl}" for g in GRADES for lvl in LEVELS)
TIERS = ("hot", "warm", "cold")
STAGES = ("contact", "marketing_qualified", "sales_qualified", "opportunity")
OPERATORS = ("equals", "in", "contains", "regex", "range", "missing")
MATCH_METHODS = ("customer_id", "email", "domain")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DATE_FORMAT = re.compile(r"^[%A-Za-z0-9 :/.,_T\-+]+$")

Scalar = str | int | float | bool


def _check_regex(pattern: str) -> str:
    """Compile with the engine that will run it (polars / Rust regex)."""
    try:
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        detail = " ".join(str(exc).split("This error occurred")[0].split())
        raise ValueError(f'invalid regex "{pattern}": {detail}') from None
    return pattern


def _rule_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f'rule name "{value}" must start with a letter and use only letters, digits and _')
    return value


# --- columns ------------------------------------------------------------------


class LeadColumns(StrictModel):
    """Which leads column plays which role. Unset roles are detected by common names."""

    lead_id: str | None = None
    email: str | None = None
    company: str | None = None
    domain: str | None = None
    job_title: str | None = None
    industry: str | None = None
    company_size: str | None = None
    country: str | None = None
    source: str | None = None
    created_date: str | None = None
    customer_id: str | None = None


class EventColumns(StrictModel):
    lead_id: str | None = None
    event_type: str | None = None
    timestamp: str | None = None
    detail: str | None = None


class OutcomeColumns(StrictModel):
    lead_id: str | None = None
    converted: str | None = None
    conversion_date: str | None = None


class ColumnsConfig(StrictModel):
    leads: LeadColumns = LeadColumns()
    events: EventColumns = EventColumns()
    outcomes: OutcomeColumns = OutcomeColumns()


class TimestampConfig(StrictModel):
    """How event timestamps and dates are read."""

    timezone: str = Field("UTC", description="zone of timestamps without an offset; dates are taken in this zone")
    format: str | None = Field(None, description='strftime format tried first, e.g. "%d/%m/%Y %H:%M"')

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'unknown time zone "{value}"; use an IANA name such as "UTC" or "Europe/Berlin"'
            ) from None
        return value

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and (not _DATE_FORMAT.match(value) or "%" not in value):
            raise ValueError('format must be a strftime pattern such as "%d/%m/%Y %H:%M"')
        return value


# --- fit ------------------------------------------------------------------------


class Bounds(StrictModel):
    """An optional lower (``floor``) and upper (``cap``) bound on a sum of points."""

    cap: float | None = None
    floor: float | None = None

    @model_validator(mode="after")
    def _order(self) -> Bounds:
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"floor {self.floor:g} is above cap {self.cap:g}; the floor must be the lower bound")
        return self


class FitCriterion(StrictModel):
    """``field`` ``op`` ``value`` is worth ``points`` (negative allowed)."""

    name: str
    field: str
    op: Literal["equals", "in", "contains", "regex", "range", "missing"]
    value: Scalar | list[Scalar | None] | None = None
    points: float
    group: str | None = None
    reason: str = ""

    _name = field_validator("name")(classmethod(lambda cls, v: _rule_name(v)))

    @model_validator(mode="before")
    @classmethod
    def _missing_means_empty(cls, data: Any) -> Any:
        # ``op: missing`` without a value tests for an empty field (value: true)
        if isinstance(data, dict) and data.get("op") == "missing" and data.get("value") is None:
            return {**data, "value": True}
        return data

    @model_validator(mode="after")
    def _value_fits_op(self) -> FitCriterion:
        v, where = self.value, f'criterion "{self.name}"'
        if self.op in ("equals", "contains", "regex") and (v is None or isinstance(v, list)):
            raise ValueError(f"{where}: op {self.op} needs one value, e.g. value: software")
        if self.op == "in" and (not isinstance(v, list) or not v or any(x is None for x in v)):
            raise ValueError(f"{where}: op in needs a non-empty list of values, e.g. value: [software, fintech]")
        if self.op == "range":
            if not isinstance(v, list) or len(v) != 2 or all(x is None for x in v):
                raise ValueError(
                    f"{where}: op range needs [low, high] (inclusive; null for open), e.g. value: [50, 999]"
                )
            if any(x is not None and (isinstance(x, (bool, str))) for x in v):
                raise ValueError(f"{where}: range bounds must be numbers or null, got {v}")
            lo, hi = v
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{where}: range [{lo:g}, {hi:g}] is empty (low > high)")
        if self.op == "missing":
            if not isinstance(v, bool):
                raise ValueError(f"{where}: op missing takes value true (field empty) or false (field filled)")
        if self.op == "regex":
            _check_regex(str(v))
        if self.op == "contains" and not str(v):
            raise ValueError(f"{where}: contains needs a non-empty text")
        return self


class FitConfig(Bounds):
    groups: dict[str, Bounds] = Field(default_factory=dict)
    criteria: list[FitCriterion] = Field(default_factory=list)


# --- engagement ---------------------------------------------------------------------


class EngagementGroup(Bounds):
    """Caps, and how old events lose weight: a half-life or a window (not both)."""

    half_life_days: float | None = Field(None, gt=0)
    window_days: int | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_decay(self) -> EngagementGroup:
        if self.half_life_days is not None and self.window_days is not None:
            raise ValueError("give half_life_days or window_days for a group, not both")
        return self


class EngagementRule(StrictModel):
    """Points for events of type(s) ``event``; or, with ``absent: true``, for their absence."""

    name: str
    event: str | list[str]
    points: float
    count: Literal["first", "each"] | int = Field("each", description="first, each, or N: points per N events")
    cap: float | None = Field(None, gt=0, description="the rule never adds more than this many points (in size)")
    window_days: int | None = Field(None, gt=0, description="only events in the N days ending on as_of")
    absent: bool = False
    detail_contains: str | None = None
    detail_regex: str | None = None
    group: str | None = None
    reason: str = ""

    _name = field_validator("name")(classmethod(lambda cls, v: _rule_name(v)))

    @field_validator("count")
    @classmethod
    def _count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError("count must be first, each, or a whole number N >= 1 (points per N events)")
        return value

    @field_validator("detail_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return None if value is None else _check_regex(value)

    @model_validator(mode="after")
    def _absence(self) -> EngagementRule:
        if self.absent:
            if self.window_days is None:
                raise ValueError(f'rule "{self.name}": absent: true needs window_days (e.g. no email open in 90 days)')
            if self.count != "each" or self.cap is not None:
                raise ValueError(f'rule "{self.name}": an absent rule scores once; drop count and cap')
        return self

    @property
    def events(self) -> list[str]:
        return [self.event] if isinstance(self.event, str) else list(self.event)

    @property
    def every(self) -> int | None:
        return self.count if isinstance(self.count, int) and self.count > 1 else None


class EngagementConfig(Bounds):
    groups: dict[str, EngagementGroup] = Field(default_factory=dict)
    rules: list[EngagementRule] = Field(default_factory=list)


# --- grades, tiers, stages, contacts ----------------------------------------------------


def _increasing(value: list[float]) -> list[float]:
    if len(value) != 3:
        raise ValueError(f"give exactly 3 thresholds (for 4 classes), got {len(value)}: {value}")
    bad = next((i for i in range(1, 3) if value[i] <= value[i - 1]), None)
    if bad is not None:
        raise ValueError(
            f"thresholds must be strictly increasing, but {value[bad]:g} follows {value[bad - 1]:g} in {value}"
        )
    return value


class Grades(StrictModel):
    """Lowest score of each class. ``fit: [c, b, a]``: >= a is A, >= b is B, >= c is C, below is D."""

    fit: list[float] = Field(default_factory=lambda: [10.0, 25.0, 40.0])
    engagement: list[float] = Field(default_factory=lambda: [10.0, 30.0, 60.0])

    @field_validator("fit")
    @classmethod
    def _fit(cls, value: list[float]) -> list[float]:
        return _increasing(value)

    @field_validator("engagement")
    @classmethod
    def _eng(cls, value: list[float]) -> list[float]:
        return _increasing(value)


class Tiers(StrictModel):
    """Priority cells per tier; every other cell is cold."""

    hot: list[str] = Field(default_factory=lambda: ["A1", "A2", "B1"])
    warm: list[str] = Field(default_factory=lambda: ["A3", "B2", "B3", "C1", "C2"])

    @model_validator(mode="after")
    def _cells(self) -> Tiers:
        seen: dict[str, str] = {}
        for tier in ("hot", "warm"):
            for cell in getattr(self, tier):
                if cell not in CELLS:
                    hint = did_you_mean(cell, CELLS)
                    raise ValueError(f'unknown cell "{cell}" in {tier}{hint} (cells are A1 ... D4)')
                if cell in seen:
                    raise ValueError(f'cell "{cell}" is in both tiers.{seen[cell]} and tiers.{tier}; give it one tier')
                seen[cell] = tier
        return self


class StageRule(StrictModel):
    """All given conditions must hold; by default the previous stage must hold too."""

    tiers: list[Literal["hot", "warm", "cold"]] | None = None
    cells: list[str] | None = None
    min_fit_score: float | None = None
    min_engagement_score: float | None = None
    events: list[str] | None = Field(None, description="any of these event types up to as_of")
    within_days: int | None = Field(None, gt=0, description="events only count in the N days ending on as_of")
    requires_previous: bool = True

    @model_validator(mode="after")
    def _some(self) -> StageRule:
        conditions = (self.tiers, self.cells, self.min_fit_score, self.min_engagement_score, self.events)
        if all(c is None for c in conditions):
            raise ValueError("a stage needs a condition: tiers, cells, min_fit_score, min_engagement_score or events")
        if self.within_days is not None and self.events is None:
            raise ValueError("within_days applies to events; add events or drop within_days")
        for cell in self.cells or []:
            if cell not in CELLS:
                raise ValueError(f'unknown cell "{cell}"{did_you_mean(cell, CELLS)} (cells A1 ... D4)')
        return self


class Stages(StrictModel):
    marketing_qualified: StageRule | None = None
    sales_qualified: StageRule | None = None
    opportunity: StageRule | None = None


class Routing(StrictModel):
    """Where each contact goes in the joined view; customers go to ``<action>:<segment>``."""

    hot: str = "sales"
    warm: str = "nurture"
    cold: str = "mass_campaign"
    ambiguous: str = "review_match"


class ContactsConfig(StrictModel):
    match: list[Literal["customer_id", "email", "domain"]] = Field(default_factory=lambda: ["customer_id", "email"])
    personal_domains: list[str] = Field(
        default_factory=lambda: ["gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com",
                                 "live.com", "icloud.com", "aol.com", "gmx.de", "web.de", "proton.me"],
        description="email domains never used for company-domain matching",
    )
    routing: Routing = Routing()

    @field_validator("match")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"match must list methods once each (customer_id, email, domain), got {value}")
        return value


class Checks(StrictModel):
    sparse_match_share: float = Field(0.01, ge=0, le=1, description="flag criteria matching fewer leads than this")
    sparse_fill_share: float = Field(0.5, ge=0, le=1, description="... when their field is filled for fewer than this")


# --- the grid ----------------------------------------------------------------------------


class ConversionModel(StrictModel):
    """Written by ``rfm leads calibrate --method logistic``: points are log-odds, so the grid gives a
    probability, ``conversion_probability = 1 / (1 + exp(-(intercept + ln 2 x (fit + engagement) / pdo)))``."""

    intercept: float = Field(description="log-odds of conversion of a lead with 0 points")
    pdo: float = Field(gt=0, description="points that double the odds of conversion")
    fitted: str = Field("", description="what the model was learned from (leads, conversions, as_of)")


class LeadGrid(YamlModel):
    description: str = ""
    columns: ColumnsConfig = ColumnsConfig()
    timestamps: TimestampConfig = TimestampConfig()
    event_types: dict[str, str] = Field(default_factory=dict, description="known event types and what they mean")
    fit: FitConfig = FitConfig()
    engagement: EngagementConfig = EngagementConfig()
    grades: Grades = Grades()
    tiers: Tiers = Tiers()
    stages: Stages = Stages()
    explain_top: int = Field(3, ge=1, le=20)
    contacts: ContactsConfig = ContactsConfig()
    checks: Checks = Checks()
    conversion_model: ConversionModel | None = None

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, text in value.items():
            norm = str(key).strip().lower()
            if norm in out:
                raise ValueError(f'event type "{key}" is listed twice (event types are compared ignoring case)')
            out[norm] = "" if text is None else str(text)
        return out

    @model_validator(mode="after")
    def _references(self) -> LeadGrid:
        names: set[str] = set()
        for rule in [*self.fit.criteria, *self.engagement.rules]:
            if rule.name in names:
                raise ValueError(f'rule name "{rule.name}" is used twice; names label explanations, make them unique')
            names.add(rule.name)
        known = sorted(self.event_types)
        for crit in self.fit.criteria:
            if crit.group is not None and crit.group not in self.fit.groups:
                raise ValueError(
                    f'fit criterion "{crit.name}" names group "{crit.group}"'
                    f"{did_you_mean(crit.group, list(self.fit.groups))}; declare it under fit.groups"
                )
        for rule in self.engagement.rules:
            if rule.group is not None and rule.group not in self.engagement.groups:
                raise ValueError(
                    f'engagement rule "{rule.name}" names group "{rule.group}"'
                    f"{did_you_mean(rule.group, list(self.engagement.groups))}; declare it under engagement.groups"
                )
            for event in rule.events:
                _known_event(event, known, f'engagement rule "{rule.name}"')
        for prev, stage in zip(STAGES[1:], STAGES[2:]):
            cond = getattr(self.stages, stage)
            if cond is not None and cond.requires_previous and getattr(self.stages, prev) is None:
                raise ValueError(
                    f"stages.{stage} requires the previous stage but stages.{prev} is not defined; "
                    f"define {prev} or set requires_previous: false"
                )
        for stage in STAGES[1:]:
            cond = getattr(self.stages, stage)
            for event in (cond.events or []) if cond else []:
                _known_event(event, known, f"stages.{stage}")
        return self

    # -- helpers used by scoring ------------------------------------------------

    def fit_fields(self) -> list[str]:
        return list(dict.fromkeys(c.field for c in self.fit.criteria))

    def to_yaml(self) -> str:
        """The grid as YAML that :func:`load_grid` reads back to an equal grid."""
        data = _tidy(self.model_dump(mode="json", exclude_defaults=True))
        header = f"# Lead-scoring grid ({self.source})\n"
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)

    def write(self, path: str | Path) -> Path:
        output_format(path, ("yaml",))
        return write_text(path, self.to_yaml())


def _tidy(value: Any) -> Any:
    """Whole floats as ints (``points: 5``, not ``5.0``) for readable YAML."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def _known_event(event: str, known: list[str], where: str) -> None:
    if event.strip().lower() not in known:
        listed = ", ".join(known) if known else "none"
        raise ValueError(
            f'{where}: unknown event type "{event}"{did_you_mean(event.strip().lower(), known)} '
            f"(event_types lists: {listed}); add it to event_types or fix the name"
        )


def load_grid(grid: str | Path | dict[str, Any] | LeadGrid | None = None) -> LeadGrid:
    """Load and validate a grid from a YAML path or a dict; ``None`` is the shipped example."""
    try:
        return load_model(LeadGrid, grid, default=EXAMPLE_GRID, what="grid")
    except ConfigError as exc:
        # Cross-reference checks run on the whole grid; their message names the rule itself.
        raise ConfigError(str(exc).replace(": (top level): ", ": ", 1)) from None
