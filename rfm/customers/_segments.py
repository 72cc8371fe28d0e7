"""Named segments: ordered rules over the R/F/M score grid and metric bounds, first match wins.

A rule set is data (``rfm/presets/segments/*.yaml``).  A rule tests scores
(``r: [4, 5]``, relative to the customer base) and, optionally, metrics with
absolute bounds (``tenure_days: {max: 90}``, ``recency_days: {min: 365}``).
Each distinct metric bound of a rule set is a condition; a customer's
condition mask says which hold.  Resolving the rules fills the whole grid of
(R, F, M cell, mask) and checks it: rules that never win (shadowed by earlier
rules) and cells that fall through to the catch-all segment are reported, over
the masks a customer can have (bounds of one metric that cannot hold together
are skipped).  The resolved grid is a small lookup table; the SQL reads each
customer's segment and action from it, never a CASE built from config.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator

from rfm.errors import ConfigError, RfmWarning
from rfm.inputs import PRESETS, StrictModel, close_match, did_you_mean, load_model

SEGMENT_PRESETS = PRESETS / "segments"

#: Scores a rule may test.  ``fm`` is the mean of F and M (may be x.5).
SCORES = ("r", "f", "m", "fm")
#: Metrics a rule may bound absolutely, in the order the SQL numbers them (1-based).
METRICS = ("recency_days", "frequency", "monetary", "tenure_days")
#: Metrics that only take whole values (a bound of one of them checks whole numbers).
WHOLE = frozenset({"recency_days", "frequency", "tenure_days"})
#: Distinct metric bounds a rule set may use: the grid has bins^3 x 2^this rows.
MAX_CONDITIONS = 8
#: Rows of the resolved grid (bins^3 x 2^bounds): resolved on every scoring and bound as a list parameter.
MAX_GRID = 32_000
#: An open end of a bound, as a finite number every engine binds.
OPEN = 1e308

Bound = float | list[float]


class MetricBound(StrictModel):
    """An inclusive absolute range of a metric: ``{min: 365}``, ``{max: 90}`` or both."""

    min: float | None = Field(None, allow_inf_nan=False)
    max: float | None = Field(None, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"a metric bound is {{min: x}}, {{max: y}} or both, not {data!r}; e.g. {{max: 90}}")
        return data

    @model_validator(mode="after")
    def _some(self) -> MetricBound:
        if self.min is None and self.max is None:
            raise ValueError("a metric bound needs min, max or both, e.g. {max: 90}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"a metric bound's min {self.min:g} is above its max {self.max:g}")
        return self

    def range(self) -> tuple[float, float]:
        return (-OPEN if self.min is None else self.min, OPEN if self.max is None else self.max)


@dataclass(frozen=True)
class Condition:
    """One distinct metric bound of a rule set: ``metric`` in [lo, hi]."""

    metric: str
    lo: float
    hi: float

    def holds(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def __str__(self) -> str:
        if self.lo == -OPEN:
            return f"{self.metric} <= {self.hi:g}"
        if self.hi == OPEN:
            return f"{self.metric} >= {self.lo:g}"
        return f"{self.metric} in [{self.lo:g}, {self.hi:g}]"


class SegmentRule(StrictModel):
    """``name``, ``action``, inclusive score ranges (``r: [4, 5]``, ``f: 1``) and absolute metric
    bounds (``tenure_days: {max: 90}``)."""

    name: str = Field(min_length=1)
    action: str
    r: Bound | None = None
    f: Bound | None = None
    m: Bound | None = None
    fm: Bound | None = None
    recency_days: MetricBound | None = None
    frequency: MetricBound | None = None
    monetary: MetricBound | None = None
    tenure_days: MetricBound | None = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _known_scores(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = set(SCORES) | set(METRICS) | {"name", "action", "description"}
            for key in data:
                if key not in allowed:
                    # "freq", "recency", "monetary_score" ... point at their one-letter score first
                    score = close_match(key, SCORES) or (key[0] if key[:1] in "rfm" else "")
                    metric = next((m for m in METRICS if m.startswith(key)), "") or close_match(key, METRICS)
                    hint = (f'; did you mean "{score}" (a score)' + (f' or "{metric}" (a metric)' if metric else "")
                            + "?") if score else (f'; did you mean "{metric}"?' if metric else "")
                    raise ValueError(
                        f'segment rule "{data.get("name", "?")}" references unknown score "{key}"'
                        f"{hint} (scores: r, f, m, fm = mean of f and m; metrics with absolute bounds: "
                        f"{', '.join(METRICS)}, e.g. tenure_days: {{max: 90}})"
                    )
        return data

    @model_validator(mode="after")
    def _ranges(self) -> SegmentRule:
        for score in ("r", "f", "m"):
            lo, hi = self.range(score)
            for bound in (lo, hi):
                if abs(bound) != float("inf") and bound != int(bound):
                    raise ValueError(
                        f'segment rule "{self.name}": {score} bound {bound:g} is not a whole score '
                        "(only fm, the mean of f and m, takes halves)"
                    )
        for score in SCORES:
            lo, hi = self.range(score)
            if lo > hi:
                raise ValueError(f'segment rule "{self.name}": {score} range [{lo:g}, {hi:g}] is empty (low > high)')
        return self

    def range(self, score: str) -> tuple[float, float]:
        value = getattr(self, score)
        if value is None:
            return (float("-inf"), float("inf"))
        if isinstance(value, list):
            if len(value) != 2:
                raise ValueError(f'segment rule "{self.name}": {score} must be one score or [low, high]')
            return (float(value[0]), float(value[1]))
        return (float(value), float(value))

    def conditions(self) -> list[Condition]:
        """This rule's metric bounds."""
        return [Condition(name, *bound.range()) for name in METRICS if (bound := getattr(self, name)) is not None]

    def matches(self, r: int, f: int, m: int, held: frozenset[Condition] = frozenset()) -> bool:
        """Whether a customer with scores (r, f, m), for whom exactly the conditions ``held`` hold, matches."""
        values = {"r": r, "f": f, "m": m, "fm": (f + m) / 2}
        scores = all(lo <= values[s] <= hi for s in SCORES for lo, hi in [self.range(s)])
        return scores and all(c in held for c in self.conditions())


