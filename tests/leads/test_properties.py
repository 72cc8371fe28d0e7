"""Invariants of lead scoring, checked on random events with hypothesis."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rfm.leads import load_grid, score_leads
from tests.conftest import DATA as DATA_ROOT

DATA = DATA_ROOT / "leads"
GRID = load_grid(DATA / "grid.yaml")
LEADS = pl.read_csv(DATA / "leads.csv", infer_schema=False).filter(pl.col("lead_id") != "L19")  # all exist by AS_OF
AS_OF = date(2024, 6, 30)
TYPES = ["page_view", "email_open", "email_click", "webinar_attended", "demo_request", "unsubscribe",
         "opportunity_created", "chat"]
DETAILS = [None, "/pricing", "/blog/a", "/about"]

event = st.tuples(
    st.sampled_from(LEADS["lead_id"].to_list() + ["L99"]),
    st.sampled_from(TYPES),
    st.integers(-200, 30),  # days after AS_OF
    st.sampled_from(DETAILS),
)
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
pytestmark = pytest.mark.filterwarnings("ignore::rfm.errors.RfmWarning")


def frame(events: list[tuple[str, str, int, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lead_id": [e[0] for e in events],
            "event_type": [e[1] for e in events],
            "timestamp": [(AS_OF + timedelta(days=e[2])).isoformat() + "T12:00:00Z" for e in events],
            "detail": [e[3] for e in events],
        },
        schema={"lead_id": pl.String, "event_type": pl.String, "timestamp": pl.String, "detail": pl.String},
    )


def score(events: pl.DataFrame, grid=GRID, as_of: date = AS_OF) -> pl.DataFrame:
    return score_leads(LEADS, events, grid, as_of=as_of).table


@SETTINGS
@given(st.lists(event, min_size=1, max_size=60))
def test_events_after_as_of_are_ignored(events) -> None:
    all_events = frame(events)
    kept = frame([e for e in events if e[2] <= 0])
    assert_frame_equal(score(all_events), score(kept))


@SETTINGS
@given(st.lists(event, min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(events, rnd) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert_frame_equal(score(frame(events)), score(frame(shuffled)))


@SETTINGS
@given(st.lists(event, min_size=1, max_size=60))
def test_scores_respect_caps_and_classes_follow_thresholds(events) -> None:
    t = score(frame(events))
    assert t["fit_score"].is_between(-20, 40).all() and (t["engagement_score"] <= 50).all()
    c, b, a = GRID.grades.fit
    e3, e2, e1 = GRID.grades.engagement
    grade = pl.when(pl.col("fit_score") >= a).then(pl.lit("A")).when(pl.col("fit_score") >= b).then(pl.lit("B")) \
        .when(pl.col("fit_score") >= c).then(pl.lit("C")).otherwise(pl.lit("D"))
    level = pl.when(pl.col("engagement_score") >= e1).then(1).when(pl.col("engagement_score") >= e2).then(2) \
        .when(pl.col("engagement_score") >= e3).then(3).otherwise(4)
    check = t.select(
        (pl.col("fit_grade") == grade).all().alias("grade"),
        (pl.col("engagement_level") == level).all().alias("level"),
        (pl.col("priority") == pl.col("fit_grade") + pl.col("engagement_level").cast(pl.String)).all().alias("cell"),
        ((pl.col("tier") == "hot") == pl.col("priority").is_in(GRID.tiers.hot)).all().alias("hot"),
        (pl.col("lead_id").is_sorted()).alias("sorted"),
    )
    assert check.row(0) == (True, True, True, True, True)


@SETTINGS
@given(st.lists(event, min_size=0, max_size=40), st.sampled_from(LEADS["lead_id"].to_list()), st.integers(-59, 0))
def test_a_demo_request_never_lowers_engagement(events, lead, day) -> None:
    before = score(frame(events))
    after = score(frame([*events, (lead, "demo_request", day, None)]))
    diff = after["engagement_score"] - before["engagement_score"]
    assert (diff >= 0).all()
    assert after.filter(pl.col("lead_id") == lead)["stage"].item() in ("sales_qualified", "opportunity", "contact",
                                                                        "marketing_qualified")


@SETTINGS
@given(st.lists(event, min_size=1, max_size=60), st.integers(1, 120))
def test_without_absence_rules_old_activity_only_decays(events, later) -> None:
    """With no negative rules, scoring later without new events never raises engagement."""
    data = GRID.model_dump()
    data["engagement"]["rules"] = [r for r in data["engagement"]["rules"] if r["points"] > 0]
    grid = load_grid(data)
    past = frame([e for e in events if e[2] <= 0])
    now = score(past, grid)
    then = score(past, grid, AS_OF + timedelta(days=later))
    assert (then["engagement_score"] <= now["engagement_score"] + 1e-9).all()
