"""rfm leads calibrate --method logistic: planted log-odds recovered, intervals by hand, out of sample only."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest

from rfm.cli import main
from rfm.errors import InputError
from rfm.leads import calibrate_logistic, load_grid, score_leads
from rfm.leads._logistic import LOGISTIC_TAG, _criteria

#: True log-odds effects planted in the generated conversions.
TRUE = {"demo": 2.0, "trial": 1.2, "decision_maker": 1.0, "software": 0.5, "student": -1.5, "country": 0.0}
INTERCEPT = -3.0
GRID = {
    "event_types": {"demo_request": "asked for a demo", "trial_signup": "started a trial"},
    "fit": {"cap": 40, "criteria": [
        {"name": "decision_maker", "field": "job_title", "op": "contains", "value": "vp", "points": 15},
        {"name": "software", "field": "industry", "op": "equals", "value": "software", "points": 15},
        {"name": "student", "field": "job_title", "op": "contains", "value": "student", "points": -10},
        {"name": "country", "field": "country", "op": "equals", "value": "DE", "points": 5},
    ]},
    "engagement": {"rules": [
        {"name": "demo", "event": "demo_request", "count": "first", "points": 30},
        {"name": "trial", "event": "trial_signup", "count": "first", "points": 20},
    ]},
    "grades": {"fit": [5, 15, 25], "engagement": [5, 20, 40]},
}
AS_OF = date(2024, 6, 30)


def planted(n: int = 12000, seed: int = 1, shuffle: bool = False):
    rng = np.random.default_rng(seed)
    flags = {k: rng.random(n) < share for k, share in
             (("demo", 0.1), ("trial", 0.1), ("decision_maker", 0.3), ("software", 0.4), ("student", 0.1),
              ("country", 0.5))}
    flags["student"] &= ~flags["decision_maker"]
    ids = [f"L{i:06d}" for i in range(n)]
    title = np.where(flags["decision_maker"], "VP Sales", np.where(flags["student"], "Student", "Analyst"))
    leads = pl.DataFrame({
        "lead_id": ids, "job_title": title, "industry": np.where(flags["software"], "software", "retail"),
        "country": np.where(flags["country"], "DE", "FR"),
        "created_date": [AS_OF - timedelta(days=int(d)) for d in rng.integers(1, 365, n)],
    })
    rows = []
    for kind, flag in (("demo_request", "demo"), ("trial_signup", "trial")):
        for i in np.flatnonzero(flags[flag]):
            stamp = datetime(2024, 6, 1, tzinfo=timezone.utc) + timedelta(days=int(rng.integers(0, 29)))
            rows.append((ids[i], kind, stamp))
    events = pl.DataFrame(rows, schema=["lead_id", "event_type", "timestamp"], orient="row")
    logit = INTERCEPT + sum(b * flags[k] for k, b in TRUE.items())
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    if shuffle:
        converted = rng.permutation(converted)
    outcomes = pl.DataFrame({"lead_id": ids, "converted": converted})
    return leads, events, outcomes


@pytest.fixture(scope="module")
def card():
    return calibrate_logistic(*planted(), GRID, as_of=AS_OF)


def test_planted_log_odds_are_recovered(card):
    rows = {r["rule"]: r for r in card.criteria.to_dicts()}
    for rule, beta in TRUE.items():
        assert abs(rows[rule]["coefficient"] - beta) < 3 * rows[rule]["se"] < 1.2, rule
        assert rows[rule]["ci_low"] < beta < rows[rule]["ci_high"], rule  # the 95 % interval covers the truth
    assert card.intercept == pytest.approx(INTERCEPT, abs=0.2)
    # order and sign: demo > trial > decision_maker > software > country (none) > student
    order = sorted(TRUE, key=lambda r: rows[r]["coefficient"], reverse=True)
    assert order == ["demo", "trial", "decision_maker", "software", "country", "student"]
    assert rows["country"]["flag"] == "interval spans zero"
    assert all(rows[r]["flag"] == "" for r in TRUE if r != "country")
    # points are log-odds: 20 points double the odds, so points = coefficient x 20 / ln 2, rounded
    for rule in TRUE:
        assert rows[rule]["learned_points"] == round(rows[rule]["coefficient"] * 20 / math.log(2))
    assert rows["demo"]["learned_points"] / rows["decision_maker"]["learned_points"] == pytest.approx(2.0, rel=0.2)
    assert rows["trial"]["learned_points"] / rows["software"]["learned_points"] == pytest.approx(1.2 / 0.5, rel=0.35)


def test_interval_is_woolfs_for_one_binary_criterion():
    """One criterion, no penalty: the Hessian interval of the log odds ratio is Woolf's,
    sqrt(1/a + 1/b + 1/c + 1/d) from the 2 x 2 table."""
    a, b, c, d = 40, 160, 30, 770  # applies & converted, applies & not, not & converted, not & not
    x = np.array([1.0] * (a + b) + [0.0] * (c + d)).reshape(-1, 1)
    y = np.array([1] * a + [0] * b + [1] * c + [0] * d)
    log_or = math.log((a / b) / (c / d))
    fit = {"intercept": math.log(c / d), "coef": np.array([log_or]), "C": 1e12, "varying": np.array([True])}
    grid = load_grid({"fit": {"criteria": [{"name": "vp", "field": "job_title", "op": "contains", "value": "vp",
                                            "points": 10}]}})
    table, learned = _criteria(grid, pl.DataFrame({"i": range(len(y))}), x, y, fit, 20.0, 30)
    row = table.row(0, named=True)
    woolf = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    assert row["se"] == pytest.approx(woolf, rel=1e-6)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((log_or - 1.959964 * woolf, log_or + 1.959964 * woolf))
    assert row["odds_ratio"] == pytest.approx((a * d) / (b * c))
    assert learned[0] == 54  # ln(6.4167) = 1.8589 log-odds x 20 / ln 2 = 53.6 points


def test_validation_is_out_of_sample_and_the_learned_grid_wins(card):
    created = planted()[0]["created_date"].sort()
    cut = created[int(0.7 * 12000)]  # the date by which 70 % of the leads were created
    n_test = int((created >= cut).sum())
    assert card.validation.startswith(f"time split: {12000 - n_test:,} leads created before {cut} train, "
                                      f"{n_test:,} created on or after it test")
    m = {r["grid"]: r for r in card.metrics.to_dicts()}
    assert m["current"]["test_leads"] == m["lift"]["test_leads"] == m["logistic"]["test_leads"] == n_test
    assert m["logistic"]["log_loss"] < m["current"]["log_loss"]
    assert m["logistic"]["auc"] > m["current"]["auc"] - 0.005
    rel = card.reliability.filter(pl.col("grid") == "logistic")
    assert rel["leads"].sum() == n_test
    # calibrated: mean predicted and actual conversion of the test part within 1.5 points
    weighted = (rel["leads"] * rel["predicted"]).sum() / n_test
    assert abs(weighted - (rel["leads"] * rel["actual"]).sum() / n_test) < 0.015


def test_shuffled_conversions_score_chance_out_of_sample():
    card = calibrate_logistic(*planted(n=6000, shuffle=True), GRID, as_of=AS_OF)
    for row in card.metrics.to_dicts():
        assert abs(row["auc"] - 0.5) < 0.06, row
    # nothing is significant: the intervals all span zero
    flags = card.criteria["flag"].to_list()
    assert flags.count("interval spans zero") >= 5


def test_without_creation_dates_it_cross_validates():
    leads, events, outcomes = planted(n=3000)
    card = calibrate_logistic(leads.drop("created_date"), events, outcomes, GRID, as_of=AS_OF)
    assert card.validation == "5-fold cross-validation (stratified, seed 0)"
    assert card.metrics["test_leads"].to_list() == [3000, 3000, 3000]  # every lead tested once


def test_a_split_date_that_leaves_one_side_empty_is_refused():
    with pytest.raises(InputError, match=r"--split-date 2022-01-01: split at 2022-01-01: the training part has 0 "
                                         r"conversions and 0 others, .*each needs 10; choose another date"):
        calibrate_logistic(*planted(n=2000), GRID, as_of=AS_OF, split_date="2022-01-01")


def test_the_written_grid_gives_conversion_probabilities(card, tmp_path):
    path = card.grid.write(tmp_path / "learned.yaml")
    grid = load_grid(path)
    assert grid.conversion_model is not None and grid.conversion_model.pdo == 20
    assert grid.fit.cap is None and LOGISTIC_TAG in grid.fit.criteria[0].reason
    leads, events, outcomes = planted()
    scored = score_leads(leads, events, grid, as_of=AS_OF).table
    expected = 1 / (1 + np.exp(-(grid.conversion_model.intercept + math.log(2) / 20
                                 * (scored["fit_score"] + scored["engagement_score"]).to_numpy())))
    assert np.allclose(scored["conversion_probability"].to_numpy(), expected, atol=1e-12)
    # calibrated in the large on the leads it learned from
    assert scored["conversion_probability"].mean() == pytest.approx(outcomes["converted"].mean(), abs=0.005)
    # each grade threshold leaves the share of leads below it closest to the current grid's that any
    # occurring score could (scores are discrete)
    current = score_leads(leads, events, GRID, as_of=AS_OF).table
    new_fit, old_fit = scored["fit_score"].to_numpy(), current["fit_score"].to_numpy()
    for new_t, old_t in zip(grid.grades.fit, GRID["grades"]["fit"]):
        target = (old_fit < old_t).mean()
        best = min(abs((new_fit < v).mean() - target) for v in [*np.unique(new_fit), new_fit.max() + 1])
        assert abs((new_fit < new_t).mean() - target) == pytest.approx(best, abs=1e-12)
    assert (scored["fit_grade"] == "A").sum() == (current["fit_grade"] == "A").sum()  # reachable here: exact


def test_cli_writes_the_learned_grid(tmp_path, capsys):
    leads, events, outcomes = planted(n=4000)
    paths = {}
    for name, frame in (("leads", leads), ("events", events), ("outcomes", outcomes)):
        paths[name] = tmp_path / f"{name}.parquet"
        frame.write_parquet(paths[name])
    grid = tmp_path / "grid.yaml"
    load_grid(GRID).write(grid)
    out = tmp_path / "learned.yaml"
    args = ["leads", "calibrate", str(paths["leads"]), str(paths["events"]), str(paths["outcomes"]), "-g", str(grid),
            "--as-of", "2024-06-30", "--method", "logistic", "--pdo", "40", "--write-grid", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "every 40 points double the odds" in printed and "Out of sample (time split:" in printed
    assert load_grid(out).conversion_model.pdo == 40
    assert main([*args[:-2], "--folds", "1"]) == 2
    assert "error: --folds must be at least 2, got 1" in capsys.readouterr().err
    assert main(args[:-6] + ["--split-date", "2024-01-01"]) == 2
    assert "error: --split-date applies to --method logistic only" in capsys.readouterr().err


def test_same_scorecard_every_run():
    """Seeded folds need a fixed row order: the streaming join's order is not (review of issue 15)."""
    data = planted(n=5000, seed=9)
    first, second = (calibrate_logistic(*data, GRID, as_of=AS_OF) for _ in range(2))
    assert first.criteria.equals(second.criteria) and first.metrics.equals(second.metrics)
    assert first.grid.to_yaml() == second.grid.to_yaml()


