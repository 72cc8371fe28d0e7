"""``rfm leads calibrate --method logistic``: a points grid learned from conversions, the credit-scorecard way.

1. **Features.** Each rule of the grid becomes one number per lead, in the
   rule's own unit: 1 when a fit criterion applies; for an engagement rule the
   (decayed) number of matching events, of N-event blocks, 1 for ``first`` or
   ``absent``, after the rule's cap expressed in events.  They are the grid's
   contributions with every rule worth 1 point, so the grid's own logic
   (windows, decay, details) defines them.
2. **Model.** A logistic regression of conversion (after ``as_of``) on those
   features, L2-regularised with the strength chosen by 5-fold
   cross-validated log-loss (scikit-learn's ``LogisticRegressionCV``, seeded).
3. **Points.** ``points = factor x coefficient`` with ``factor = pdo / ln 2``:
   every ``pdo`` points (default 20) double the odds of conversion, and a lead's
   total is ``(log-odds - intercept) x factor``: points are log-odds, so close
   effects keep different points.  The written grid carries the intercept
   (``conversion_model``), and scoring with it adds ``conversion_probability``.
   Score caps and floors of the current grid were in its own points, so the
   learned grid has none (a cap would bend the log-odds); grade thresholds and the
   stages' minimum scores move so each holds about the share of leads it held
   under the current grid.
4. **Uncertainty.** 95 % intervals from the Hessian of the penalised
   log-likelihood at the fit (``X'WX + I/C``); a criterion whose interval spans
   zero is flagged: the data cannot tell its sign.
5. **Validation, out of sample.** With creation dates, leads created before a
   split date (default: the date by which 70 % were created) train and later
   ones test; without, stratified 5-fold cross-validation.  The current grid,
   the lift grid (``--method lift``, suggested from the training part only) and
   the logistic grid are each turned into probabilities on the training part
   (a logistic link on the total score; the logistic grid uses its own) and
   judged on the test part only: AUC, log-loss, Brier and a reliability table.
   The final grid is then fitted on every lead.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rfm.errors import InputError
from rfm.inputs import parse_date
from rfm.leads import _rules as R
from rfm.leads._calibrate import SUGGESTED_TAG, _rule_stats, _suggested_grid, labelled, suggest_points
from rfm.leads._grid import STAGES, Bounds, ConversionModel, LeadGrid
from rfm.leads._scoring import ENGINE, Prepared, created_dates, prepare, resolve_as_of, scored_frame

DEFAULT_PDO = 20.0
TRAIN_SHARE = 0.7
FOLDS = 5
#: Each part of a split needs this many leads of each outcome to be judged on.
MIN_PER_OUTCOME = 10
_Z95 = 1.959964
_EPS = 1e-15
LOGISTIC_TAG = "[points learned by rfm leads calibrate --method logistic]"


@dataclass
class Scorecard:
    """The learned grid, its coefficients with intervals, and the out-of-sample comparison."""

    as_of: date
    leads: int
    conversions: int
    pdo: float
    intercept: float
    regularisation: float  # the chosen C (inverse L2 strength)
    validation: str  # how the leads were split
    criteria: pl.DataFrame  # rule, kind, leads, coefficient, se, ci_low, ci_high, odds_ratio, points, learned_points, flag
    metrics: pl.DataFrame  # grid, test_leads, test_conversions, auc, log_loss, brier
    reliability: pl.DataFrame  # grid, decile, leads, predicted, actual
    grid: LeadGrid
    warnings: list[str] = field(default_factory=list)


def calibrate_logistic(
    leads: Any,
    events: Any,
    outcomes: Any,
    grid: LeadGrid | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    pdo: float = DEFAULT_PDO,
    split_date: date | str | None = None,
    folds: int | None = None,
    min_leads: int = 30,
    seed: int = 0,
) -> Scorecard:
    """Learn a points grid from conversions and compare it out of sample (see the module docs)."""
    if not pdo > 0:
        raise InputError(f"--pdo must be a positive number of points, got {pdo:g}")
    if folds is not None and folds < 2:
        raise InputError(f"--folds must be at least 2, got {folds}")
    prep = prepare(leads, events, grid)
    day = resolve_as_of(prep, as_of)
    frame = labelled(prep, outcomes, day)
    names = [r.name for r in [*prep.grid.fit.criteria, *prep.grid.engagement.rules]]
    unit, _ = scored_frame(dataclasses.replace(prep, grid=unit_grid(prep.grid)), day, keep_contributions=True)
    units = unit.select("lead_id", *(pl.col(R.CONTRIB + n).alias("__u_" + n) for n in names))
    frame = frame.join(units.collect(engine=ENGINE), on="lead_id", how="left", maintain_order="left")
    created = created_dates(prep)
    if created is not None:
        frame = frame.join(created, on="lead_id", how="left", maintain_order="left")
    x = frame.select(["__u_" + n for n in names]).to_numpy().astype(float)
    y = frame["__converted"].to_numpy().astype(int)
    if not (x.std(axis=0) > 0).any():
        raise InputError(
            f"cannot learn a scorecard: no rule of {prep.grid.source} varies among the {len(y):,} scored leads "
            "(each applies to every lead or to none); check the grid's fields and event types against the data"
        )
    splits, how = _splits(frame, y, created is not None, split_date, folds, seed, prep)
    predictions = _validate(prep, day, frame, x, y, splits, pdo, min_leads, seed)
    final = _fit(x, y, seed)
    criteria, learned = _criteria(prep.grid, frame, x, y, final, pdo, min_leads)
    new_grid = _learned_grid(prep.grid, frame, x, learned, final, pdo, day, int(y.sum()), len(y))
    metrics, reliability = _judge(predictions)
    return Scorecard(
        as_of=day, leads=len(y), conversions=int(y.sum()), pdo=pdo, intercept=final["intercept"],
        regularisation=final["C"], validation=how, criteria=criteria, metrics=metrics, reliability=reliability,
        grid=new_grid, warnings=prep.warnings,
    )


def unit_grid(grid: LeadGrid) -> LeadGrid:
    """The grid with every rule worth 1 point (per-rule caps kept in events): contributions become features."""
    crit = [c.model_copy(update={"points": 1.0}) for c in grid.fit.criteria]
    rules = [
        r.model_copy(update={"points": 1.0, "cap": r.cap / abs(r.points) if r.cap is not None and r.points else None})
        for r in grid.engagement.rules
    ]
    return grid.model_copy(update={
        "fit": grid.fit.model_copy(update={"criteria": crit}),
        "engagement": grid.engagement.model_copy(update={"rules": rules}),
    })


def _fit(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, Any]:
    """L2 logistic regression, strength by 5-fold log-loss; constant columns get coefficient 0."""
    # scikit-learn loads on first use: only the logistic scorecard needs it here.
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    varying = x.std(axis=0) > 0
    coef = np.zeros(x.shape[1])
    fewest = int(np.bincount(y, minlength=2).min())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter and sklearn's FutureWarnings
        if fewest >= 2:
            cv = StratifiedKFold(n_splits=min(5, fewest), shuffle=True, random_state=seed)
            model = LogisticRegressionCV(Cs=np.logspace(-3, 3, 13), cv=cv, scoring="neg_log_loss", max_iter=5000)
        else:  # one lead of an outcome (a small training fold): no inner folds, the default strength
            model = LogisticRegression(C=1.0, max_iter=5000)
        model.fit(x[:, varying], y)
    strength = float(model.C_[0]) if fewest >= 2 else 1.0
    coef[varying] = model.coef_[0]
    return {"intercept": float(model.intercept_[0]), "coef": coef, "C": strength, "varying": varying}


def _log_odds(x: np.ndarray, fit: dict[str, Any]) -> np.ndarray:
    return fit["intercept"] + x @ fit["coef"]


def _points(coef: np.ndarray, pdo: float) -> np.ndarray:
    return np.round(coef * pdo / math.log(2))


def _splits(
    frame: pl.DataFrame, y: np.ndarray, has_dates: bool, split_date: date | str | None, folds: int | None, seed: int,
    prep: Prepared,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    """(train rows, test rows) pairs and a sentence saying how."""
    from sklearn.model_selection import StratifiedKFold

    dated = has_dates and folds is None and frame["__created"].null_count() == 0
    if split_date is not None and not dated:
        why = "--folds was given" if folds is not None else "not every lead has a creation date"
        raise InputError(f"--split-date needs every lead's creation date, and {why}; drop --split-date or --folds")
    if dated:
        created = frame["__created"].to_numpy()
        cut = parse_date(split_date, "split_date") if split_date is not None else \
            np.sort(created)[int(TRAIN_SHARE * len(created))].astype("datetime64[D]").astype(date)
        train = np.flatnonzero(created < np.datetime64(cut))
        test = np.flatnonzero(created >= np.datetime64(cut))
        counts = [np.bincount(y[part], minlength=2) for part in (train, test)]
        if min(c.min() for c in counts) >= MIN_PER_OUTCOME:
            return [(train, test)], (
                f"time split: {len(train):,} leads created before {cut} train, {len(test):,} created on or after it "
                f"test ({counts[1][1]:,} conversions)")
        message = (f"split at {cut}: the training part has {counts[0][1]:,} conversions and {counts[0][0]:,} others, "
                   f"the test part {counts[1][1]:,} and {counts[1][0]:,}; each needs {MIN_PER_OUTCOME}")
        if split_date is not None:
            raise InputError(f"--split-date {cut}: {message}; choose another date")
        prep.warn(f"{message}, so the leads are cross-validated instead")
    k = folds or FOLDS
    if np.bincount(y, minlength=2).min() < k:
        raise InputError(f"{k}-fold cross-validation needs at least {k} leads of each outcome; "
                         f"there are {int(y.sum()):,} conversions among {len(y):,} leads")
    cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(len(y)), y)), f"{k}-fold cross-validation (stratified, seed {seed})"


def _link(score_train: np.ndarray, y_train: np.ndarray, score_test: np.ndarray) -> np.ndarray:
    """A grid's total score turned into a probability by a logistic link fitted on the training part."""
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=1e6, max_iter=1000).fit(score_train.reshape(-1, 1), y_train)
    return model.predict_proba(score_test.reshape(-1, 1))[:, 1]