class OtherSegment(StrictModel):
    name: str = "Other"
    action: str = "nurture"


class SegmentPreset(StrictModel):
    """A shipped or user rule-set file."""

    description: str = ""
    bins: int = Field(5, ge=2, le=10)
    source: str = ""
    rules: list[SegmentRule]
    other: OtherSegment = OtherSegment()


class SegmentsConfig(StrictModel):
    """``preset`` names a shipped rule set (or a YAML path); ``rules`` replaces it inline."""

    preset: str = "default"
    rules: tuple[SegmentRule, ...] | None = None
    other: OtherSegment | None = None


@dataclass(frozen=True)
class RuleSet:
    """A resolved rule set and its grid check."""

    name: str
    rules: tuple[SegmentRule, ...]
    other: OtherSegment
    bins: int
    grid: pl.DataFrame  # r_score, f_score, m_score, mask, feasible, segment, action, segment_order
    unreachable: tuple[str, ...]  # rule names that win no cell
    fallthrough: tuple[tuple[int, int, int], ...]  # cells no rule matches (under some condition mask)
    empty: tuple[str, ...] = ()  # rule names that match no cell of the grid at all
    conditions: tuple[Condition, ...] = ()  # the rule set's distinct metric bounds; bit k of a mask = condition k

    def sql_conditions(self) -> dict[str, Any]:
        """The conditions as the parameters of ``customers.build_result`` (one weight-0 placeholder
        when there are none, so no engine sees an empty list)."""
        conds = list(self.conditions) or [Condition(METRICS[0], -OPEN, OPEN)]
        return {
            "masks": 2 ** len(self.conditions),
            "cond_metrics": [METRICS.index(c.metric) + 1 for c in conds],
            "cond_lo": [float(c.lo) for c in conds],
            "cond_hi": [float(c.hi) for c in conds],
            "cond_weights": [2**k for k in range(len(self.conditions))] or [0],
        }

    @property
    def segment_order(self) -> list[str]:
        """Segment names in priority order, catch-all last."""
        names: list[str] = []
        for rule in self.rules:
            if rule.name not in names:
                names.append(rule.name)
        if self.other.name not in names:
            names.append(self.other.name)
        return names

    def actions(self) -> dict[str, str]:
        mapping = {rule.name: rule.action for rule in reversed(self.rules)}
        mapping.setdefault(self.other.name, self.other.action)
        return mapping


