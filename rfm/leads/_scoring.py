"""Lead scoring: fit and engagement scores, grades, tiers, stages and explanations.

The flow, lazy until the last step:

1. :func:`prepare` opens leads and events, checks the grid against their
   columns, checks the data (duplicate ids, timestamps, numbers for ranges) and
   profiles the event types once (unknown types are warned about with the
   closest known names);
2. :func:`scored_frame` builds one lazy query per as-of date: events up to the
   date are summed per lead (one ``group_by``), joined to the leads, and the
   rules of :mod:`rfm.leads._rules` turn the sums into points;
3. :func:`score_leads` / :func:`lead_history` collect it, sorted by lead id.

Events after ``as_of`` never reach step 2's aggregation, so they cannot change
a score.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from rfm._files import write_frame
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.inputs import (
    InputFrame,
    aliases,
    check_dates,
    did_you_mean,
    first_bad,
    local_date,
    numeric,
    parse_date,
    present,
    read_frame,
)
from rfm.leads import _rules as R
from rfm.leads._grid import LeadGrid, load_grid

PASSTHROUGH = ("customer_id", "email", "company", "domain")
SCORE_COLUMNS = (
    "fit_score", "engagement_score", "fit_grade", "engagement_level", "priority", "tier", "stage", "explanation",
)
OUTPUT_COLUMNS = ("lead_id", *PASSTHROUGH, *SCORE_COLUMNS, "as_of")
#: polars engine for the passes over the events: streaming keeps memory flat on large inputs.
ENGINE = "streaming"


@dataclass
class Prepared:
    """Opened, checked inputs, ready to score as of any date."""

    grid: LeadGrid
    leads: InputFrame
    events: InputFrame
    type_map: dict[str, str]  # event type as spelled in the data -> grid event type (known ones only)
    leads_read: int
    events_read: int
    unknown_type_events: int
    first_date: date | None
    last_date: date | None
    coverage: pl.DataFrame
    warnings: list[str] = field(default_factory=list)

    @property
    def has_detail(self) -> bool:
        return self.events.mapping.get("detail") is not None

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, RfmWarning, stacklevel=3)


def _check_fields(grid: LeadGrid, leads: InputFrame, events: InputFrame) -> None:
    """Every criterion field exists: a role (``industry``), the input's name of a mapped role, or another column."""
    roles = aliases("leads").roles
    raw_to_role = {col: role for role, col in leads.mapping.items() if col is not None and col != role}
    fields = list(leads.schema.names())
    for crit in grid.fit.criteria:
        if crit.field in roles and leads.mapping.get(crit.field) is None:
            raise ConfigError(
                f'{grid.source}: fit criterion "{crit.name}" tests field "{crit.field}" but {leads.label} has no '
                f"{crit.field} column (fields: {', '.join(fields)}); "
                f"set columns.leads.{crit.field} or drop the criterion"
            )
        if crit.field in raw_to_role and crit.field not in leads.schema:
            leads.frame = leads.frame.with_columns(pl.col(raw_to_role[crit.field]).alias(crit.field))
            leads.schema = leads.frame.collect_schema()
        if crit.field not in leads.schema:
            raise ConfigError(
                f'{grid.source}: fit criterion "{crit.name}" tests field "{crit.field}" but {leads.label} has no such '
                f"column{did_you_mean(crit.field, fields + list(raw_to_role))} (fields: {', '.join(fields)})"
            )
    if events.mapping.get("detail") is None:
        for rule in grid.engagement.rules:
            if rule.detail_contains is not None or rule.detail_regex is not None:
                raise ConfigError(
                    f'{grid.source}: engagement rule "{rule.name}" tests the event detail but {events.label} has no '
                    "detail column (page URL, content name); set columns.events.detail or drop "
                    "detail_contains/detail_regex"
                )


def _same_id_type(leads: InputFrame, events: InputFrame) -> None:
    if leads.schema["lead_id"] != events.schema["lead_id"]:
        for t in (leads, events):
            t.frame = t.frame.with_columns(pl.col("lead_id").cast(pl.String))
            t.schema = t.frame.collect_schema()


