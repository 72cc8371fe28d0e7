"""Lead scoring on the hand-checked data in tests/data/leads (grid.yaml, leads.csv, events.csv).

As of 2024-06-30; an event's age is as_of minus its date in days.  Grid, in short:
fit:  target_industry +15 and mid_market +15 (group firmo, cap 25), decision_maker +15,
      student -10, personal_email -2, competitor -20, no_country -3; cap 40, floor -20.
eng:  pricing +4 each (cap 12) and articles +3 per 3 views, both in group web (half-life 30 d,
      cap 20); email_click +2 each in 30 days (cap 6); webinar +10 once; demo +30 once
      (group sales: 60-day window); no_open_60d -5 (no email open in 60 days); unsubscribed -15; cap 50.
grades: fit C>=10, B>=20, A>=30; engagement 3>=5, 2>=15, 1>=30.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rfm.errors import InputError, RfmWarning
from rfm.leads import OUTPUT_COLUMNS, history_dates, lead_history, score_leads
from tests.conftest import DATA as DATA_ROOT

DATA = DATA_ROOT / "leads"
LEADS, EVENTS, GRID = DATA / "leads.csv", DATA / "events.csv", DATA / "grid.yaml"
AS_OF = date(2024, 6, 30)

# lead, fit, engagement, grade, level, tier, stage, explanation   -- how each number comes about
EXPECTED = [
    # software+200 -> 15+15 capped 25, VP 15 = 40.  eng: pricing ages 0, 30 -> 4*(1+.5) = 6; demo age 10 -> 30.
    ("L01", 40.0, 36.0, "A", 1, "hot", "sales_qualified", "demo +30; target_industry +15; mid_market +15; fit cap -5"),
    # student -10, gmail -2, no country -3.  No opens and created 60 days ago -> -5.
    ("L02", -15.0, -5.0, "D", 4, "cold", "contact", "student -10; no_open_60d -5; no_country -3"),
    # 25 (capped from 30) - 20 competitor = 5.  Four pricing views today -> 16, rule cap 12.
    ("L03", 5.0, 12.0, "D", 3, "cold", "contact", "competitor -20; target_industry +15; mid_market +15; fit cap -5"),
    # FinTech (any case) 15 + Director 15.  7 blog views -> 2 blocks of 3 = 6; 4 clicks at age 5 -> 8, cap 6
    # (the click at age 40 is outside 30 days); webinar 10; the open at age 59 is inside 60 days.
    ("L04", 30.0, 22.0, "A", 2, "hot", "marketing_qualified", "target_industry +15; decision_maker +15; webinar +10"),
    # CTO 15.  Demo (2024-06-28 15:30 +02:00) -> 30; created 5 days ago, so no absence penalty.
    ("L05", 15.0, 30.0, "C", 1, "warm", "sales_qualified", "demo +30; decision_maker +15"),
    # 25.  Demo at age 121 is outside the 60-day window; pricing ages 60, 90 -> 4*(.25+.125) = 1.5;
    # no opens -5; unsubscribed -15 -> -18.5.  The old demo does not make a cold lead sales-qualified.
    ("L06", 25.0, -18.5, "B", 4, "cold", "contact", "target_industry +15; mid_market +15; unsubscribed -15; fit cap -5"),
    # 80 people 15, Head of 15.  pricing 5 views -> 20, cap 12; 9 blog views -> 9; web 21 capped 20;
    # webinar 10; demo age 29 -> 30; total 60 capped 50 (raw sum 61 -> cut -11).
    ("L07", 30.0, 50.0, "A", 1, "hot", "sales_qualified", "demo +30; mid_market +15; decision_maker +15; engagement cap -11"),
    # software 15.  2 clicks -> 4; only open at age 61 (outside 60 days), created 90 days ago -> -5.
    ("L08", 15.0, -1.0, "C", 4, "cold", "contact", "target_industry +15; no_open_60d -5; email_click +4"),
    # 40.  An opportunity_created event: opportunity whatever the tier.
    ("L09", 40.0, 0.0, "A", 4, "cold", "opportunity", "target_industry +15; mid_market +15; decision_maker +15; fit cap -5"),
    # 75 people 15.  Two webinars, counted once -> 10; no created date and no opens -> -5.
    ("L10", 15.0, 5.0, "C", 3, "cold", "contact", "mid_market +15; webinar +10; no_open_60d -5"),
    # " Director " and "Software", size 999 (range is inclusive).  The view at 2024-06-30T23:30-02:00 is
    # 2024-07-01 in UTC, after as_of: only the 08:00 view counts -> 4.
    ("L11", 40.0, 4.0, "A", 4, "cold", "contact", "target_industry +15; mid_market +15; decision_maker +15; fit cap -5"),
    # CEO 15.  5 clicks -> 10, cap 6; pricing at age 30 -> 2; created 29 days ago: no absence penalty.
    ("L12", 15.0, 8.0, "C", 3, "cold", "contact", "decision_maker +15; email_click +6; pricing +2"),
    # RivalSoft -20, student -10, yahoo -2, no country -3 = -35, floor -20.  Unsubscribed -15.
    ("L13", -20.0, -15.0, "D", 4, "cold", "contact", "competitor -20; unsubscribed -15; student -10; fit cap +15"),
    # 40.  Demo 30 + pricing at age 1: 4 * 0.5**(1/30) = 3.9086 -> 33.91.
    ("L14", 40.0, 33.91, "A", 1, "hot", "sales_qualified", "demo +30; target_industry +15; mid_market +15; fit cap -5"),
    # 25.  "Page View" is not a known type (ignored, warned); "EMAIL_OPEN" is email_open.
    ("L15", 25.0, 0.0, "B", 4, "cold", "contact", "target_industry +15; mid_market +15; fit cap -5"),
    # 40.  Blog views at ages 0, 0, 30 -> decayed count 2.5 -> no full block of 3; pricing today 4.
    ("L16", 40.0, 4.0, "A", 4, "cold", "contact", "target_industry +15; mid_market +15; decision_maker +15; fit cap -5"),
    # 40.  Demo at age 70 scores 0 but still counts for the stage; clicks 6; pricing 2 today 8 -> 14: A3 warm.
    ("L17", 40.0, 14.0, "A", 3, "warm", "sales_qualified", "target_industry +15; mid_market +15; decision_maker +15; fit cap -5"),
    # Owner, retail, 5 people: 0.  Demo 30 but D1 is cold, so not qualified: stays a contact.
    ("L18", 0.0, 30.0, "D", 1, "cold", "contact", "demo +30"),
    # (L19 is created after as_of: not scored.)  40.  Its only event is after as_of; no opens -> -5.
    ("L20", 40.0, -5.0, "A", 4, "cold", "contact", "target_industry +15; mid_market +15; decision_maker +15; fit cap -5"),
]
EMAIL = {"L01": "ana@acme.io", "L02": "bob@gmail.com", "L03": "cara@rivalsoft.com", "L04": "dan@betafin.com",
         "L05": "eve@gammaco.com", "L06": "frank@deltasoft.com", "L07": "gina@epsilon.com", "L08": "hal@zeta.io",
         "L09": "ivy@eta.com", "L10": "jon@theta.com", "L11": "kim@iota.com", "L12": "lea@kappa.com",
         "L13": "max@yahoo.com", "L14": "ned@lambda.com", "L15": "ola@mu.com", "L16": "pia@nu.com",
         "L17": "quinn@xi.com", "L18": "rae@omicron.com", "L20": "ted@rho.com"}
COMPANY = {"L01": "Acme", "L02": None, "L03": "RivalSoft", "L04": "BetaFin", "L05": "GammaCo", "L06": "DeltaSoft",
           "L07": "Epsilon", "L08": "Zeta", "L09": "Eta", "L10": "Theta", "L11": "Iota", "L12": "Kappa",
           "L13": "RivalSoft", "L14": "Lambda", "L15": "Mu", "L16": "Nu", "L17": "Xi", "L18": "Omicron", "L20": "Rho"}


def expected_table() -> pl.DataFrame:
    rows = []
    for lead, fit, eng, grade, level, tier, stage, why in EXPECTED:
        rows.append({
            "lead_id": lead,
            "customer_id": {"L01": "C001", "L07": "C002"}.get(lead),
            "email": EMAIL[lead],
            "company": COMPANY[lead],
            "domain": None,
            "fit_score": fit, "engagement_score": eng, "fit_grade": grade, "engagement_level": level,
            "priority": f"{grade}{level}", "tier": tier, "stage": stage, "explanation": why, "as_of": AS_OF,
        })
    schema = {"lead_id": pl.String, "customer_id": pl.String, "email": pl.String, "company": pl.String,
              "domain": pl.String, "fit_score": pl.Float64, "engagement_score": pl.Float64, "fit_grade": pl.String,
              "engagement_level": pl.Int32, "priority": pl.String, "tier": pl.String, "stage": pl.String,
              "explanation": pl.String, "as_of": pl.Date}
    return pl.DataFrame(rows, schema=schema)


@pytest.fixture(scope="module")
def scored():
    with pytest.warns(RfmWarning):
        return score_leads(LEADS, EVENTS, GRID, as_of=AS_OF)


def test_golden_table(scored) -> None:
    assert_frame_equal(scored.table, expected_table())


def test_explanation_shows_decayed_points_with_decimals() -> None:
    leads = pl.DataFrame({"lead_id": ["A", "B"], "industry": ["retail", "retail"], "company_size": [5, 5],
                          "job_title": ["x", "x"], "email": ["a@x.io", "b@x.io"], "company": ["X", "X"],
                          "country": ["US", "US"]})
    events = pl.DataFrame({"lead_id": ["A", "A", "B"], "event_type": ["page_view", "email_open", "email_open"],
                           "timestamp": ["2024-06-29", "2024-06-29", "2024-06-29"],
                           "detail": ["/pricing", None, None]})
    table = score_leads(leads, events, GRID, as_of=AS_OF).table
    # 4 * 0.5 ** (1 / 30) = 3.9086 -> shown as +3.91; a lead with no points says so.
    assert table["explanation"].to_list() == ["pricing +3.91", "none"]


def test_contributions_add_up_to_the_scores_before_caps() -> None:
    with pytest.warns(RfmWarning):
        table = score_leads(LEADS, EVENTS, GRID, as_of=AS_OF, contributions=True).table
    l07 = table.filter(pl.col("lead_id") == "L07").select(pl.selectors.starts_with("points_")).row(0, named=True)
    assert l07 == {
        "points_target_industry": 0.0, "points_mid_market": 15.0, "points_decision_maker": 15.0, "points_student": 0.0,
        "points_personal_email": 0.0, "points_competitor": 0.0, "points_no_country": 0.0, "points_pricing": 12.0,
        "points_articles": 9.0, "points_email_click": 0.0, "points_webinar": 10.0, "points_demo": 30.0,
        "points_no_open_60d": 0.0, "points_unsubscribed": 0.0,
    }
    assert table.columns[: len(OUTPUT_COLUMNS)] == list(OUTPUT_COLUMNS)


def test_columns_in_documented_order(scored) -> None:
    assert tuple(scored.table.columns) == OUTPUT_COLUMNS


def test_stats_count_what_was_ignored(scored) -> None:
    s = scored.stats
    got = (s.leads_read, s.leads_scored, s.created_after_as_of, s.events_read, s.events_after_as_of,
           s.unknown_type_events, s.unknown_lead_events, s.unknown_lead_ids)
    # 85 event rows; after as_of: L11's 23:30-02:00 view, L19's and L20's demos.
    assert got == (20, 19, 1, 85, 3, 1, 2, 1)


def test_warnings_name_the_problem_and_the_closest_name(scored) -> None:
    assert scored.warnings == [
        f'{EVENTS}: 1 event(s) have event types the grid does not know: "Page View" (1; did you mean "page_view"?); '
        f"they are ignored — add them to event_types in {GRID} or fix the names",
        f'{EVENTS}: 2 event(s) of 1 lead id(s) not in {LEADS} (first: "L99"); they are ignored — check that both '
        "files come from the same export",
    ]


def test_coverage_table(scored) -> None:
    expected = pl.DataFrame({
        "criterion": ["target_industry", "mid_market", "decision_maker", "student", "personal_email", "competitor",
                      "no_country"],
        "field": ["industry", "company_size", "job_title", "job_title", "email", "company", "country"],
        # over all 20 leads: 2 without size, 1 without company, 2 without country
        "filled_share": [1.0, 0.9, 1.0, 1.0, 1.0, 0.95, 0.9],
        # software/fintech 13 of 20; 50..999 13; VP/Director/Head of/CTO/CEO 11; ...
        "match_share": [0.65, 0.65, 0.55, 0.1, 0.1, 0.1, 0.1],
    })
    assert_frame_equal(scored.coverage, expected)


def test_events_after_as_of_never_change_a_score(tmp_path: Path) -> None:
    """Leakage: add events after as_of (for known and new leads, of every type) and rescore."""
    events = pl.read_csv(EVENTS, infer_schema=False)
    later = pl.DataFrame({
        "lead_id": ["L02", "L06", "L08", "L18", "L12", "L77"],
        "event_type": ["demo_request", "email_open", "email_open", "page_view", "unsubscribe", "demo_request"],
        "timestamp": ["2024-07-01", "2024-07-01T00:00:01Z", "2024-08-01", "2024-07-02", "2024-07-01", "2025-01-01"],
        "detail": [None, None, None, "/pricing", None, None],
    })
    with pytest.warns(RfmWarning):
        before = score_leads(LEADS, events, GRID, as_of=AS_OF).table
        after = score_leads(LEADS, pl.concat([events, later]), GRID, as_of=AS_OF).table
    assert_frame_equal(before, after)


def test_same_result_from_shuffled_rows_and_parquet(tmp_path: Path, scored) -> None:
    leads = pl.read_csv(LEADS, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=3)
    events = pl.read_csv(EVENTS, infer_schema=False).sample(fraction=1.0, shuffle=True, seed=4)
    leads.write_parquet(tmp_path / "leads.parquet")
    events.write_parquet(tmp_path / "events.parquet")
    with pytest.warns(RfmWarning):
        again = score_leads(tmp_path / "leads.parquet", tmp_path / "events.parquet", GRID, as_of=AS_OF)
    assert_frame_equal(again.table, scored.table)


def test_default_as_of_is_the_day_after_the_last_event() -> None:
    with pytest.warns(RfmWarning):
        result = score_leads(LEADS, EVENTS, GRID)
    # The last event is L19's demo request on 2024-07-16; L19 (created 07-15) is now scored too.
    assert (result.as_of, result.stats.leads_scored, result.stats.events_after_as_of) == (date(2024, 7, 17), 20, 0)


def test_write_is_atomic_and_round_trips(tmp_path: Path, scored) -> None:
    out = tmp_path / "scores.parquet"
    scored.write(out)
    assert_frame_equal(pl.read_parquet(out), scored.table)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]
    with pytest.raises(InputError, match=r"scores\.xlsx: cannot write \.xlsx; use \.parquet or \.csv"):
        scored.write(tmp_path / "scores.xlsx")


def test_history_weekly_matches_single_scores() -> None:
    dates = history_dates("2024-06-16", "2024-06-30", 7)
    assert dates == [date(2024, 6, 16), date(2024, 6, 23), date(2024, 6, 30)]
    with pytest.warns(RfmWarning):
        hist = lead_history(LEADS, EVENTS, GRID, dates)
    assert hist.columns == ["lead_id", "as_of", "fit_score", "engagement_score", "fit_grade", "engagement_level",
                            "priority", "tier", "stage"]
    # A lead appears from its created date: L05 (06-25) and L13 (06-29) only on 06-30; L19 (07-15) never.
    per_date = hist.group_by("as_of").len().sort("as_of")["len"].to_list()
    assert per_date == [17, 17, 19]
    l07 = hist.filter(pl.col("lead_id") == "L07").select("as_of", "engagement_score", "stage")
    # L07 on 06-16 and 06-23: demo (06-01) 30 + webinar (06-10) 10, and its only open is on 06-30,
    # so no open in 60 days: -5 -> 35.  On 06-30: 50 (capped), as in the golden table.
    assert l07.to_dicts() == [
        {"as_of": date(2024, 6, 16), "engagement_score": 35.0, "stage": "sales_qualified"},
        {"as_of": date(2024, 6, 23), "engagement_score": 35.0, "stage": "sales_qualified"},
        {"as_of": date(2024, 6, 30), "engagement_score": 50.0, "stage": "sales_qualified"},
    ]
    with pytest.warns(RfmWarning):
        single = score_leads(LEADS, EVENTS, GRID, as_of="2024-06-23").table
    assert_frame_equal(
        hist.filter(pl.col("as_of") == date(2024, 6, 23)).drop("as_of"),
        single.select("lead_id", "fit_score", "engagement_score", "fit_grade", "engagement_level", "priority", "tier",
                      "stage"),
    )


def test_history_rejects_bad_steps() -> None:
    with pytest.raises(InputError, match=r"every: 0 days is not a step; use a whole number of days >= 1"):
        history_dates("2024-01-01", "2024-02-01", 0)
    with pytest.raises(InputError, match=r"history: end 2024-01-01 is before start 2024-02-01; swap them"):
        history_dates("2024-02-01", "2024-01-01", 7)
    with pytest.raises(InputError, match=r'as_of: "2024-13-01" is not a date; write it as YYYY-MM-DD'):
        score_leads(LEADS, EVENTS, GRID, as_of="2024-13-01")


def test_shipped_grid_scores_the_fixture(tmp_path: Path) -> None:
    """The example grid reads the same files (detected columns, its own rules)."""
    shutil.copy(LEADS, tmp_path / "leads.csv")
    with pytest.warns(RfmWarning):
        result = score_leads(tmp_path / "leads.csv", EVENTS, None, as_of=AS_OF)
    row = result.table.filter(pl.col("lead_id") == "L07").row(0, named=True)
    # retail adjacent 5 + 80 people 15 (firmographics 20) + Head of 15 + FR 5 = 40.
    # pricing 5 views * 5 = 25 cap 15; blog 9 views -> 3 blocks * 3 = 9 (cap 9); web 24 capped 30 -> 24;
    # email_open today 1; webinar 10 (content, age 20: 10 * 0.5**(20/60)) = 7.94; demo 30.
    assert (row["fit_score"], row["engagement_score"]) == (40.0, round(24 + 1 + 10 * 0.5 ** (20 / 60) + 30, 2))