def _validate(
    prep: Prepared, day: date, frame: pl.DataFrame, x: np.ndarray, y: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]], pdo: float, min_leads: int, seed: int,
) -> pl.DataFrame:
    """Test-part predictions of the three grids: grid, lead row, p, y."""
    current = (frame["fit_score"] + frame["engagement_score"]).to_numpy()
    parts = []
    for train, test in splits:
        lift_grid = _suggested_grid(prep.grid, suggest_points(_rule_stats(frame[train], prep.grid, min_leads)))
        lift_table, _ = scored_frame(dataclasses.replace(prep, grid=lift_grid), day)
        lift = frame.select("lead_id").join(
            lift_table.select("lead_id", (pl.col("fit_score") + pl.col("engagement_score")).alias("s"))
            .collect(engine=ENGINE), on="lead_id", how="left", maintain_order="left")["s"].to_numpy()
        fit = _fit(x[train], y[train], seed)
        points = x @ _points(fit["coef"], pdo)
        learned = 1 / (1 + np.exp(-(fit["intercept"] + points * math.log(2) / pdo)))
        for name, p in (("current", _link(current[train], y[train], current[test])),
                        ("lift", _link(lift[train], y[train], lift[test])), ("logistic", learned[test])):
            parts.append(pl.DataFrame({"grid": name, "row": test, "p": p, "y": y[test]}))
    return pl.concat(parts)


