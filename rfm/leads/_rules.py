"""Grid rules as polars expressions.

Python loops over the *rules* of a grid to build expressions; polars runs them
over the rows.  Nothing here reads data or evaluates text from it (regexes come
from the grid).

Per event, three columns are prepared: ``__code`` (the index of the event's
type as spelled in the data, among the spellings the grid knows), ``__age``
(whole days from the event's local date to ``as_of``: 0 on the as-of day)
and, when the events have one, ``detail``.
:func:`event_aggregations` sums them per lead; :func:`contributions` turns the
sums into points per rule; the rest caps, grades, tiers, stages and explains.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from rfm.leads._grid import STAGES, EngagementRule, FitCriterion, LeadGrid

#: Internal column prefixes (never collide with a user's columns in practice).
CONTRIB = "__c_"
AGG = "__a_"
STAGE = "__s_"


def criterion_match(crit: FitCriterion, dtype: pl.DataType) -> pl.Expr:
    """Boolean (never null): does a lead meet ``crit``?

    Text is compared trimmed and ignoring case (``equals``, ``in``,
    ``contains``); ``regex`` runs on the text as given; ``range`` is inclusive
    and reads text as numbers; ``missing`` means null or blank.
    """
    c = pl.col(crit.field)
    is_text = dtype == pl.String or not (dtype.is_numeric() or dtype == pl.Boolean)
    text = c.cast(pl.String).str.strip_chars().str.to_lowercase()

    def same(value: object) -> pl.Expr:
        if not is_text and isinstance(value, (int, float)) and not isinstance(value, bool) and dtype.is_numeric():
            return c == value
        if dtype == pl.Boolean and isinstance(value, bool):
            return c == value
        return text == str(value).strip().lower()

    op, v = crit.op, crit.value
    if op == "equals":
        expr = same(v)
    elif op == "in":
        assert isinstance(v, list)
        expr = pl.any_horizontal([same(x) for x in v])
    elif op == "contains":
        expr = text.str.contains(str(v).strip().lower(), literal=True)
    elif op == "regex":
        expr = c.cast(pl.String).str.contains(str(v))
    elif op == "range":
        assert isinstance(v, list)
        num = c.cast(pl.Float64) if dtype.is_numeric() else text.cast(pl.Float64, strict=False)
        lo, hi = v
        expr = pl.lit(True)
        if lo is not None:
            expr = expr & (num >= float(lo))
        if hi is not None:
            expr = expr & (num <= float(hi))
    else:  # missing
        blank = c.is_null() | (text == "") if is_text else c.is_null()
        expr = blank if v else ~blank
    return expr.fill_null(False)


def weight_columns(grid: LeadGrid) -> list[pl.Expr]:
    """``__w_<group>``: the decay weight of each event, 0.5 ** (age / half-life), once per decaying group."""
    return [
        pl.lit(0.5).pow(pl.col("__age").cast(pl.Float64) / group.half_life_days).alias(f"__w_{name}")
        for name, group in grid.engagement.groups.items()
        if group.half_life_days is not None
    ]


def group_weight(grid: LeadGrid, rule: EngagementRule) -> pl.Expr | None:
    """Decay weight of an event for ``rule``'s group; ``None`` means weight 1."""
    group = grid.engagement.groups.get(rule.group) if rule.group else None
    if group is None or group.half_life_days is None:
        return None
    return pl.col(f"__w_{rule.group}")


def type_match(codes: dict[str, list[int]], events: list[str]) -> pl.Expr:
    """``__code`` is one of the spellings of ``events`` found in the data (see :func:`rfm.leads._scoring.prepare`)."""
    wanted = sorted(c for e in events for c in codes.get(e.strip().lower(), []))
    if not wanted:
        return pl.lit(False)
    return pl.col("__code").is_in(wanted) if len(wanted) > 1 else pl.col("__code") == wanted[0]


def rule_match(grid: LeadGrid, rule: EngagementRule, codes: dict[str, list[int]], has_detail: bool) -> pl.Expr:
    """Boolean per event: type, detail and window of ``rule`` (and its group's window)."""
    expr = type_match(codes, rule.events)
    group = grid.engagement.groups.get(rule.group) if rule.group else None
    for window in (rule.window_days, group.window_days if group else None):
        if window is not None:
            expr = expr & (pl.col("__age") < window)
    if has_detail and rule.detail_contains is not None:
        expr = expr & pl.col("detail").cast(pl.String).str.contains("(?i)" + pl.escape_regex(rule.detail_contains))
    if has_detail and rule.detail_regex is not None:
        expr = expr & pl.col("detail").cast(pl.String).str.contains(rule.detail_regex)
    return expr.fill_null(False)


