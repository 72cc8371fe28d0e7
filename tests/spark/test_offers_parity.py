"""Offers on Spark give DuckDB's numbers: top-k table, best offer, customer columns, reach, hit rate.

One synthetic history (categories, multi-line orders, returns, cancellations and
exact duplicate lines with ``input.duplicates: drop``) is scored once per engine
(module fixture): offers with churn risk (so ``max_churn_risk`` decides), without
it, and a backtest with offers.  Every table is compared whole with
:func:`tests.spark.parity.assert_same`; each test also checks on the DuckDB side
that what it compares is not trivial (offers present, customers without one,
ties, churn mattering), so a comparison of two empty or degenerate results fails.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date

import polars as pl
import pytest

from rfm.churn import add_churn
from rfm.offers import add_offers
from rfm.pipeline import Orders, run_backtest
from rfm.synthetic import generate_frame
from tests.spark.parity import assert_same

AS_OF = date(2024, 6, 30)
CALIBRATION_END = date(2024, 3, 31)
ENGINES = ("duckdb", "spark")

# Targets by segment and action, a price range, a two-category offer, every
# eligibility rule, an offer no one is eligible for (the reach warning) and a
# twin of "books" listed BEFORE it: equal fits, so the tie goes to catalogue order.
CATALOGUE = {
    "half_life_days": 200,
    "top_k": 3,
    "price_penalty": "asymmetric",
    "price_scale_below": 3,
    "offers": [
        {"id": "zz-books-twin", "categories": ["Books"], "price": 25, "targets": {"actions": ["retain"]},
         "eligibility": {"min_monetary": 60}},
        {"id": "garden", "categories": ["Garden"], "price_range": [15, 40],
         "targets": {"segments": ["Champions", "Loyal"]},
         "eligibility": {"exclude_bought_within_days": 120, "max_churn_risk": 80}},
        {"id": "home-tech", "categories": ["Electronics", "Home"], "price": 120, "eligibility": {"min_monetary": 150}},
        {"id": "save", "categories": ["Music", "Toys"], "price": 20, "targets": {"actions": ["reactivate"]},
         "eligibility": {"max_churn_risk": 60}, "weights": {"audience": 0.5}},
        {"id": "books", "categories": ["Books"], "price": 25, "targets": {"actions": ["retain"]},
         "eligibility": {"min_monetary": 60}},
        {"id": "beauty", "categories": ["Beauty"], "price": 15,
         "eligibility": {"exclude_bought_within_days": 365, "max_churn_risk": 90}},
        {"id": "sports", "categories": ["Sports"], "price": 45, "targets": {"actions": ["upsell"]},
         "eligibility": {"min_monetary": 100}},
        {"id": "vip", "categories": ["Home"], "price": 900, "eligibility": {"min_monetary": 1_000_000}},
    ],
}


@dataclass(frozen=True)
class Run:
    """What one engine gave, read into polars."""

    churn_fits: pl.DataFrame  # top-k table, offers fitted with churn risk
    churn_best: pl.DataFrame  # OfferScores.best
    churn_best_table: pl.DataFrame  # the engine's best view (offers.best), by customer
    churn_reach: pl.DataFrame
    churn_warnings: tuple[str, ...]
    churn_table: pl.DataFrame  # the customer table with churn and the offer columns
    plain_fits: pl.DataFrame  # no churn step: max_churn_risk is skipped
    plain_reach: pl.DataFrame
    plain_warnings: tuple[str, ...]
    plain_table: pl.DataFrame
    hit_rate: dict
    lines_all: pl.DataFrame
    lines_distinct: pl.DataFrame


def _history() -> pl.DataFrame:
    frame = generate_frame(customers=300, orders=1200, seed=3)
    return pl.concat([frame, frame.filter(pl.col("order_id") % 50 == 0)])  # exact duplicate lines


def _run(engine: str, frame: pl.DataFrame) -> Run:
    orders = Orders(frame, {"input": {"duplicates": "drop"}}, engine=engine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = orders.score(AS_OF, offers=False)  # the steps of Orders.score(churn=, offers=), one RFM scoring
        churned = add_offers(orders, add_churn(orders, scores, method="bgnbd"), CATALOGUE, top_k=3)
        plain = add_offers(orders, scores, CATALOGUE, top_k=3)
        backtest = run_backtest(orders, calibration_end=CALIBRATION_END, offers=CATALOGUE)
    line_key = ["customer_id", "order_id", "category", "amount", "order_date"]
    lines = {
        block: orders.engine.view(f"offers.{block}", {"lines": orders.lines}).pl().sort(line_key)
        for block in ("lines_all", "lines_distinct")
    }
    return Run(
        churn_fits=churned.offers.fits,
        churn_best=churned.offers.best,
        churn_best_table=churned.offers.best_table.pl().sort("customer_id"),
        churn_reach=churned.offers.reach,
        churn_warnings=churned.offers.warnings,
        churn_table=churned.table,
        plain_fits=plain.offers.fits,
        plain_reach=plain.offers.reach,
        plain_warnings=plain.offers.warnings,
        plain_table=plain.table,
        hit_rate=backtest.offers,
        lines_all=lines["lines_all"],
        lines_distinct=lines["lines_distinct"],
    )


@pytest.fixture(scope="module")
def runs(spark_session) -> dict[str, Run]:
    frame = _history()
    return {engine: _run(engine, frame) for engine in ENGINES}


@pytest.mark.parametrize("case", ["churn", "plain"])
def test_top_k_tables_are_the_same(runs, case):
    duck, spark = (getattr(runs[e], f"{case}_fits") for e in ENGINES)
    assert duck.schema == spark.schema
    assert_same(duck, spark, label=f"top-k ({case})")
    offered = duck.filter(pl.col("offer_id").is_not_null())
    assert offered.height > 300 and offered["rank"].max() == 3
    assert offered["reason"].n_unique() >= 10  # affinity, price and audience reasons all occur
    assert offered["affinity"].n_unique() > 100 and offered["offer_fit"].n_unique() > 100


def test_customers_without_an_eligible_offer_get_the_same_row(runs):
    duck = runs["duckdb"].churn_fits
    none = duck.filter(pl.col("offer_id").is_null())
    assert none.height > 20 and set(none["reason"]) == {"no eligible offer"} and none["rank"].null_count() == none.height
    assert_same(none, runs["spark"].churn_fits.filter(pl.col("offer_id").is_null()), label="no eligible offer")


def test_churn_risk_decides_eligibility_on_both_engines(runs):
    for engine in ENGINES:
        churn, plain = runs[engine].churn_reach, runs[engine].plain_reach
        save = {name: r.filter(offer_id="save")["customers"].item() for name, r in (("churn", churn), ("plain", plain))}
        assert save["churn"] < save["plain"] / 5, (engine, save)  # max_churn_risk 60 keeps few
    assert_same(runs["duckdb"].churn_reach, runs["spark"].churn_reach, label="reach (churn)")
    assert_same(runs["duckdb"].plain_reach, runs["spark"].plain_reach, label="reach (plain)")


def test_reach_warnings_are_the_same(runs):
    for case in ("churn", "plain"):
        duck, spark = (getattr(runs[e], f"{case}_warnings") for e in ENGINES)
        assert duck == spark
        assert any('offer "vip" is in no customer\'s top 3' in w for w in duck)
    assert any("max_churn_risk but the customer scores have no churn_risk" in w for w in runs["duckdb"].plain_warnings)


def test_ties_break_by_catalogue_order(runs):
    for engine in ENGINES:
        fits = runs[engine].churn_fits
        twins = fits.filter(pl.col("offer_id").is_in(["zz-books-twin", "books"])).sort("customer_id", "rank")
        pairs = twins.group_by("customer_id", maintain_order=True).agg("offer_id", "offer_fit", "rank")
        pairs = pairs.filter(pl.col("rank").list.len() == 2)
        assert pairs.height > 50, engine
        assert pairs["offer_fit"].list.n_unique().eq(1).all(), engine  # the twins fit equally
        assert pairs["offer_id"].to_list() == [["zz-books-twin", "books"]] * pairs.height, engine
        assert (pairs["rank"].list.get(1) - pairs["rank"].list.get(0)).eq(1).all(), engine


def test_best_offer_is_the_same(runs):
    duck, spark = runs["duckdb"], runs["spark"]
    assert_same(duck.churn_best, spark.churn_best, label="best")
    assert_same(duck.churn_best_table, spark.churn_best_table, label="best view")
    assert_same(duck.churn_best_table, duck.churn_best, label="best view vs OfferScores.best (DuckDB)")
    assert duck.churn_best.height == 295 and duck.churn_best["next_best_offer"].n_unique() >= 5


@pytest.mark.parametrize("case", ["churn", "plain"])
def test_offer_columns_added_to_the_scores_are_the_same(runs, case):
    duck, spark = (getattr(runs[e], f"{case}_table") for e in ENGINES)
    assert duck.columns[-3:] == ["next_best_offer", "offer_fit", "offer_reason"]
    assert duck.schema == spark.schema
    assert_same(duck, spark, label=f"customer table ({case})")
    assert duck["next_best_offer"].null_count() < duck.height


def test_backtest_offer_hit_rate_is_the_same(runs):
    duck, spark = runs["duckdb"].hit_rate, runs["spark"].hit_rate
    assert duck == spark
    assert duck["customers"] > 250 and duck["hits"] > 10 and duck["baseline_hits"] > 5
    assert duck["hits"] != duck["baseline_hits"] and duck["baseline_category"] is not None


def test_offer_lines_are_the_same(runs):
    duck, spark = runs["duckdb"], runs["spark"]
    assert_same(duck.lines_all, spark.lines_all, label="offers.lines_all")
    assert_same(duck.lines_distinct, spark.lines_distinct, label="offers.lines_distinct")
    assert duck.lines_all.height > duck.lines_distinct.height > 1000  # the copies counted once
    assert duck.lines_distinct.filter(pl.col("amount") < 0).height > 10  # returns are offer lines too
