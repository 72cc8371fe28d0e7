"""The joined contact view on the hand-checked fixture (tests/data/leads)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.leads import contacts, score_leads
from tests.conftest import DATA as DATA_ROOT

DATA = DATA_ROOT / "leads"
SCORES, PROFILE = DATA / "customer_scores.csv", DATA / "customers.csv"
CUSTOMER = {  # customer_id: segment, action, churn_risk, next_best_offer  (customer_scores.csv)
    "C001": ("Champions", "retain", 0.05, "loyalty_program"),
    "C002": ("Loyal", "upsell", 0.12, "premium_plan"),
    "C003": ("At Risk", "reactivate", 0.61, "winback_discount"),
    "C006": ("Loyal", "upsell", 0.10, "premium_plan"),
}


@pytest.fixture(scope="module")
def lead_scores():
    with pytest.warns(RfmWarning):
        return score_leads(DATA / "leads.csv", DATA / "events.csv", DATA / "grid.yaml", as_of="2024-06-30")


def expected(matches: dict[str, tuple[str | None, str]], tiers: dict[str, str]) -> pl.DataFrame:
    routes = {"hot": "sales", "warm": "nurture", "cold": "mass_campaign"}
    rows = []
    for lead, tier in tiers.items():
        cid, method = matches.get(lead, (None, "none"))
        seg, act, risk, nbo = CUSTOMER.get(cid, (None, None, None, None)) if cid else (None, None, None, None)
        route = "review_match" if method == "ambiguous" else f"{act}:{seg}" if cid else routes[tier]
        rows.append((lead, cid, method, seg, act, risk, nbo, route))
    return pl.DataFrame(rows, orient="row", schema={
        "lead_id": pl.String, "customer_id": pl.String, "match_method": pl.String, "segment": pl.String,
        "action": pl.String, "churn_risk": pl.Float64, "next_best_offer": pl.String, "routing": pl.String})


def test_joined_view_by_hand(lead_scores) -> None:
    with pytest.warns(RfmWarning) as caught:
        result = contacts(lead_scores, SCORES, customers=PROFILE, match=["customer_id", "email", "domain"])
    tiers = dict(lead_scores.table.select("lead_id", "tier").iter_rows())
    matches = {
        "L01": ("C001", "customer_id"),  # customer_id C001 in the leads file
        "L07": ("C002", "customer_id"),
        "L04": ("C003", "email"),  # dan@betafin.com = " Dan@BetaFin.com " (case and spaces ignored)
        "L09": (None, "ambiguous"),  # ivy@eta.com is the email of C004 and C005
        "L14": ("C006", "domain"),  # lambda.com = https://www.lambda.com/
        "L08": (None, "ambiguous"),  # zeta.io is the domain of C007 and C008
    }
    got = result.table.select("lead_id", "customer_id", "match_method", "segment", "action", "churn_risk",
                              "next_best_offer", "routing")
    assert_frame_equal(got, expected(matches, tiers))
    assert result.table.columns[:13] == [
        "lead_id", "email", "company", "domain", "fit_score", "engagement_score", "fit_grade", "engagement_level",
        "priority", "tier", "stage", "explanation", "as_of"]
    assert result.match_counts.rows() == [("customer_id", 2), ("email", 1), ("domain", 1), ("ambiguous", 2), ("none", 13)]
    assert result.ambiguous.rows() == [("L08", "domain", ["C007", "C008"]), ("L09", "email", ["C004", "C005"])]
    assert [str(w.message) for w in caught] == [
        '2 lead(s) match several customers (first: "L08" by domain: C007, C008); they are not joined and are routed '
        'to "review_match" — see the ambiguous table'
    ]


def test_default_match_is_customer_id_then_email(lead_scores, tmp_path: Path) -> None:
    # Scores written by `rfm leads score` work as input; so does an email column in the customer scores.
    scores_file = tmp_path / "leads.parquet"
    lead_scores.write(scores_file)
    with_email = pl.read_csv(SCORES).join(pl.read_csv(PROFILE).select("customer_id", "email"), on="customer_id")
    with pytest.warns(RfmWarning):
        result = contacts(scores_file, with_email)
    assert result.match_counts.rows() == [("customer_id", 2), ("email", 1), ("ambiguous", 1), ("none", 15)]
    assert result.table.filter(pl.col("lead_id") == "L14")["routing"].to_list() == ["sales"]  # hot, not matched


def test_missing_pieces_are_clear_errors(lead_scores, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"customer_scores\.csv: matching by email needs customer emails, but the "
                       r"customer scores have no email column and no customer profile gives one; pass customers="):
        contacts(lead_scores, SCORES)
    dup = tmp_path / "dup.csv"
    dup.write_text("customer_id,segment,action\nC1,Loyal,upsell\nC1,Loyal,upsell\n")
    with pytest.raises(InputError, match=r'dup\.csv: column "customer_id" has 1 duplicated id\(s\) \(first: "C1" on 2 rows\)'):
        contacts(lead_scores, dup, match=["customer_id"])
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("customer_id,segment\nC1,Loyal\n")
    with pytest.raises(InputError, match=r"nocols\.csv: missing column\(s\) action \(columns: customer_id, segment\); "
                       r"pass the output of rfm score$"):
        contacts(lead_scores, nocols)
    with pytest.raises(ConfigError, match=r'contacts: unknown match method "phone"; use customer_id, email and/or domain'):
        contacts(lead_scores, SCORES, match=["phone"])