def _check_leads(grid: LeadGrid, leads: InputFrame) -> tuple[int, pl.DataFrame]:
    """Ids present and unique, dates and range fields readable; coverage of each criterion."""
    s, tz, fmt = leads.schema, grid.timestamps.timezone, grid.timestamps.format
    range_fields = sorted({c.field for c in grid.fit.criteria if c.op == "range" and not s[c.field].is_numeric()})
    exprs = [
        pl.len().alias("n"),
        (~present("lead_id", s["lead_id"])).sum().alias("null_ids"),
        pl.col("lead_id").n_unique().alias("unique_ids"),
    ]
    for f in range_fields:
        exprs.append((present(f, s[f]) & numeric(f, s[f]).is_null()).sum().alias(f"__bad_{f}"))
    for crit in grid.fit.criteria:
        exprs.append(R.criterion_match(crit, s[crit.field]).mean().alias(f"__m_{crit.name}"))
    for f in grid.fit_fields():
        exprs.append(present(f, s[f]).mean().alias(f"__f_{f}"))
    row = leads.frame.select(exprs).collect().row(0, named=True)
    n = int(row["n"])
    if n == 0:
        raise InputError(f"{leads.label}: no leads (the input has a header but no rows); export the leads again")
    if row["null_ids"]:
        count, idx, _ = first_bad(leads, "lead_id", ~present("lead_id", s["lead_id"]))
        raise InputError(
            f'{leads.label}: column "{leads.column("lead_id")}" is empty on {count:,} row(s) '
            f"(first: {leads.where(idx)}); every lead needs an id — fill or drop those rows"
        )
    if row["unique_ids"] != n:
        dups = (
            leads.frame.group_by("lead_id").agg(pl.len().alias("rows")).filter(pl.col("rows") > 1)
            .sort("lead_id").collect()
        )
        first = dups.row(0, named=True)
        raise InputError(
            f'{leads.label}: column "{leads.column("lead_id")}" has {dups.height:,} duplicated lead id(s) '
            f'(first: "{first["lead_id"]}" on {first["rows"]} rows); each lead must appear once — merge or remove '
            "the duplicates"
        )
    for f in range_fields:
        if row[f"__bad_{f}"]:
            count, idx, value = first_bad(leads, f, present(f, s[f]) & numeric(f, s[f]).is_null())
            names = ", ".join(c.name for c in grid.fit.criteria if c.op == "range" and c.field == f)
            raise InputError(
                f'{leads.label}: column "{leads.column(f)}" has {count:,} non-numeric value(s) (first: "{value}" on '
                f"{leads.where(idx)}) but range criteria ({names}) need numbers; "
                "clean the column or use op in on its text"
            )
    if leads.mapping.get("created_date") is not None:
        check_dates(leads, "created_date", tz, fmt, required=False)
    coverage = pl.DataFrame(
        {
            "criterion": [c.name for c in grid.fit.criteria],
            "field": [c.field for c in grid.fit.criteria],
            "filled_share": [float(row[f"__f_{c.field}"] or 0.0) for c in grid.fit.criteria],
            "match_share": [float(row[f"__m_{c.name}"] or 0.0) for c in grid.fit.criteria],
        },
        schema={"criterion": pl.String, "field": pl.String, "filled_share": pl.Float64, "match_share": pl.Float64},
    )
    return n, coverage


def _profile_events(prep_grid: LeadGrid, events: InputFrame) -> pl.DataFrame:
    """One pass over the events: per raw type, count, unreadable/empty timestamps, date range."""
    s, tz, fmt = events.schema, prep_grid.timestamps.timezone, prep_grid.timestamps.format
    dtype = s["timestamp"]
    if not (dtype in (pl.String, pl.Date) or isinstance(dtype, pl.Datetime)):
        check_dates(events, "timestamp", tz, fmt, required=True)
    given = present("timestamp", dtype)
    parsed = local_date("timestamp", dtype, tz, fmt)
    prof = (
        events.frame.group_by(pl.col("event_type").cast(pl.String).alias("raw"))
        .agg(
            pl.len().alias("n"),
            (given & parsed.is_null()).sum().alias("bad"),
            (~given).sum().alias("empty"),
            parsed.min().alias("first"),
            parsed.max().alias("last"),
        )
        .sort("raw", nulls_last=True)
        .collect(engine=ENGINE)
    )
    bad, empty = int(prof["bad"].sum() or 0), int(prof["empty"].sum() or 0)
    if bad or empty:
        check_dates(events, "timestamp", tz, fmt, required=True, bad=bad, empty=empty)
    return prof


