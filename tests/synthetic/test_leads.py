"""Tests of the synthetic lead generator (rfm.synthetic: generate_leads, generate_lead_frames, PLANTED)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from rfm.leads import calibrate
from rfm.synthetic import PLANTED, generate_lead_frames, generate_leads


def test_calibration_recovers_the_planted_order() -> None:
    leads, events, outcomes = generate_lead_frames(20_000, seed=1)
    cal = calibrate(leads, events, outcomes, None)
    lift = dict(zip(cal.criteria["rule"], cal.criteria["lift"]))
    flag = dict(zip(cal.criteria["rule"], cal.criteria["flag"]))
    points = dict(zip(cal.criteria["rule"], cal.criteria["suggested_points"]))
    planted = sorted(PLANTED, key=lambda name: -PLANTED[name][0])  # strongest first
    assert planted == ["demo_request", "trial_signup", "decision_maker", "target_industry", "pricing_page", "webinar",
                       "target_country", "student"]
    above = [name for name in planted if PLANTED[name][0] > 1]
    assert [lift[n] for n in above] == sorted((lift[n] for n in above), reverse=True)
    assert all(lift[n] > 1 and flag[n] == "" for n in above)
    assert (flag["webinar"], flag["target_country"]) == ("no predictive value", "no predictive value")
    assert (points["webinar"], points["target_country"]) == (0.0, 0.0)
    assert lift["student"] < 0.5 and points["student"] < 0 and flag["student"] == ""
    # Within a kind, points follow lift: demo > trial (engagement); decision maker > industry (fit).
    assert points["demo_request"] > points["trial_signup"] > points["pricing_page"] > 0
    assert points["decision_maker"] > points["target_industry"] > 0
    assert cal.auc_suggested > cal.auc_current > 0.6
    # Hot converts more than warm, warm more than cold.
    rates = dict(zip(cal.tiers["tier"], cal.tiers["conversion_rate"]))
    assert rates["hot"] > rates["warm"] > rates["cold"]


def test_generator_files_are_deterministic(tmp_path: Path) -> None:
    a = generate_leads(tmp_path / "a", leads=300, seed=5)
    b = generate_leads(tmp_path / "b", leads=300, seed=5, fmt="csv")
    assert [p.name for p in a.files] == ["leads.parquet", "events.parquet", "outcomes.parquet"]
    assert (a.leads, a.events, a.conversions) == (b.leads, b.events, b.conversions)
    assert_frame_equal(pl.read_parquet(a.files[0]), generate_lead_frames(300, seed=5)[0])
    # The CSV files score like the Parquet ones (timestamps written with an offset are read back).
    from rfm.leads import score_leads

    pa_scores = score_leads(a.files[0], a.files[1], None).table
    csv_scores = score_leads(b.files[0], b.files[1], None).table
    assert_frame_equal(pa_scores.drop("customer_id"), csv_scores.drop("customer_id"))