def list_presets() -> list[str]:
    return sorted(p.stem for p in SEGMENT_PRESETS.glob("*.yaml"))


def load_preset(name_or_path: str) -> tuple[str, SegmentPreset]:
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = SEGMENT_PRESETS / f"{name_or_path}.yaml"
        if not path.exists():
            known = list_presets()
            raise ConfigError(
                f'segments.preset: no rule set "{name_or_path}"{did_you_mean(name_or_path, known)} '
                f"(shipped: {', '.join(known)}; or give a path to a .yaml rule file)"
            )
    return str(path), load_model(SegmentPreset, path)


def resolve_rules(
    cfg: SegmentsConfig, *, bins: int, actions: list[str], source: str = "config", warn: bool = True
) -> RuleSet:
    """Resolve ``cfg`` to a :class:`RuleSet` and check it over the whole score grid."""
    if cfg.rules is not None:
        name, rules, other, rule_bins = "custom", list(cfg.rules), cfg.other or OtherSegment(), bins
        where = f"{source}: segments.rules"
    else:
        path, preset = load_preset(cfg.preset)
        name, rules, other, rule_bins = cfg.preset, list(preset.rules), cfg.other or preset.other, preset.bins
        where = path
        if rule_bins != bins:
            raise ConfigError(
                f'{where}: segment preset "{cfg.preset}" is written for {rule_bins} bins but scoring.bins is {bins}; '
                f"set scoring.bins: {rule_bins}, pick another preset ({', '.join(list_presets())}) or write segments.rules"
            )
    if not rules:
        raise ConfigError(f"{where}: no segment rules; give at least one rule")
    for rule in [*rules, other]:
        if rule.action not in actions:
            raise ConfigError(
                f'{where}: segment "{rule.name}" has action "{rule.action}"{did_you_mean(rule.action, actions)}; '
                f"known actions: {', '.join(actions)} (extend the top-level actions list to add one)"
            )
        for score in ("r", "f", "m", "fm"):
            lo, hi = rule.range(score) if isinstance(rule, SegmentRule) else (1, bins)
            if (lo != float("-inf") and lo < 1) or (hi != float("inf") and hi > bins):
                raise ConfigError(
                    f'{where}: segment "{rule.name}": {score} range [{lo:g}, {hi:g}] lies outside the scores 1..{bins}'
                )

    actions_of: dict[str, str] = {}
    for rule in [*rules, other]:
        if actions_of.setdefault(rule.name, rule.action) != rule.action:
            raise ConfigError(
                f'{where}: segment "{rule.name}" appears with actions "{actions_of[rule.name]}" and "{rule.action}"; '
                "a segment has one action: rename one of the rules or give both the same action"
            )
    order = {}
    for rule in [*rules, other]:
        order.setdefault(rule.name, len(order) + 1)
    conditions = tuple(dict.fromkeys(c for rule in rules for c in rule.conditions()))
    if len(conditions) > MAX_CONDITIONS or bins**3 * 2 ** len(conditions) > MAX_GRID:
        raise ConfigError(
            f"{where}: {len(conditions)} distinct metric bounds over {bins} bins make a segment grid of "
            f"{bins**3 * 2 ** len(conditions):,} rows; at most {MAX_CONDITIONS} bounds and {MAX_GRID:,} rows "
            "(each bound doubles the grid): give rules that mean the same bound the same numbers"
        )
    masks = [(mask, frozenset(c for k, c in enumerate(conditions) if mask >> k & 1), possible(conditions, mask))
             for mask in range(2 ** len(conditions))]
    cells, winners, matched = [], set(), set()
    fallthrough: dict[tuple[int, int, int], None] = {}
    for r, f, m in itertools.product(range(1, bins + 1), repeat=3):
        for mask, held, feasible in masks:
            hits = [i for i, rule in enumerate(rules) if rule.matches(r, f, m, held)]
            if feasible:
                matched.update(hits)
            if not hits:
                fallthrough.update({(r, f, m): None} if feasible else {})
                seg, act = other.name, other.action
            else:
                winners.update(hits[:1] if feasible else [])
                seg, act = rules[hits[0]].name, rules[hits[0]].action
            cells.append((r, f, m, mask, feasible, seg, act, order[seg]))
    empty = tuple(rule.name for i, rule in enumerate(rules) if i not in matched)
    unreachable = tuple(rule.name for i, rule in enumerate(rules) if i not in winners and rule.name not in empty)
    grid = pl.DataFrame(
        cells,
        schema={
            "r_score": pl.Int32,
            "f_score": pl.Int32,
            "m_score": pl.Int32,
            "mask": pl.Int32,
            "feasible": pl.Boolean,
            "segment": pl.String,
            "action": pl.String,
            "segment_order": pl.Int32,
        },
        orient="row",
    )
    ruleset = RuleSet(name, tuple(rules), other, bins, grid, unreachable, tuple(fallthrough), empty, conditions)
    if warn:
        for message in grid_warnings(ruleset, where):
            warnings.warn(message, RfmWarning, stacklevel=2)
    return ruleset