def prepare(leads: Any, events: Any, grid: LeadGrid | str | Path | dict[str, Any] | None) -> Prepared:
    """Open and check leads and events against ``grid`` (see module docs)."""
    g = load_grid(grid)
    lt = read_frame(leads, "leads", g.columns.leads.model_dump(), g.source)
    et = read_frame(events, "events", g.columns.events.model_dump(), g.source)
    _check_fields(g, lt, et)
    _same_id_type(lt, et)
    n_leads, coverage = _check_leads(g, lt)
    prof = _profile_events(g, et)
    codes = {name: i for i, name in enumerate(g.event_types)}
    type_map: dict[str, str] = {}
    unknown: list[tuple[str, int]] = []
    for raw, n in zip(prof["raw"].to_list(), prof["n"].to_list()):
        if raw is not None and raw.strip().lower() in codes:
            type_map[raw] = raw.strip().lower()
        else:
            unknown.append(("(empty)" if raw is None else raw, int(n)))
    first, last = prof["first"].min(), prof["last"].max()
    prep = Prepared(
        grid=g, leads=lt, events=et, type_map=type_map, leads_read=n_leads, events_read=int(prof["n"].sum() or 0),
        unknown_type_events=sum(n for _, n in unknown), first_date=first, last_date=last,  # type: ignore[arg-type]
        coverage=coverage,
    )
    if unknown:
        unknown.sort(key=lambda item: (-item[1], item[0]))
        shown = ", ".join(
            f'"{raw}" ({n:,}{did_you_mean(raw.strip().lower(), list(codes))})' for raw, n in unknown[:5]
        )
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        prep.warn(
            f"{et.label}: {prep.unknown_type_events:,} event(s) have event types the grid does not know: "
            f"{shown}{more}; they are ignored — add them to event_types in {g.source} or fix the names"
        )
    checks = g.checks
    for rec in coverage.iter_rows(named=True):
        crit = next(c for c in g.fit.criteria if c.name == rec["criterion"])
        sparse = rec["match_share"] < checks.sparse_match_share and rec["filled_share"] < checks.sparse_fill_share
        if crit.op != "missing" and sparse:
            prep.warn(
                f'{g.source}: fit criterion "{crit.name}" matches {rec["match_share"]:.1%} of leads because field '
                f'"{crit.field}" is empty for {1 - rec["filled_share"]:.1%} of them in {lt.label}; '
                "collect the field or drop the criterion"
            )
    return prep


def resolve_as_of(prep: Prepared, as_of: date | str | None) -> date:
    """``as_of`` (inclusive: events on that day count); default: the day after the latest event."""
    if as_of is not None:
        return parse_date(as_of)
    if prep.last_date is None:
        raise InputError(f"{prep.events.label}: no events, so there is no default as_of; pass --as-of YYYY-MM-DD")
    return prep.last_date + timedelta(days=1)


def _events(prep: Prepared, as_of: date) -> pl.LazyFrame:
    g, et = prep.grid, prep.events
    cols = [
        pl.col("lead_id"),
        # An Enum of the known spellings: unknown ones become null (a streaming cast, unlike replace_strict).
        pl.col("event_type").cast(pl.String).cast(pl.Enum(list(prep.type_map) or [""]), strict=False).to_physical()
        .alias("__code"),
        local_date("timestamp", et.schema["timestamp"], g.timestamps.timezone, g.timestamps.format).alias("__date"),
    ]
    if prep.has_detail:
        cols.append(pl.col("detail"))
    return et.frame.select(cols)


def created_dates(prep: Prepared) -> pl.DataFrame | None:
    """lead_id and ``__created`` (the local creation date) when the leads have a creation date column."""
    g, lt = prep.grid, prep.leads
    if lt.mapping.get("created_date") is None:
        return None
    day = local_date("created_date", lt.schema["created_date"], g.timestamps.timezone, g.timestamps.format)
    return lt.frame.select("lead_id", day.alias("__created")).collect(engine=ENGINE)


