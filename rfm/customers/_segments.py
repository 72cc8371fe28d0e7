"""Named segments: ordered rules over the R/F/M score grid, first match wins.

A rule set is data (``rfm/presets/segments/*.yaml``).  Resolving it checks the
whole grid of score cells: rules that never win a cell (shadowed by earlier
rules) and cells that fall through to the catch-all segment are reported.  The
resolved grid is a small lookup table (one row per R, F, M cell); the SQL
reads each customer's segment and action from it, never a CASE built from config.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator

from rfm.errors import ConfigError, RfmWarning
from rfm.inputs import PRESETS, StrictModel, did_you_mean, load_model

SEGMENT_PRESETS = PRESETS / "segments"

#: Scores a rule may test.  ``fm`` is the mean of F and M (may be x.5).
SCORES = ("r", "f", "m", "fm")

Bound = float | list[float]


class SegmentRule(StrictModel):
    """``name``, ``action`` and inclusive score ranges, e.g. ``r: [4, 5]`` or ``f: 1``."""

    name: str = Field(min_length=1)
    action: str
    r: Bound | None = None
    f: Bound | None = None
    m: Bound | None = None
    fm: Bound | None = None
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _known_scores(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = set(SCORES) | {"name", "action", "description"}
            for key in data:
                if key not in allowed:
                    # "freq", "recency", "monetary_score" ... point at their one-letter score
                    hint = did_you_mean(key, SCORES) or (f'; did you mean "{key[0]}"?' if key[:1] in "rfm" else "")
                    raise ValueError(
                        f'segment rule "{data.get("name", "?")}" references unknown score "{key}"'
                        f"{hint} (scores: r, f, m, fm = mean of f and m)"
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

    def matches(self, r: int, f: int, m: int) -> bool:
        values = {"r": r, "f": f, "m": m, "fm": (f + m) / 2}
        return all(lo <= values[s] <= hi for s in SCORES for lo, hi in [self.range(s)])


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
    grid: pl.DataFrame  # r_score, f_score, m_score, segment, action, segment_order
    unreachable: tuple[str, ...]  # rule names that win no cell
    fallthrough: tuple[tuple[int, int, int], ...]  # cells no rule matches
    empty: tuple[str, ...] = ()  # rule names that match no cell of the grid at all

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
    cells, winners = [], set()
    fallthrough = []
    for r, f, m in itertools.product(range(1, bins + 1), repeat=3):
        hit = next((i for i, rule in enumerate(rules) if rule.matches(r, f, m)), None)
        if hit is None:
            fallthrough.append((r, f, m))
            seg, act = other.name, other.action
        else:
            winners.add(hit)
            seg, act = rules[hit].name, rules[hit].action
        cells.append((r, f, m, seg, act, order[seg]))
    cells_all = list(itertools.product(range(1, bins + 1), repeat=3))
    empty = tuple(rule.name for rule in rules if not any(rule.matches(*c) for c in cells_all))
    unreachable = tuple(rule.name for i, rule in enumerate(rules) if i not in winners and rule.name not in empty)
    grid = pl.DataFrame(
        cells,
        schema={
            "r_score": pl.Int32,
            "f_score": pl.Int32,
            "m_score": pl.Int32,
            "segment": pl.String,
            "action": pl.String,
            "segment_order": pl.Int32,
        },
        orient="row",
    )
    ruleset = RuleSet(name, tuple(rules), other, bins, grid, unreachable, tuple(fallthrough), empty)
    if warn:
        for message in grid_warnings(ruleset, where):
            warnings.warn(message, RfmWarning, stacklevel=2)
    return ruleset


def grid_warnings(ruleset: RuleSet, where: str) -> list[str]:
    out = []
    if ruleset.empty:
        out.append(
            f"{where}: segment rule(s) {', '.join(repr(n) for n in ruleset.empty)} match no score cell at all "
            "(e.g. fm ranges that no pair of f and m scores reaches); fix their ranges"
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
        out.append(
            f'{where}: {len(ruleset.fallthrough)} of {total} R-F-M cells match no rule and go to '
            f'"{ruleset.other.name}" (cells {sample}{more})'
        )
    return out