def test_validation_never_learns_from_the_test_part():
    """Only leads created after the split carry the one rule that matters: learned on the training part,
    no grid can use it on the test part (AUC about 0.5); fitted on every lead, the final grid does."""
    leads, events, outcomes = planted(n=6000, seed=6, shuffle=True)
    late = leads["created_date"] >= leads["created_date"].sort()[int(0.7 * 6000)]
    rng = np.random.default_rng(0)
    converted = np.where(late.to_numpy() & (leads["country"] == "DE").to_numpy(), rng.random(6000) < 0.5,
                         rng.random(6000) < 0.05)
    leads = leads.with_columns(pl.when(late).then(pl.col("country")).otherwise(pl.lit("FR")).alias("country"))
    card = calibrate_logistic(leads, events, outcomes.with_columns(pl.Series("converted", converted)), GRID,
                              as_of=AS_OF)
    m = {r["grid"]: r for r in card.metrics.to_dicts()}
    assert abs(m["logistic"]["auc"] - 0.5) < 0.06 and abs(m["lift"]["auc"] - 0.5) < 0.06
    country = card.criteria.filter(pl.col("rule") == "country").row(0, named=True)
    assert country["ci_low"] > 1.0 and country["flag"] == ""


def test_small_folds_and_grids_with_nothing_to_learn():
    leads, events, outcomes = planted(n=400, seed=2)
    few = outcomes.with_columns(pl.Series("converted", [i in (3, 150, 301) for i in range(400)]))
    card = calibrate_logistic(leads, events, few, GRID, as_of=AS_OF, folds=2)  # a fold trains on 1 conversion
    assert card.validation == "2-fold cross-validation (stratified, seed 0)" and card.conversions == 3
    flat = {"fit": {"criteria": [{"name": "ceo", "field": "job_title", "op": "equals", "value": "CEO",
                                  "points": 10}]}}
    with pytest.raises(InputError, match=r"cannot learn a scorecard: no rule of .* varies among the 400 scored "
                                         r"leads \(each applies to every lead or to none\)"):
        calibrate_logistic(leads, events, outcomes, flat, as_of=AS_OF)