def scored_frame(prep: Prepared, as_of: date, *, keep_contributions: bool = False) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The lazy scored table as of ``as_of`` and a lazy per-lead event count (for unknown-lead reports)."""
    g, lt = prep.grid, prep.leads
    codes: dict[str, list[int]] = {}
    for i, kind in enumerate(prep.type_map.values()):
        codes.setdefault(kind, []).append(i)
    ev = (
        _events(prep, as_of)
        .filter(pl.col("__date") <= as_of)
        .with_columns((pl.lit(as_of) - pl.col("__date")).dt.total_days().cast(pl.Int32).alias("__age"))
    )
    rows, aggs = R.event_aggregations(g, codes, prep.has_detail)
    agg = ev.with_columns(R.weight_columns(g)).select("lead_id", *rows).group_by("lead_id").agg(aggs)
    created = (
        local_date("created_date", lt.schema["created_date"], g.timestamps.timezone, g.timestamps.format)
        if lt.mapping.get("created_date") is not None else pl.lit(None, dtype=pl.Date)
    )
    keep = [R.CONTRIB + r.name for r in [*g.fit.criteria, *g.engagement.rules]] if keep_contributions else []
    passthrough = [
        (pl.col(c).cast(pl.String) if lt.mapping.get(c) is not None else pl.lit(None, dtype=pl.String)).alias(c)
        for c in PASSTHROUGH
    ]
    frame = (
        lt.frame.with_columns(created.alias("__created"))
        .filter(pl.col("__created").is_null() | (pl.col("__created") <= as_of))
        .join(agg, on="lead_id", how="left", validate="1:1")
        .with_columns(R.aggregation_defaults(g))
        .with_columns(R.contributions(g, lt.schema, as_of))
        .with_columns(R.scores(g))
        .with_columns(pl.col("__fit").round(2).alias("fit_score"), pl.col("__eng").round(2).alias("engagement_score"))
        .with_columns(R.classes(g))
        .with_columns(R.priority_and_tier(g))
        .with_columns(R.stage(g), pl.lit(as_of).alias("as_of"), *passthrough)
    )
    for step in R.explanation_steps(g):
        frame = frame.with_columns(step)
    model = []
    if g.conversion_model is not None:  # a logistic scorecard: its points are log-odds
        m = g.conversion_model
        log_odds = m.intercept + math.log(2) * (pl.col("__fit") + pl.col("__eng")) / m.pdo
        frame = frame.with_columns((1 / (1 + (-log_odds).exp())).alias("conversion_probability"))
        model = ["conversion_probability"]
    table = frame.select(*OUTPUT_COLUMNS, *model, *keep).sort("lead_id")
    counts = agg.select("lead_id", "__n_events")
    return table, counts


@dataclass
class LeadStats:
    leads_source: str
    events_source: str
    leads_read: int
    leads_scored: int
    created_after_as_of: int
    events_read: int
    events_after_as_of: int
    unknown_type_events: int
    unknown_lead_events: int
    unknown_lead_ids: int
    seconds: float = 0.0

    def summary(self) -> str:
        ignored = []
        if self.events_after_as_of:
            ignored.append(f"{self.events_after_as_of:,} after as_of")
        if self.unknown_type_events:
            ignored.append(f"{self.unknown_type_events:,} of unknown types")
        if self.unknown_lead_events:
            ignored.append(f"{self.unknown_lead_events:,} of unknown leads")
        text = (
            f"{self.leads_source}: scored {self.leads_scored:,} of {self.leads_read:,} leads"
            + (f" ({self.created_after_as_of:,} created after as_of)" if self.created_after_as_of else "")
            + f" from {self.events_read:,} events; ignored events: {', '.join(ignored) if ignored else 'none'}"
        )
        return text + f" ({self.seconds:.1f} s)"


@dataclass
class LeadScores:
    """One row per lead (see docs/leads.md, "Lead output columns"), plus how it was made."""

    table: pl.DataFrame
    as_of: date
    grid: LeadGrid
    stats: LeadStats
    coverage: pl.DataFrame  # criterion, field, filled_share, match_share
    warnings: list[str]

    def write(self, path: str | Path) -> Path:
        """Write the table to .parquet or .csv, atomically."""
        return write_frame(self.table, path)


def _unknown_leads(prep: Prepared, counts: pl.DataFrame) -> tuple[int, int]:
    if counts.height == 0:
        return 0, 0
    events = int(counts["__n_events"].sum())
    first = counts.sort("lead_id")["lead_id"][0]
    prep.warn(
        f'{prep.events.label}: {events:,} event(s) of {counts.height:,} lead id(s) not in {prep.leads.label} '
        f'(first: "{first}"); they are ignored — check that both files come from the same export'
    )
    return events, counts.height


def score_leads(
    leads: Any,
    events: Any,
    grid: LeadGrid | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    contributions: bool = False,
) -> LeadScores:
    """Score every lead as of ``as_of`` (inclusive; default the day after the latest event).

    ``contributions=True`` adds one ``points_<rule>`` column per rule (after per-rule caps, before
    group and overall caps), so every score can be traced rule by rule.
    """
    started = time.perf_counter()
    prep = prepare(leads, events, grid)
    day = resolve_as_of(prep, as_of)
    table, counts = scored_frame(prep, day, keep_contributions=contributions)
    if contributions:
        table = table.rename(lambda c: "points_" + c.removeprefix(R.CONTRIB) if c.startswith(R.CONTRIB) else c)
    unknown = counts.join(prep.leads.frame.select("lead_id"), on="lead_id", how="anti")
    after = _events(prep, day).select((pl.col("__date") > day).sum().alias("n"))
    result, unknown_df, after_df = pl.collect_all([table, unknown, after], engine=ENGINE)
    unknown_events, unknown_ids = _unknown_leads(prep, unknown_df)
    stats = LeadStats(
        leads_source=prep.leads.label, events_source=prep.events.label, leads_read=prep.leads_read,
        leads_scored=result.height, created_after_as_of=prep.leads_read - result.height,
        events_read=prep.events_read, events_after_as_of=int(after_df["n"][0] or 0),
        unknown_type_events=prep.unknown_type_events, unknown_lead_events=unknown_events,
        unknown_lead_ids=unknown_ids, seconds=time.perf_counter() - started,
    )
    return LeadScores(result, day, prep.grid, stats, prep.coverage, prep.warnings)


def history_dates(start: date | str, end: date | str, every_days: int = 7) -> list[date]:
    """``start``, ``start + every``, ... up to ``end`` (inclusive)."""
    first, last = parse_date(start, "start"), parse_date(end, "end")
    if every_days < 1:
        raise InputError(f"every: {every_days} days is not a step; use a whole number of days >= 1, e.g. 7")
    if last < first:
        raise InputError(f"history: end {last} is before start {first}; swap them")
    days = (last - first).days // every_days + 1
    if days > 520:
        raise InputError(f"history: {days} dates from {first} to {last}; use a larger step (at most 520 dates)")
    return [first + timedelta(days=i * every_days) for i in range(days)]


HISTORY_COLUMNS = ("lead_id", "as_of", "fit_score", "engagement_score", "fit_grade", "engagement_level",
                   "priority", "tier", "stage")


def lead_history(
    leads: Any,
    events: Any,
    grid: LeadGrid | str | Path | dict[str, Any] | None,
    dates: list[date | str],
) -> pl.DataFrame:
    """Scores at each date (e.g. weekly): one row per lead and date, sorted by lead id then date.

    Fit uses the profile as it is now (the leads table has no history); a lead
    appears from its created date on.
    """
    return history_table(prepare(leads, events, grid), dates)


def history_window(
    leads: Any,
    events: Any,
    grid: LeadGrid | str | Path | dict[str, Any] | None,
    *,
    start: date | str | None = None,
    end: date | str | None = None,
    every_days: int = 7,
) -> tuple[pl.DataFrame, list[date]]:
    """:func:`lead_history` every ``every_days`` from ``start`` to ``end``; the table and its dates.

    Default ``end``: the day after the last event; default ``start``: 12 weeks before ``end``."""
    prep = prepare(leads, events, grid)
    last = resolve_as_of(prep, None) if end is None else parse_date(end, "--end")
    first = parse_date(start, "--start") if start else last - timedelta(weeks=12)
    dates = history_dates(first, last, every_days)
    return history_table(prep, dates), dates


def history_table(prep: Prepared, dates: list[date | str]) -> pl.DataFrame:
    """:func:`lead_history` on prepared inputs (one lazy query per date, collected together)."""
    if not dates:
        raise InputError("history: no dates given; pass at least one as-of date")
    days = sorted({parse_date(d, "history date") for d in dates})
    frames = [scored_frame(prep, day)[0].select(HISTORY_COLUMNS) for day in days]
    return pl.concat(frames).sort("lead_id", "as_of").collect(engine=ENGINE)