def event_aggregations(
    grid: LeadGrid, codes: dict[str, list[int]], has_detail: bool
) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """Per-event values (after :func:`weight_columns`) and their per-lead aggregations.

    One column per engagement rule and per stage event condition:
    ``each`` / every N: the (decayed) number of matching events;
    ``first``: the weight of the most recent matching event (1 without decay);
    ``absent``: whether any matching event happened in the window.
    Values are computed per event first, so the aggregations are plain sums,
    maxima and any() that polars runs on its fast path.
    """
    rows: list[pl.Expr] = []
    aggs = [pl.len().alias("__n_events")]
    for rule in grid.engagement.rules:
        name = AGG + rule.name
        match = rule_match(grid, rule, codes, has_detail)
        weight = group_weight(grid, rule)
        if rule.absent or (rule.count == "first" and weight is None):
            # any() is much cheaper than max() in a group-by with a million groups.
            rows.append(match.alias(name))
            aggs.append(pl.col(name).any())
            continue
        value = match.cast(pl.Float64) if weight is None else pl.when(match).then(weight).otherwise(0.0)
        rows.append(value.alias(name))
        aggs.append(pl.col(name).max() if rule.count == "first" else pl.col(name).sum())
    for stage in STAGES[1:]:
        cond = getattr(grid.stages, stage)
        if cond is not None and cond.events:
            expr = type_match(codes, cond.events)
            if cond.within_days is not None:
                expr = expr & (pl.col("__age") < cond.within_days)
            rows.append(expr.fill_null(False).alias(STAGE + stage))
            aggs.append(pl.col(STAGE + stage).any())
    return rows, aggs


def aggregation_defaults(grid: LeadGrid) -> list[pl.Expr]:
    """Values for leads without events (after the left join)."""
    out = [pl.col("__n_events").fill_null(0)]
    for rule in grid.engagement.rules:
        boolean = rule.absent or (rule.count == "first" and group_weight(grid, rule) is None)
        out.append(pl.col(AGG + rule.name).fill_null(False if boolean else 0.0))
    for stage in STAGES[1:]:
        cond = getattr(grid.stages, stage)
        if cond is not None and cond.events:
            out.append(pl.col(STAGE + stage).fill_null(False))
    return out


def _capped(expr: pl.Expr, cap: float | None) -> pl.Expr:
    return expr if cap is None else expr.clip(-cap, cap)


def contributions(grid: LeadGrid, schema: pl.Schema, as_of: date) -> list[pl.Expr]:
    """Points per rule per lead, after per-rule caps (``__c_<name>``)."""
    out = []
    for crit in grid.fit.criteria:
        hit = criterion_match(crit, schema[crit.field])
        out.append(pl.when(hit).then(pl.lit(float(crit.points))).otherwise(0.0).alias(CONTRIB + crit.name))
    for rule in grid.engagement.rules:
        value = pl.col(AGG + rule.name)
        if rule.absent:
            # Only leads that existed for the whole window can be "absent" from it.
            age = (pl.lit(as_of) - pl.col("__created")).dt.total_days()
            existed = pl.col("__created").is_null() | (age >= rule.window_days - 1)
            pts = pl.when(~value & existed).then(pl.lit(float(rule.points))).otherwise(0.0)
        elif rule.every is not None:
            pts = (value / rule.every + 1e-9).floor() * rule.points
        else:
            pts = value.cast(pl.Float64) * rule.points
        out.append(_capped(pts, rule.cap).alias(CONTRIB + rule.name))
    return out


def _bounded(expr: pl.Expr, floor: float | None, cap: float | None) -> pl.Expr:
    if floor is None and cap is None:
        return expr
    return expr.clip(floor, cap)


def _score(rules: list, groups: dict, floor: float | None, cap: float | None) -> pl.Expr:
    parts = []
    for name, bounds in groups.items():
        members = [pl.col(CONTRIB + r.name) for r in rules if r.group == name]
        if members:
            parts.append(_bounded(pl.sum_horizontal(members), bounds.floor, bounds.cap))
    parts += [pl.col(CONTRIB + r.name) for r in rules if r.group is None]
    total = pl.sum_horizontal(parts) if parts else pl.lit(0.0)
    return _bounded(total, floor, cap)


def scores(grid: LeadGrid) -> list[pl.Expr]:
    """``__fit`` and ``__eng``: group caps, then the overall cap; unrounded."""
    fit, eng = grid.fit, grid.engagement
    return [
        _score(fit.criteria, fit.groups, fit.floor, fit.cap).cast(pl.Float64).alias("__fit"),
        _score(eng.rules, eng.groups, eng.floor, eng.cap).cast(pl.Float64).alias("__eng"),
    ]


def classes(grid: LeadGrid) -> list[pl.Expr]:
    """fit_grade, engagement_level, priority and tier from the rounded scores."""
    c, b, a = grid.grades.fit
    e3, e2, e1 = grid.grades.engagement
    fit, eng = pl.col("fit_score"), pl.col("engagement_score")
    grade = pl.when(fit >= a).then(pl.lit("A")).when(fit >= b).then(pl.lit("B")).when(fit >= c).then(pl.lit("C"))
    level = pl.when(eng >= e1).then(1).when(eng >= e2).then(2).when(eng >= e3).then(3)
    return [
        grade.otherwise(pl.lit("D")).alias("fit_grade"),
        level.otherwise(4).cast(pl.Int32).alias("engagement_level"),
    ]


