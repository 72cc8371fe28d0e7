"""Calibration: a hand-computed case and bad outcomes.

Recovery of the planted effects of the lead generator: tests/synthetic/test_leads.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rfm.errors import InputError, RfmWarning
from rfm.leads import SUGGESTED_TAG, calibrate, load_grid

GRID = {
    "event_types": {"demo_request": "asked for a demo"},
    "fit": {"criteria": [
        {"name": "sw", "field": "industry", "op": "equals", "value": "software", "points": 10},
        {"name": "vp", "field": "job_title", "op": "contains", "value": "vp", "points": 10},
        {"name": "student", "field": "job_title", "op": "contains", "value": "student", "points": -5},
    ]},
    "engagement": {"rules": [{"name": "demo", "event": "demo_request", "count": "first", "points": 20}]},
    "grades": {"fit": [5, 10, 20], "engagement": [5, 10, 20]},
}
IDS = [f"L{i:02d}" for i in range(1, 22)]
SW = {"L01", "L02", "L03", "L04", "L06", "L07", "L08", "L09"}  # 8 leads, 4 converted
VP = {"L01", "L02", "L03", "L10"}  # 4 leads, 3 converted
STUDENT = {"L11", "L12", "L13", "L14", "L15", "L16"}  # 6 leads, none converted
DEMO = {"L01", "L02", "L04", "L12"}  # 4 leads, 3 converted
CONVERTED = {"L01", "L02", "L03", "L04", "L05"}


def frames() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    leads = pl.DataFrame({
        "lead_id": IDS,
        "industry": ["software" if i in SW else "retail" for i in IDS],
        "job_title": ["VP Sales" if i in VP else "Student" if i in STUDENT else "Analyst" for i in IDS],
    })
    events = pl.DataFrame({"lead_id": sorted(DEMO), "event_type": ["demo_request"] * 4, "timestamp": ["2024-06-01"] * 4})
    # L20 has no outcome row; L21 converted before as_of; L99 is not a lead.
    rows = [(i, i in CONVERTED, "2024-07-15" if i in CONVERTED else None) for i in IDS if i != "L20"]
    rows = [r if r[0] != "L21" else ("L21", True, "2024-06-15") for r in rows] + [("L99", True, "2024-07-01")]
    outcomes = pl.DataFrame(rows, schema={"lead_id": pl.String, "converted": pl.Boolean, "conversion_date": pl.String},
                            orient="row")
    return leads, events, outcomes


def z(n1: int, c1: int, n0: int, c0: int) -> float:
    base = (c1 + c0) / (n1 + n0)
    return (c1 / n1 - c0 / n0) / math.sqrt(base * (1 - base) * (1 / n1 + 1 / n0))


@pytest.fixture(scope="module")
def cal():
    with pytest.warns(RfmWarning):
        return calibrate(*frames(), GRID, as_of="2024-06-30", min_leads=3)


def test_warnings_say_what_was_left_out(cal) -> None:
    assert cal.warnings == [
        "outcomes <polars.DataFrame>: 1 outcome row(s) for lead ids not in leads <polars.DataFrame>; they are ignored",
        '1 scored lead(s) have no outcome row (first: "L20"); they count as not converted',
        "1 lead(s) converted on or before as_of 2024-06-30 and are left out (their events would leak the outcome); "
        "pass an earlier --as-of to score them before they converted",
    ]
    assert (cal.leads, cal.conversions, cal.base_rate) == (20, 5, 0.25)


def test_rule_table_by_hand(cal) -> None:
    # 20 leads, 5 converted: base rate 0.25.  sw: 4 of 8 convert (lift 2); vp 3 of 4 (lift 3);
    # student 0 of 6 (|z| 1.69 < 1.96: no predictive value); demo 3 of 4 (lift 3).
    # Suggested, per kind: fit scale = (10 + 10) / (2 + 3) = 4 -> sw 8, vp 12; engagement 20 / 3 * 3 = 20.
    expected = pl.DataFrame({
        "rule": ["sw", "vp", "student", "demo"],
        "kind": ["fit", "fit", "fit", "engagement"],
        "points": [10.0, 10.0, -5.0, 20.0],
        "leads": [8, 4, 6, 4],
        "conversions": [4, 3, 0, 3],
        "conversion_rate": [0.5, 0.75, 0.0, 0.75],
        "lift": [2.0, 3.0, 0.0, 3.0],
        "z": [z(8, 4, 12, 1), z(4, 3, 16, 2), z(6, 0, 14, 5), z(4, 3, 16, 2)],
        "flag": ["", "", "no predictive value", ""],
        "suggested_points": [8.0, 12.0, 0.0, 20.0],
    })
    assert_frame_equal(cal.criteria, expected)
    assert [round(v, 4) for v in expected["z"]] == [2.1082, 2.582, -1.6903, 2.582]


def test_cells_and_tiers_by_hand(cal) -> None:
    # fit: L01-L03 20 (A), L04 and L06-L10 10 (B), others 0 or -5 (D); engagement 20 (level 1) with a demo.
    # A1: L01, L02 (both converted); A4: L03 (converted); B1: L04 (converted); B4: L06-L10; D1: L12;
    # D4: L05 (converted), L11, L13-L20.
    leads = {"A1": (2, 2), "A4": (1, 1), "B1": (1, 1), "B4": (5, 0), "D1": (1, 0), "D4": (10, 1)}
    rows = []
    for cell in [f"{g}{lvl}" for g in "ABCD" for lvl in (1, 2, 3, 4)]:
        n, c = leads.get(cell, (0, 0))
        rows.append((cell, n, c, c / n if n else None, c / n / 0.25 if n else None))
    expected = pl.DataFrame(rows, schema=["priority", "leads", "conversions", "conversion_rate", "lift"], orient="row")
    assert_frame_equal(cal.cells, expected)
    tiers = pl.DataFrame(
        [("hot", 3, 3, 1.0, 4.0), ("warm", 0, 0, None, None), ("cold", 17, 2, 2 / 17, 2 / 17 / 0.25)],
        schema=["tier", "leads", "conversions", "conversion_rate", "lift"], orient="row",
    )
    assert_frame_equal(cal.tiers, tiers)


def test_auc_by_hand(cal) -> None:
    # Pairs (5 converted x 15 not); a tie counts half.  Total current: 40, 40, 20, 30, 0 vs
    # 10 x5, 15, 0 x4, -5 x5 -> 15 + 15 + 15 + 15 + (5 + 4/2) = 67.  Suggested (sw 8, vp 12, student 0):
    # 40, 40, 20, 28, 0 vs 8 x4, 12, 20, 0 x9 -> 15 + 15 + 14.5 + 15 + 4.5 = 64.
    expected = pl.DataFrame({
        "score": ["fit", "engagement", "total"],
        "current": [65.5 / 75, 57.5 / 75, 67 / 75],
        "suggested": [62 / 75, 57.5 / 75, 64 / 75],
    })
    assert_frame_equal(cal.auc, expected)
    assert (cal.auc_current, cal.auc_suggested) == (67 / 75, 64 / 75)


def test_suggested_grid_round_trips(tmp_path: Path, cal) -> None:
    out = tmp_path / "suggested.yaml"
    cal.suggested_grid.write(out)
    again = load_grid(out)
    assert [(c.name, c.points) for c in again.fit.criteria] == [("sw", 8.0), ("vp", 12.0), ("student", 0.0)]
    assert again.engagement.rules[0].reason == SUGGESTED_TAG
    assert again.grades == load_grid(GRID).grades


def test_bad_outcomes() -> None:
    leads, events, outcomes = frames()
    bad = outcomes.with_columns(pl.col("converted").cast(pl.String)).with_columns(
        pl.when(pl.col("lead_id") == "L03").then(pl.lit("maybe")).otherwise(pl.col("converted")).alias("converted")
    )
    with pytest.raises(InputError, match=r'outcomes <polars\.DataFrame>: column "converted" has 1 value\(s\) that are not '
                       r'yes/no \(first: "maybe" on row 3\); write true/false, 1/0 or yes/no$'):
        calibrate(leads, events, bad, GRID, as_of="2024-06-30")
    dup = pl.concat([outcomes, outcomes.head(1)])
    with pytest.raises(InputError, match=r'column "lead_id" has 1 duplicated lead id\(s\) \(first: "L01" on 2 rows\); give '
                       r"one outcome per lead$"):
        calibrate(leads, events, dup, GRID, as_of="2024-06-30")
    none = outcomes.with_columns(pl.lit(False).alias("converted"))
    with pytest.raises(InputError, match=r"cannot calibrate: 0 of 21 scored leads converted after as_of 2024-06-30; "
                       r"calibration needs both converted and not converted leads"):
        with pytest.warns(RfmWarning):
            calibrate(leads, events, none, GRID, as_of="2024-06-30")