def possible(conditions: tuple[Condition, ...], mask: int) -> bool:
    """Whether some customer has exactly the conditions of ``mask`` (bit k: condition k holds): per
    metric, a value inside every held bound and outside every other one.  Metrics are checked one by
    one; links between them (tenure >= recency) are not assumed."""
    for metric in {c.metric for c in conditions}:
        mine = [(k, c) for k, c in enumerate(conditions) if c.metric == metric]
        step = 1.0 if metric in WHOLE else 1e-6
        points = {-OPEN, OPEN} | {v for _, c in mine for e in (c.lo, c.hi) for v in (e - step, e, e + step)}
        if metric in WHOLE:
            points = {float(math.floor(p)) for p in points} | {float(math.ceil(p)) for p in points}
        if not any(all(c.holds(v) == bool(mask >> k & 1) for k, c in mine) for v in points):
            return False
    return True


def grid_warnings(ruleset: RuleSet, where: str) -> list[str]:
    out = []
    if ruleset.empty:
        out.append(
            f"{where}: segment rule(s) {', '.join(repr(n) for n in ruleset.empty)} match no customer at all "
            "(score ranges no cell reaches, e.g. an fm range no pair of f and m scores gives, or metric bounds "
            "that cannot hold together); fix their ranges"
        )
    if ruleset.unreachable:
        out.append(
            f"{where}: unreachable segment rule(s) {', '.join(repr(n) for n in ruleset.unreachable)}: "
            "every cell they match is taken by an earlier rule; reorder or narrow the earlier rules"
        )
    if ruleset.fallthrough:
        total = ruleset.bins**3
        sample = ", ".join("".join(map(str, c)) for c in ruleset.fallthrough[:8])
        more = "" if len(ruleset.fallthrough) <= 8 else ", ..."
        when = f" for some customers (metric bounds: {', '.join(map(str, ruleset.conditions))})" if (
            ruleset.conditions) else ""
        out.append(
            f'{where}: {len(ruleset.fallthrough)} of {total} R-F-M cells match no rule{when} and go to '
            f'"{ruleset.other.name}" (cells {sample}{more})'
        )
    return out
