"""Check a grid against real conversions and suggest better points.

For every fit criterion and engagement rule, the leads it gives points to
(contribution not 0) are compared with all scored leads:

* ``conversion_rate`` of those leads and ``lift`` = rate / base rate;
* a two-proportion z-test against the leads it does not apply to; a rule that
  applies to fewer than ``min_leads`` leads or has |z| < 1.96 is flagged as
  having no predictive value and suggested 0 points;
* suggested points are proportional to lift: a rule whose leads convert at 6x
  the base rate earns 6x the points of one at 1x.  Rules whose leads convert
  *below* the base rate get negative points proportional to 1 / lift (lift is
  floored at 0.1).  Fit and engagement are scaled separately, so each keeps the
  total size of its current points (and its grade thresholds stay meaningful).

Leads that converted on or before ``as_of`` are left out (their events would
leak the outcome).  The AUC of the current and the suggested grid rank the
leads by fit + engagement; both are measured on the same leads the suggestion
was made from (in-sample), so the suggested AUC is optimistic.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rfm.errors import InputError
from rfm.inputs import boolean, check_dates, first_bad, local_date, present, read_frame
from rfm.leads import _rules as R
from rfm.leads._grid import CELLS, TIERS, LeadGrid
from rfm.leads._scoring import ENGINE, Prepared, prepare, resolve_as_of, scored_frame

Z_CRITICAL = 1.96
MIN_LIFT = 0.1
SUGGESTED_TAG = "[points suggested by rfm leads calibrate]"


@dataclass
class Calibration:
    """Conversion rates per rule and per cell/tier, suggested points and the AUC of both grids."""

    as_of: date
    leads: int
    conversions: int
    base_rate: float
    criteria: pl.DataFrame  # one row per rule
    cells: pl.DataFrame  # priority cell A1..D4
    tiers: pl.DataFrame  # hot / warm / cold
    auc: pl.DataFrame  # score, current, suggested
    suggested_grid: LeadGrid
    warnings: list[str] = field(default_factory=list)

    @property
    def auc_current(self) -> float:
        return float(self.auc.filter(pl.col("score") == "total")["current"][0])

    @property
    def auc_suggested(self) -> float:
        return float(self.auc.filter(pl.col("score") == "total")["suggested"][0])


def _outcomes(prep: Prepared, source: Any, as_of: date) -> tuple[pl.LazyFrame, list[str]]:
    """lead_id, converted (bool), converted_before (bool) per outcome row, checked."""
    g = prep.grid
    ot = read_frame(source, "outcomes", g.columns.outcomes.model_dump(), g.source)
    if ot.schema["lead_id"] != prep.leads.schema["lead_id"]:
        ot.frame = ot.frame.with_columns(pl.col("lead_id").cast(pl.String))
        ot.schema = ot.frame.collect_schema()
        prep.leads.frame = prep.leads.frame.with_columns(pl.col("lead_id").cast(pl.String))
        prep.leads.schema = prep.leads.frame.collect_schema()
        prep.events.frame = prep.events.frame.with_columns(pl.col("lead_id").cast(pl.String))
        prep.events.schema = prep.events.frame.collect_schema()
    dtype = ot.schema["converted"]
    conv = boolean("converted", dtype)
    n, idx, value = first_bad(ot, "converted", present("converted", dtype) & conv.is_null())
    if n:
        raise InputError(
            f'{ot.label}: column "{ot.column("converted")}" has {n:,} value(s) that are not yes/no (first: "{value}" '
            f"on {ot.where(idx)}); write true/false, 1/0 or yes/no"
        )
    n, idx, _ = first_bad(ot, "converted", ~present("converted", dtype))
    if n:
        raise InputError(
            f'{ot.label}: column "{ot.column("converted")}" is empty on {n:,} row(s) (first: {ot.where(idx)}); '
            "every outcome row needs converted true or false"
        )
    dups = ot.frame.group_by("lead_id").agg(pl.len().alias("rows")).filter(pl.col("rows") > 1).sort("lead_id").collect()
    if dups.height:
        raise InputError(
            f'{ot.label}: column "{ot.column("lead_id")}" has {dups.height:,} duplicated lead id(s) (first: '
            f'"{dups["lead_id"][0]}" on {dups["rows"][0]} rows); give one outcome per lead'
        )
    before = pl.lit(False)
    if ot.mapping.get("conversion_date") is not None:
        check_dates(ot, "conversion_date", g.timestamps.timezone, g.timestamps.format, required=False)
        day = local_date("conversion_date", ot.schema["conversion_date"], g.timestamps.timezone, g.timestamps.format)
        before = (conv & (day <= as_of)).fill_null(False)
    frame = ot.frame.select("lead_id", conv.alias("__converted"), before.alias("__before"))
    unknown = frame.join(prep.leads.frame.select("lead_id"), on="lead_id", how="anti").select(pl.len()).collect().item()
    notes = []
    if unknown:
        notes.append(f"{ot.label}: {unknown:,} outcome row(s) for lead ids not in {prep.leads.label}; they are ignored")
    return frame, notes


def _auc(score: pl.Expr, label: pl.Expr) -> pl.Expr:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    ranks = score.rank("average")
    n1 = label.sum()
    n0 = label.len() - n1
    return ((ranks.filter(label).sum() - n1 * (n1 + 1) / 2) / (n1 * n0)).cast(pl.Float64)


def _rate_table(frame: pl.DataFrame, by: str, values: tuple[str, ...], base: float) -> pl.DataFrame:
    counts = frame.group_by(by).agg(pl.len().alias("leads"), pl.col("__converted").sum().alias("conversions"))
    full = pl.DataFrame({by: list(values)}).join(counts, on=by, how="left").with_columns(
        pl.col("leads").fill_null(0).cast(pl.Int64), pl.col("conversions").fill_null(0).cast(pl.Int64)
    )
    rate = pl.when(pl.col("leads") > 0).then(pl.col("conversions") / pl.col("leads"))
    full = full.with_columns(rate.alias("conversion_rate"))
    return full.with_columns((pl.col("conversion_rate") / base).alias("lift"))


def _rule_stats(frame: pl.DataFrame, grid: LeadGrid, min_leads: int) -> pl.DataFrame:
    rules = [*grid.fit.criteria, *grid.engagement.rules]
    y = pl.col("__converted")
    exprs = []
    for r in rules:
        has = pl.col(R.CONTRIB + r.name) != 0
        exprs += [has.sum().alias(f"n|{r.name}"), (has & y).sum().alias(f"c|{r.name}")]
    row = frame.select(pl.len().alias("N"), y.sum().alias("C"), *exprs).row(0, named=True)
    total, conv = int(row["N"]), int(row["C"])
    base = conv / total
    out = []
    for i, r in enumerate(rules):
        n1, c1 = int(row[f"n|{r.name}"]), int(row[f"c|{r.name}"])
        n0, c0 = total - n1, conv - c1
        rate = c1 / n1 if n1 else None
        lift = rate / base if rate is not None else None
        z = None
        if n1 and n0:
            se = math.sqrt(base * (1 - base) * (1 / n1 + 1 / n0))
            z = (c1 / n1 - c0 / n0) / se if se > 0 else 0.0
        if n1 == 0:
            flag = "never applies"
        elif n1 < min_leads:
            flag = "too few leads"
        elif z is None or abs(z) < Z_CRITICAL:
            flag = "no predictive value"
        elif (r.points > 0) != (lift is not None and lift > 1):
            flag = "points have the wrong sign"
        else:
            flag = ""
        out.append({
            "rule": r.name, "kind": "fit" if i < len(grid.fit.criteria) else "engagement", "points": float(r.points),
            "leads": n1, "conversions": c1, "conversion_rate": rate, "lift": lift, "z": z, "flag": flag,
        })
    schema = {"rule": pl.String, "kind": pl.String, "points": pl.Float64, "leads": pl.Int64, "conversions": pl.Int64,
              "conversion_rate": pl.Float64, "lift": pl.Float64, "z": pl.Float64, "flag": pl.String}
    return pl.DataFrame(out, schema=schema, orient="row")


def suggest_points(stats: pl.DataFrame) -> pl.DataFrame:
    """Add ``suggested_points``: proportional to lift (above base) or to 1 / lift (below), per kind.

    Each kind's scale keeps the summed size of its current points over the
    rules that get a suggestion; flagged rules (other than a wrong sign) get 0.
    """
    useful = pl.col("flag").is_in(["", "points have the wrong sign"])
    strength = (
        pl.when(pl.col("lift") >= 1).then(pl.col("lift"))
        .otherwise(1 / pl.max_horizontal(pl.col("lift"), pl.lit(MIN_LIFT)))
    )
    sign = pl.when(pl.col("lift") >= 1).then(1.0).otherwise(-1.0)
    scaled = stats.with_columns(strength.alias("__s"), sign.alias("__sign"), useful.alias("__use")).with_columns(
        (
            pl.col("points").abs().filter(pl.col("__use")).sum().over("kind", "__sign")
            / pl.col("__s").filter(pl.col("__use")).sum().over("kind", "__sign")
        ).alias("__scale")
    )
    raw = pl.col("__sign") * pl.col("__scale") * pl.col("__s")
    suggested = pl.when(pl.col("__use")).then(pl.max_horizontal(raw.abs().round(0), pl.lit(1.0)) * pl.col("__sign"))
    return scaled.with_columns(suggested.otherwise(0.0).fill_nan(0.0).alias("suggested_points")).drop(
        "__s", "__sign", "__use", "__scale"
    )


def _suggested_grid(grid: LeadGrid, stats: pl.DataFrame) -> LeadGrid:
    points = dict(zip(stats["rule"].to_list(), stats["suggested_points"].to_list()))

    def suggested(rule: Any) -> Any:
        reason = rule.reason if SUGGESTED_TAG in rule.reason else f"{rule.reason} {SUGGESTED_TAG}".strip()
        return rule.model_copy(update={"points": float(points[rule.name]), "reason": reason})

    new = grid.model_copy(
        update={
            "conversion_model": None,  # lift points are not log-odds: a learned intercept no longer applies
            "fit": grid.fit.model_copy(update={"criteria": [suggested(c) for c in grid.fit.criteria]}),
            "engagement": grid.engagement.model_copy(update={"rules": [suggested(r) for r in grid.engagement.rules]}),
        }
    )
    new._source = f"suggested from {grid.source}"
    return new


def calibrate(
    leads: Any,
    events: Any,
    outcomes: Any,
    grid: LeadGrid | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    min_leads: int = 30,
) -> Calibration:
    """Compare the grid with conversions (see module docs); nothing is written."""
    prep = prepare(leads, events, grid)
    day = resolve_as_of(prep, as_of)
    joined = labelled(prep, outcomes, day)
    conv = int(joined["__converted"].sum())
    base = conv / joined.height
    stats = suggest_points(_rule_stats(joined, prep.grid, min_leads))
    suggested = _suggested_grid(prep.grid, stats)
    new_table, _ = scored_frame(dataclasses.replace(prep, grid=suggested), day)
    rescored = new_table.select("lead_id", "fit_score", "engagement_score").join(
        joined.lazy().select("lead_id", "__converted"), on="lead_id", how="inner"
    ).collect(engine=ENGINE)
    y = pl.col("__converted")
    scores = {"fit": pl.col("fit_score"), "engagement": pl.col("engagement_score"),
              "total": pl.col("fit_score") + pl.col("engagement_score")}
    current = joined.select([_auc(e, y).alias(k) for k, e in scores.items()]).row(0)
    new = rescored.select([_auc(e, y).alias(k) for k, e in scores.items()]).row(0)
    auc = pl.DataFrame({"score": list(scores), "current": list(current), "suggested": list(new)})
    return Calibration(
        as_of=day, leads=joined.height, conversions=conv, base_rate=base, criteria=stats,
        cells=_rate_table(joined, "priority", CELLS, base), tiers=_rate_table(joined, "tier", TIERS, base),
        auc=auc, suggested_grid=suggested, warnings=prep.warnings,
    )


def labelled(prep: Prepared, outcomes: Any, day: date) -> pl.DataFrame:
    """The scored leads as of ``day`` with each rule's contribution and ``__converted`` (after ``day``);
    leads that converted on or before ``day`` are left out (with a warning); both outcomes must occur."""
    outcome, notes = _outcomes(prep, outcomes, day)
    for note in notes:
        prep.warn(note)
    table, _ = scored_frame(prep, day, keep_contributions=True)
    # sorted again: a streaming join does not keep row order, and seeded folds need a fixed one
    joined = table.join(outcome, on="lead_id", how="left").collect(engine=ENGINE).sort("lead_id")
    missing = joined.filter(pl.col("__converted").is_null())["lead_id"]
    if missing.len():
        prep.warn(
            f'{missing.len():,} scored lead(s) have no outcome row (first: "{missing[0]}"); they count as not converted'
        )
    joined = joined.with_columns(pl.col("__converted").fill_null(False), pl.col("__before").fill_null(False))
    early = int(joined["__before"].sum())
    if early:
        prep.warn(
            f"{early:,} lead(s) converted on or before as_of {day} and are left out (their events would leak the "
            "outcome); pass an earlier --as-of to score them before they converted"
        )
        joined = joined.filter(~pl.col("__before"))
    conv = int(joined["__converted"].sum())
    if joined.height == 0 or conv == 0 or conv == joined.height:
        raise InputError(
            f"cannot calibrate: {conv:,} of {joined.height:,} scored leads converted after as_of {day}; "
            "calibration needs both converted and not converted leads (check the outcomes file and --as-of)"
        )
    return joined