def test_stage_minimums_move_with_the_points_and_lift_drops_the_model(card):
    leads, events, outcomes = planted()
    staged = {**GRID, "stages": {"marketing_qualified": {"min_fit_score": 25}}}
    learned = calibrate_logistic(leads, events, outcomes, staged, as_of=AS_OF).grid
    before = score_leads(leads, events, staged, as_of=AS_OF).table
    after = score_leads(leads, events, learned, as_of=AS_OF).table
    mql = ("marketing_qualified", "sales_qualified", "opportunity")
    share = [t["stage"].is_in(mql).mean() for t in (before, after)]
    assert share[1] == pytest.approx(share[0], abs=0.03)
    # a lift grid suggested from a learned grid has lift points, not log-odds: no probability from it
    from rfm.leads import calibrate

    assert calibrate(leads, events, outcomes, card.grid, as_of=AS_OF).suggested_grid.conversion_model is None


def test_learned_points_keep_every_rule_kind_of_the_shipped_grid():
    """On the shipped example (caps, every-N blocks, absent rules, decay, first): each learned rule's
    contribution is its 1-point feature times its learned points, exactly, caps counted in events."""
    from rfm.leads._logistic import unit_grid
    from rfm.synthetic import generate_lead_frames

    leads, events, outcomes = generate_lead_frames(4000, seed=5)
    card = calibrate_logistic(leads, events, outcomes)
    grid = load_grid(None)
    kinds = {r.name: r for r in grid.engagement.rules}
    assert any(r.every for r in kinds.values()) and any(r.absent for r in kinds.values())
    assert any(r.cap for r in kinds.values()) and grid.engagement.groups  # the kinds are there to check
    learned = score_leads(leads, events, card.grid, contributions=True).table
    unit = score_leads(leads, events, unit_grid(grid), contributions=True).table
    points = dict(zip(card.criteria["rule"], card.criteria["learned_points"]))
    for rule, p in points.items():
        got, want = learned[f"points_{rule}"].to_numpy(), unit[f"points_{rule}"].to_numpy() * p
        assert np.allclose(got, want, atol=1e-9), rule