def priority_and_tier(grid: LeadGrid) -> list[pl.Expr]:
    cell = pl.col("fit_grade") + pl.col("engagement_level").cast(pl.String)
    tier = (
        pl.when(cell.is_in(grid.tiers.hot)).then(pl.lit("hot"))
        .when(cell.is_in(grid.tiers.warm)).then(pl.lit("warm"))
        .otherwise(pl.lit("cold"))
    )
    return [cell.alias("priority"), tier.alias("tier")]


def stage(grid: LeadGrid) -> pl.Expr:
    """The furthest lifecycle stage whose conditions hold (and, by default, the previous stage's)."""
    reached: dict[str, pl.Expr] = {"contact": pl.lit(True)}
    for prev, name in zip(STAGES, STAGES[1:]):
        cond = getattr(grid.stages, name)
        if cond is None:
            reached[name] = pl.lit(False)
            continue
        parts: list[pl.Expr] = []
        if cond.tiers is not None:
            parts.append(pl.col("tier").is_in(cond.tiers))
        if cond.cells is not None:
            parts.append(pl.col("priority").is_in(cond.cells))
        if cond.min_fit_score is not None:
            parts.append(pl.col("fit_score") >= cond.min_fit_score)
        if cond.min_engagement_score is not None:
            parts.append(pl.col("engagement_score") >= cond.min_engagement_score)
        if cond.events:
            parts.append(pl.col(STAGE + name))
        if cond.requires_previous:
            parts.append(reached[prev])
        reached[name] = pl.all_horizontal(parts)
    expr = pl.when(reached["opportunity"]).then(pl.lit("opportunity"))
    expr = expr.when(reached["sales_qualified"]).then(pl.lit("sales_qualified"))
    expr = expr.when(reached["marketing_qualified"]).then(pl.lit("marketing_qualified"))
    return expr.otherwise(pl.lit("contact")).alias("stage")


def _fmt(points: pl.Expr) -> pl.Expr:
    """``+30``, ``-2``, ``+7.25``: sign always, decimals only when needed."""
    p = points.round(2)
    whole = p == p.round(0)
    body = pl.when(whole).then(p.cast(pl.Int64).cast(pl.String)).otherwise(p.cast(pl.String))
    return pl.when(p > 0).then(pl.lit("+") + body).otherwise(body)


def explanation_steps(grid: LeadGrid) -> list[list[pl.Expr]]:
    """Column steps ending in ``explanation``: the top ``explain_top`` rules by size of points
    (ties: grid order), then any cap cuts, e.g.
    ``demo_request +30; pricing_page +10; competitor -20; engagement cap -5``.

    Each rule's points become one integer sort key per lead, ``(cents * slots + rank) * 2 + negative``
    (rank: grid order reversed, so earlier rules win ties); keys are unique per lead, so the top k are
    k rounds of "largest key below the previous one", decoded back to rule and points.  No per-row lists.
    """
    rules = [*grid.fit.criteria, *grid.engagement.rules]
    slots = 1 << max(1, len(rules)).bit_length()  # > number of rules
    keys = []
    for i, r in enumerate(rules):
        pts = pl.col(CONTRIB + r.name).round(2)
        cents = (pts.abs() * 100).round(0).cast(pl.Int64)
        key = (cents * slots + (slots - 1 - i)) * 2 + (pts < 0).cast(pl.Int64)
        keys.append(pl.when(cents > 0).then(key))
    steps: list[list[pl.Expr]] = []
    for k in range(min(grid.explain_top, len(rules))):
        below = keys if k == 0 else [pl.when(key < pl.col(f"__x{k - 1}")).then(key) for key in keys]
        steps.append([pl.max_horizontal(below).alias(f"__x{k}")])
    names = {slots - 1 - i: r.name for i, r in enumerate(rules)}
    parts = []
    for k in range(min(grid.explain_top, len(rules))):
        key = pl.col(f"__x{k}")
        rank = (key // 2) % slots
        value = (key // (2 * slots)).cast(pl.Float64) / 100 * pl.when(key % 2 == 1).then(-1.0).otherwise(1.0)
        name = rank.replace_strict(names, default=None, return_dtype=pl.String)
        parts.append(name + pl.lit(" ") + _fmt(value))
    caps = (("fit cap", "__fit", grid.fit.criteria), ("engagement cap", "__eng", grid.engagement.rules))
    for label, score, members in caps:
        raw = pl.sum_horizontal([pl.col(CONTRIB + r.name) for r in members]) if members else pl.lit(0.0)
        cut = (pl.col(score) - raw).round(2)
        parts.append(pl.when(cut != 0).then(pl.lit(label + " ") + _fmt(cut)))
    text = pl.concat_str(parts, separator="; ", ignore_nulls=True)
    steps.append([pl.when(text == "").then(pl.lit("none")).otherwise(text).alias("explanation")])
    return steps