def _judge(pred: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """AUC, log-loss and Brier per grid on the test rows; reliability by decile of the prediction."""
    metrics, tables = [], []
    for name in ("current", "lift", "logistic"):
        part = pred.filter(pl.col("grid") == name).sort("p", "row")
        p, y = np.clip(part["p"].to_numpy(), _EPS, 1 - _EPS), part["y"].to_numpy()
        ranks = part["p"].rank("average").to_numpy()
        n1, n0 = int(y.sum()), int(len(y) - y.sum())
        metrics.append({
            "grid": name, "test_leads": len(y), "test_conversions": n1,
            "auc": float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)),
            "log_loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))),
            "brier": float(np.mean((p - y) ** 2)),
        })
        decile = np.arange(len(y)) * 10 // max(len(y), 1) + 1
        tables.append(
            part.with_columns(pl.Series("decile", decile)).group_by("decile")
            .agg(pl.len().alias("leads"), pl.col("p").mean().alias("predicted"),
                 pl.col("y").cast(pl.Float64).mean().alias("actual"))
            .sort("decile").with_columns(pl.lit(name).alias("grid")).select("grid", "decile", "leads", "predicted",
                                                                            "actual")
        )
    return pl.DataFrame(metrics), pl.concat(tables)


def _criteria(
    grid: LeadGrid, frame: pl.DataFrame, x: np.ndarray, y: np.ndarray, fit: dict[str, Any], pdo: float,
    min_leads: int,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Per rule: coefficient, standard error and 95 % interval (Hessian of the penalised log-likelihood)."""
    rules = [*grid.fit.criteria, *grid.engagement.rules]
    varying = fit["varying"]
    design = np.column_stack([np.ones(len(y)), x[:, varying]])
    p = 1 / (1 + np.exp(-_log_odds(x, fit)))
    hessian = design.T @ (design * (p * (1 - p))[:, None])
    hessian[1:, 1:] += np.eye(int(varying.sum())) / fit["C"]
    se = np.full(len(rules), np.nan)
    se[varying] = np.sqrt(np.diag(np.linalg.pinv(hessian))[1:])
    coef = fit["coef"]
    learned = _points(coef, pdo)
    applies = (x != 0).sum(axis=0)
    out = []
    for i, rule in enumerate(rules):
        low, high = coef[i] - _Z95 * se[i], coef[i] + _Z95 * se[i]
        if applies[i] == 0:
            flag = "never applies"
        elif not varying[i]:
            flag = "applies to every lead"
        elif low <= 0 <= high:
            flag = "interval spans zero"
        elif applies[i] < min_leads:
            flag = "too few leads"
        else:
            flag = ""
        out.append({
            "rule": rule.name, "kind": "fit" if i < len(grid.fit.criteria) else "engagement",
            "leads": int(applies[i]), "coefficient": float(coef[i]), "se": float(se[i]), "ci_low": float(low),
            "ci_high": float(high), "odds_ratio": math.exp(coef[i]), "points": float(rule.points),
            "learned_points": float(learned[i]), "flag": flag,
        })
    return pl.DataFrame(out, orient="row"), learned


def _threshold(current: np.ndarray, new: np.ndarray, old: list[float]) -> list[float]:
    """New thresholds that leave about the same share of leads below each one as the old ones did: of the
    scores that occur (and one above the highest), the one whose share below is closest (scores are
    discrete, so ties make it approximate); strictly increasing."""
    values = np.unique(np.round(new, 2))
    candidates = np.append(values, values[-1] + 1)
    below = np.searchsorted(np.sort(np.round(new, 2)), candidates, side="left") / len(new)
    out: list[float] = []
    for t in old:
        share = (current < t).mean()
        value = float(candidates[int(np.argmin(np.abs(below - share)))])
        if out and value <= out[-1]:
            value = out[-1] + 1
        out.append(round(value, 2))
    return out


def _learned_grid(
    grid: LeadGrid, frame: pl.DataFrame, x: np.ndarray, learned: np.ndarray, fit: dict[str, Any], pdo: float,
    day: date, conversions: int, leads: int,
) -> LeadGrid:
    n_fit = len(grid.fit.criteria)
    crit, rules = [], []
    for i, c in enumerate(grid.fit.criteria):
        crit.append(c.model_copy(update={"points": float(learned[i]), "reason": _reason(c.reason)}))
    for j, r in enumerate(grid.engagement.rules):
        pts = float(learned[n_fit + j])
        unit_cap = r.cap / abs(r.points) if r.cap is not None and r.points else None
        cap = unit_cap * abs(pts) if unit_cap is not None and pts else None
        rules.append(r.model_copy(update={"points": pts, "cap": cap, "reason": _reason(r.reason)}))
    new_fit, new_eng = x[:, :n_fit] @ learned[:n_fit], x[:, n_fit:] @ learned[n_fit:]
    grades = grid.grades.model_copy(update={
        "fit": _threshold(frame["fit_score"].to_numpy(), new_fit, grid.grades.fit),
        "engagement": _threshold(frame["engagement_score"].to_numpy(), new_eng, grid.grades.engagement),
    })
    cur_fit, cur_eng = frame["fit_score"].to_numpy(), frame["engagement_score"].to_numpy()
    stages = {}
    for name in STAGES[1:]:
        cond = getattr(grid.stages, name)
        if cond is not None and (cond.min_fit_score is not None or cond.min_engagement_score is not None):
            cond = cond.model_copy(update={
                "min_fit_score": None if cond.min_fit_score is None
                else _threshold(cur_fit, new_fit, [cond.min_fit_score])[0],
                "min_engagement_score": None if cond.min_engagement_score is None
                else _threshold(cur_eng, new_eng, [cond.min_engagement_score])[0],
            })
        stages[name] = cond
    model = ConversionModel(intercept=round(fit["intercept"], 6), pdo=pdo,
                            fitted=f"{leads:,} leads scored as of {day}, {conversions:,} converted after it")
    new = grid.model_copy(update={
        "fit": grid.fit.model_copy(update={"criteria": crit, "groups": {k: Bounds() for k in grid.fit.groups},
                                           "cap": None, "floor": None}),
        "engagement": grid.engagement.model_copy(update={
            "rules": rules, "cap": None, "floor": None,
            "groups": {k: g.model_copy(update={"cap": None, "floor": None}) for k, g in grid.engagement.groups.items()},
        }),
        "grades": grades, "conversion_model": model, "stages": grid.stages.model_copy(update=stages),
    })
    new._source = f"learned from {grid.source}"
    return new


def _reason(reason: str) -> str:
    base = reason.replace(SUGGESTED_TAG, "").replace(LOGISTIC_TAG, "").strip()
    return f"{base} {LOGISTIC_TAG}".strip()
