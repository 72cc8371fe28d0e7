"""Offer fit and next best offer: a hand-computed case, invariants, bad input, a backtest."""

from __future__ import annotations

import dataclasses
import math
import warnings
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import rfm
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.offers import PRESET, load_catalogue, offer_hit_rate, score_offers
from rfm.synthetic import DEFAULT_CATEGORIES, generate_customers_frame, generate_frame
from tests.conftest import DATA

OFFERS = DATA / "offers"
HAND_ORDERS = OFFERS / "hand_orders.csv"
HAND_CONFIG = OFFERS / "hand_config.yaml"
HAND_OFFERS = OFFERS / "hand_offers.yaml"
AS_OF = date(2024, 6, 30)

FITS_SCHEMA = {
    "customer_id": pl.String,
    "offer_id": pl.String,
    "offer_fit": pl.Float64,
    "affinity": pl.Float64,
    "price_fit": pl.Float64,
    "audience_fit": pl.Float64,
    "reason": pl.String,
    "rank": pl.Int32,
}

# Hand computation for tests/data/offers/hand_orders.csv as of 2024-06-30 with
# hand_offers.yaml (half-life 100 days, smoothing k = 2, spend/order mix 0.5,
# weights affinity 0.5, price 0.2, audience 0.3, price_scale 2) and the two
# segments of hand_config.yaml (Active/retain: last purchase <= 60 days ago;
# Lapsed/reactivate otherwise).
#
# Lines kept: A a1 06-30 Jazz 30 (weight 1); a2 03-22 Jazz 20 + Rock 20 (0.5);
# a3 12-13 Books 40 (0.25).  B b1 06-30 Rock 60.  C c1 03-22 Books 60 (0.5) and a
# return c2 06-30 Books -20 (weight 1, not a purchase); c3 is cancelled (dropped).
# D d1 12-13 Jazz 10 (0.25); d2 is after as_of (ignored).
#   A: n = 3, aov 110/3, Active.  decayed spend Jazz 40, Rock 10, Books 10 of 60
#      -> S = 2/3, 1/6, 1/6; decayed orders 1.75, Jazz 1.5, Rock .5, Books .25
#      -> O = 6/7, 2/7, 1/7.
#   B: n = 1, aov 60, Active, S = O = 1 for Rock.
#   C: n = 1, aov 40, Lapsed; Books spend .5*60 - 20 = 10 -> S = O = 1 for Books.
#   D: n = 1, aov 10, Lapsed; S = O = 1 for Jazz.
# Population (mean of the 4 customers' shares): S Jazz 5/12, Rock 7/24, Books 7/24;
#   O Jazz 13/28, Rock 9/28, Books 2/7.
# Affinity = .5 (n S + 2 pop_S)/(n + 2) + .5 (n O + 2 pop_O)/(n + 2), e.g.
#   A jazz = .5 (2 + 5/6)/5 + .5 (18/7 + 13/14)/5 = .5 * 17/30 + .5 * .7 = .63333
#   B jazz = C jazz = .5 * 5/18 + .5 * 13/42 = .29365
#   C books = .5 * 19/36 + .5 * 11/21 = .52579;  D jazz = .5 * 11/18 + .5 * 9/14 = .62698
#   A books = .5 * 13/60 + .5 * 1/5 = .20833;  B books = D books = .5 * 7/36 + .5 * 4/21 = .19246
#   A rock = .5 * 13/60 + .5 * 3/10 = .25833;  C rock = .5 * 7/36 + .5 * 3/14 = .20437
# Price fit = 2 ^ -(log2(price / aov))^2; for books' range [20, 30] the nearer end:
#   A: jazz 40/36.67 -> .98914, books 30/36.67 -> .94356, rock 50/36.67 -> .87042
#   B: jazz 40/60 -> .78885, books 30/60 -> .5;  C: jazz 1, books 30/40 -> .88745, rock 1.25 -> .93068
#   D: jazz 40/10 -> 2^-4 = .0625, books 20/10 -> .5
# Audience: jazz targets segment Active (1.0 / 0.0), books targets action
#   reactivate (0.8 / 0.0), rock has no targets (0.5).
# Eligibility of rock (min_monetary 35, no Rock purchase in the last 30 days):
#   A yes (Rock 100 days ago); B no (Rock today); C yes (40 >= 35, no Rock); D no (10).
# Rock's own weights are affinity only: fit = 100 * affinity.
# Fit = 100 (.5 aff + .2 price + .3 aud), e.g. A jazz = 100 (.31667 + .19783 + .3) = 81.45.
# Reason: the largest weighted part; A jazz affinity .3167 > audience .3 and 2 of
#   A's 3 orders hold Jazz (>= half): "buys Jazz often"; A rock 1 of 3: "bought Rock
#   before"; C never bought Rock: "Rock is popular"; A books price .1887 with
#   30/36.67 = 0.82 within a factor 1.25: "price near usual basket"; B books
#   30/60: "cheaper than usual basket"; B jazz audience .3: "for Active"; D books
#   audience .24 (action): "for reactivate customers".
HAND_FITS = pl.DataFrame(
    [
        ("A", "jazz", 81.45, 0.6333, 0.9891, 1.0, "buys Jazz often", 1),
        ("A", "books", 29.29, 0.2083, 0.9436, 0.0, "price near usual basket", 2),
        ("A", "rock", 25.83, 0.2583, 0.8704, 0.5, "bought Rock before", 3),
        ("B", "jazz", 60.46, 0.2937, 0.7888, 1.0, "for Active", 1),
        ("B", "books", 19.62, 0.1925, 0.5, 0.0, "cheaper than usual basket", 2),
        ("C", "books", 68.04, 0.5258, 0.8875, 0.8, "buys Books often", 1),
        ("C", "jazz", 34.68, 0.2937, 1.0, 0.0, "price near usual basket", 2),
        ("C", "rock", 20.44, 0.2044, 0.9307, 0.5, "Rock is popular", 3),
        ("D", "books", 43.62, 0.1925, 0.5, 0.8, "for reactivate customers", 1),
        ("D", "jazz", 32.60, 0.6270, 0.0625, 0.0, "buys Jazz often", 2),
    ],
    schema=FITS_SCHEMA,
    orient="row",
)


def hand_orders(config=HAND_CONFIG, source=HAND_ORDERS) -> tuple[rfm.Orders, rfm.CustomerScores]:
    """The hand case loaded and scored as of AS_OF: (orders, scores), what the offer step takes."""
    orders = rfm.Orders(source, config)
    return orders, orders.score(AS_OF)


def collect_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught if w.category is RfmWarning]


# --- the hand-computed case ------------------------------------------------------


def test_hand_computed_fits_ranks_and_reasons():
    scores, messages = collect_warnings(score_offers, *hand_orders(), HAND_OFFERS)
    assert_frame_equal(scores.fits, HAND_FITS, abs_tol=6e-5)
    assert scores.warnings == () and messages == []
    best = pl.DataFrame(
        [
            ("A", "jazz", 81.45, "buys Jazz often"),
            ("B", "jazz", 60.46, "for Active"),
            ("C", "books", 68.04, "buys Books often"),
            ("D", "books", 43.62, "for reactivate customers"),
        ],
        schema={"customer_id": pl.String, "next_best_offer": pl.String, "offer_fit": pl.Float64, "reason": pl.String},
        orient="row",
    )
    assert_frame_equal(scores.best, best)
    reach = pl.DataFrame(
        {"offer_id": ["jazz", "books", "rock"], "customers": [4, 4, 2], "best_for": [2, 2, 0]},
        schema={"offer_id": pl.String, "customers": pl.Int64, "best_for": pl.Int64},
    )
    assert_frame_equal(scores.reach, reach)


def test_top_k_keeps_the_best_ranks():
    scores = score_offers(*hand_orders(), HAND_OFFERS, top_k=1)
    assert_frame_equal(scores.fits, HAND_FITS.filter(pl.col("rank") == 1), abs_tol=6e-5)


def test_asymmetric_price_penalty_uses_the_scale_below_the_basket():
    cat = load_catalogue(HAND_OFFERS).model_dump()
    cat.update(price_penalty="asymmetric", price_scale=2, price_scale_below=4)
    fits = score_offers(*hand_orders(), cat).fits
    price = dict(zip(zip(fits["customer_id"], fits["offer_id"]), fits["price_fit"]))
    # Below the basket the fit halves at a factor 4: B books 30/60 -> 2^-(log2 0.5 / 2)^2 = 2^-0.25.
    assert price[("B", "books")] == pytest.approx(2**-0.25, abs=1e-4)
    # Above it, still a factor 2: D books 20/10 -> 0.5, D jazz 40/10 -> 2^-4.
    assert price[("D", "books")] == pytest.approx(0.5, abs=1e-4)
    assert price[("D", "jazz")] == pytest.approx(0.0625, abs=1e-4)


def test_customers_without_an_eligible_offer_get_none_explicitly():
    cat = {
        "half_life_days": 100,  # as in the hand case; default weights .6 / .25 / .15
        "offers": [{"id": "vip", "categories": ["Jazz"], "price": 40, "eligibility": {"min_monetary": 100}}],
    }
    orders, customer_scores = hand_orders()
    scores = score_offers(orders, customer_scores, cat)
    # Only A (monetary 110) is eligible; A's fit: 100 (.6 * .63333 + .25 * .98914 + .15 * .5) = 70.23.
    expected = pl.DataFrame(
        [
            ("A", "vip", 70.23, "buys Jazz often", 1),
            ("B", None, None, "no eligible offer", None),
            ("C", None, None, "no eligible offer", None),
            ("D", None, None, "no eligible offer", None),
        ],
        schema={k: FITS_SCHEMA[k] for k in ("customer_id", "offer_id", "offer_fit", "reason", "rank")},
        orient="row",
    )
    got = scores.fits.select("customer_id", "offer_id", "offer_fit", "reason", "rank")
    assert_frame_equal(got, expected, abs_tol=6e-3)
    table = scores.add_to(customer_scores.table)
    assert table.columns[-3:] == ["next_best_offer", "offer_fit", "offer_reason"]
    assert table["next_best_offer"].to_list() == ["vip", None, None, None]
    assert table["offer_reason"].to_list()[1:] == ["no eligible offer"] * 3


def test_write_is_atomic_and_round_trips(tmp_path):
    scores = score_offers(*hand_orders(), HAND_OFFERS)
    out = scores.write(tmp_path / "offers.parquet")
    assert_frame_equal(pl.read_parquet(out), scores.fits)
    scores.write(tmp_path / "offers.csv")
    assert pl.read_csv(tmp_path / "offers.csv")["offer_id"].to_list() == scores.fits["offer_id"].to_list()
    with pytest.raises(InputError, match=r"offers\.xlsx: cannot write \.xlsx; use \.parquet or \.csv"):
        scores.write(tmp_path / "offers.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["offers.csv", "offers.parquet"]


def test_duplicates_drop_counts_a_repeated_line_once(tmp_path):
    frame = pl.read_csv(HAND_ORDERS)
    doubled = pl.concat([frame, frame.filter(pl.col("order_id") == "a3")])  # A's Books line twice
    cfg = {**rfm.inputs.read_yaml(HAND_CONFIG), "input": {"duplicates": "drop"}}
    fits = score_offers(*hand_orders(cfg, doubled), HAND_OFFERS).fits
    assert_frame_equal(fits, HAND_FITS, abs_tol=6e-5)
    kept = score_offers(*hand_orders(HAND_CONFIG, doubled), HAND_OFFERS).fits
    books = kept.filter(customer_id="A", offer_id="books")["affinity"].item()
    assert books > 0.2083 + 0.01  # kept twice, Books weighs more for A


def test_score_offers_fits_the_customer_scores_as_of_their_own_day():
    orders, scores = hand_orders()
    with pytest.raises(InputError) as err:
        score_offers(orders, scores, HAND_OFFERS, as_of="2024-05-01")
    assert str(err.value) == (
        f"{HAND_ORDERS}: the customer scores are as of 2024-06-30, not 2024-05-01; "
        "score the customers as of 2024-05-01 first"
    )
    assert score_offers(orders, scores, HAND_OFFERS, as_of="2024-06-30").as_of == date(2024, 6, 30)


@pytest.mark.parametrize(("days", "eligible"), [(100, ["A", "C", "D"]), (101, ["C", "D"])])
def test_exclude_bought_within_days_counts_the_days_ending_at_as_of(days, eligible):
    # A bought Rock 100 days before as_of: outside the 100 days ending at as_of
    # (ages 0..99), inside the last 101.  B bought Rock on as_of; D never did.
    rock = {"id": "rock", "categories": ["Rock"], "price": 50, "eligibility": {"exclude_bought_within_days": days}}
    cat = {"offers": [rock]}
    best = score_offers(*hand_orders(), cat).best
    assert best.filter(pl.col("next_best_offer").is_not_null())["customer_id"].to_list() == eligible


# --- churn eligibility -------------------------------------------------------------


def test_max_churn_risk_uses_churn_risk_when_scored_and_warns_when_not():
    cat = {"offers": [{"id": "save", "categories": ["Jazz"], "price": 30, "eligibility": {"max_churn_risk": 50}}]}
    orders, customer_scores = hand_orders()
    scores, messages = collect_warnings(score_offers, orders, customer_scores, cat)
    assert scores.fits["offer_id"].to_list() == ["save"] * 4
    assert messages == [
        'offer catalogue: offer "save" sets eligibility.max_churn_risk but the customer scores have no churn_risk; '
        "the churn check is skipped (set churn.method in the config to compute churn risk)"
    ]
    # Churn risk as a churn step attaches it (the churn columns' shape); D's risk is unknown.
    shape = customer_scores.churn_columns().pl().schema
    risk = pl.DataFrame(
        {"customer_id": ["A", "B", "C"], "churn_risk": [10.0, 50.0, 90.0]}
    ).with_columns(*(pl.lit(None, dtype=t).alias(c) for c, t in shape.items() if c not in ("customer_id", "churn_risk")))
    risk = risk.select(list(shape))
    with_risk = dataclasses.replace(customer_scores, churn_table=orders.engine.register(risk, label="churn"))
    scores, messages = collect_warnings(score_offers, orders, with_risk, cat)
    assert messages == []
    # A (10) and B (50) pass; C (90) is too risky; D's risk is unknown, so not eligible.
    assert scores.best["next_best_offer"].to_list() == ["save", "save", None, None]


# --- invariants ----------------------------------------------------------------------

CATS = ["Jazz", "Rock", "Books"]
ACTIONS = ["retain", "upsell", "reactivate", "nurture"]
line = st.tuples(
    st.sampled_from(["c1", "c2", "c3", "c4"]),
    st.integers(1, 6),  # order number within the customer
    st.integers(0, 400),  # days before AS_OF
    st.floats(1, 200, allow_nan=False).map(lambda x: round(x, 2)),
    st.sampled_from(CATS),
)


def lines_frame(lines, future=()) -> pl.DataFrame:
    rows = [(c, f"{c}-{o}", AS_OF - timedelta(days=d), a, k) for c, o, d, a, k in lines]
    # An order lives on one day: its first line's date (keeps orders whole).
    first = {}
    rows = [(c, o, first.setdefault(o, d), a, k) for c, o, d, a, k in rows]
    rows += [(c, f"{c}-f{i}", AS_OF + timedelta(days=d), a, k) for i, (c, d, a, k) in enumerate(future)]
    return pl.DataFrame(
        rows,
        schema={
            "customer_id": pl.String,
            "order_id": pl.String,
            "order_date": pl.Date,
            "amount": pl.Float64,
            "category": pl.String,
        },
        orient="row",
    )


def score_lines(frame: pl.DataFrame, catalogue) -> tuple[pl.DataFrame, pl.DataFrame]:
    orders = rfm.Orders(frame)  # default config: 5 fitted bins, default segments
    scores = orders.score(AS_OF)
    return score_offers(orders, scores, catalogue).fits, scores.table


def catalogue_strategy():
    offer = st.fixed_dictionaries(
        {
            "categories": st.lists(st.sampled_from(CATS), min_size=1, max_size=2, unique=True),
            "price": st.floats(5, 300, allow_nan=False).map(lambda x: round(x, 2)),
            "targets": st.fixed_dictionaries({"actions": st.lists(st.sampled_from(ACTIONS), max_size=2, unique=True)}),
            "eligibility": st.fixed_dictionaries(
                {
                    "min_monetary": st.none() | st.floats(0, 300, allow_nan=False).map(lambda x: round(x, 2)),
                    "exclude_bought_within_days": st.none() | st.integers(1, 200),
                }
            ),
        }
    )
    return st.tuples(st.lists(offer, min_size=1, max_size=4), st.integers(1, 4)).map(
        lambda t: {"top_k": t[1], "offers": [{"id": f"o{i}", **o} for i, o in enumerate(t[0])]}
    )


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAIRED = settings(SETTINGS, max_examples=12)  # two scorings per example


@SETTINGS
@given(st.lists(line, min_size=1, max_size=14), catalogue_strategy())
def test_fits_are_bounded_eligible_and_complete(lines, catalogue):
    frame = lines_frame(lines)
    fits, table = score_lines(frame, catalogue)
    offered = fits.filter(pl.col("offer_id").is_not_null())
    assert offered["offer_fit"].is_between(0, 100).all()
    for col in ("affinity", "price_fit", "audience_fit"):
        assert offered[col].is_between(0, 1).all()
    # Eligibility computed independently from the lines.
    monetary = dict(zip(table["customer_id"], table["monetary"]))
    expected_rows = []
    for cid in table["customer_id"]:
        eligible = []
        for offer in catalogue["offers"]:
            el = offer["eligibility"]
            if el["min_monetary"] is not None and monetary[cid] < el["min_monetary"]:
                continue
            days = el["exclude_bought_within_days"]
            if days is not None:
                recent = frame.filter(
                    (pl.col("customer_id") == cid)
                    & pl.col("category").is_in(offer["categories"])
                    & (pl.col("order_date") > AS_OF - timedelta(days=days))
                )
                if recent.height:
                    continue
            eligible.append(offer["id"])
        got = offered.filter(customer_id=cid)
        assert set(got["offer_id"]) <= set(eligible)
        assert got.height == min(len(eligible), catalogue["top_k"])
        assert got["rank"].to_list() == list(range(1, got.height + 1))
        assert got["offer_fit"].to_list() == sorted(got["offer_fit"].to_list(), reverse=True)
        expected_rows.append(max(1, got.height))
    assert fits.height == sum(expected_rows)  # customers with no eligible offer: one explicit row


@PAIRED
@given(
    st.lists(line, min_size=1, max_size=12),
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3", "c4", "c5"]), st.integers(1, 90), st.floats(1, 500), st.sampled_from(CATS)
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_orders_after_as_of_change_nothing(lines, future):
    catalogue = {"top_k": 3, "offers": [{"id": c, "categories": [c], "price": 30} for c in CATS]}
    before, _ = score_lines(lines_frame(lines), catalogue)
    after, _ = score_lines(lines_frame(lines, future), catalogue)
    assert_frame_equal(before, after)


@PAIRED
@given(st.lists(line, min_size=1, max_size=12), st.integers(0, 11), st.floats(0.5, 500, allow_nan=False))
def test_more_spend_in_a_category_never_lowers_its_affinity(lines, pick, extra):
    i = pick % len(lines)
    customer, category = lines[i][0], lines[i][4]
    catalogue = {"top_k": 3, "offers": [{"id": c, "categories": [c], "price": 30} for c in CATS]}
    richer = list(lines)
    c, o, d, a, k = richer[i]
    richer[i] = (c, o, d, round(a + extra, 2), k)
    before, _ = score_lines(lines_frame(lines), catalogue)
    after, _ = score_lines(lines_frame(richer), catalogue)

    def affinity(fits):
        return fits.filter(customer_id=customer, offer_id=category)["affinity"].item()

    assert affinity(after) >= affinity(before)


@pytest.mark.parametrize(
    "penalty",
    [
        {"price_penalty": "symmetric", "price_scale": 2},
        {"price_penalty": "asymmetric", "price_scale": 1.5, "price_scale_below": 3},
    ],
)
def test_price_at_the_usual_basket_gives_the_maximal_price_fit(penalty):
    # B's usual basket is 60, C's 40, D's 10: an offer at exactly that price fits best.
    factors = [0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0]
    offers = [
        {"id": f"{base}x{f}", "categories": ["Jazz"], "price": base * f}
        for base in (60, 40, 10) for f in factors
    ]
    fits = score_offers(*hand_orders(), {**penalty, "top_k": len(offers), "offers": offers}).fits
    for customer, base in (("B", 60), ("C", 40), ("D", 10)):
        got = fits.filter(customer_id=customer).select("offer_id", "price_fit")
        price = dict(got.iter_rows())
        assert price[f"{base}x1.0"] == 1.0
        assert max(price.values()) == 1.0
        assert all(v < 1.0 for k, v in price.items() if k.endswith("x1.0") is False and k.startswith(f"{base}x"))
    above = 2.0 if penalty["price_penalty"] == "symmetric" else 1.5
    below = 0.5 if penalty["price_penalty"] == "symmetric" else 1 / 3
    c = dict(fits.filter(customer_id="C").select("offer_id", "price_fit").iter_rows())
    assert c["40x2.0"] == pytest.approx(2 ** -(math.log(2) / math.log(above)) ** 2, abs=1e-4)
    assert c["40x0.5"] == pytest.approx(2 ** -(math.log(0.5) / math.log(below)) ** 2, abs=1e-4)


# --- without a category column ---------------------------------------------------------


def test_without_a_category_column_fit_is_price_and_audience_only():
    frame = pl.read_csv(HAND_ORDERS).drop("category")
    orders, customer_scores = hand_orders(HAND_CONFIG, frame)
    cat = {
        "weights": {"affinity": 0.5, "price": 0.2, "audience": 0.3},
        "offers": [
            {"id": "jazz", "categories": ["Jazz"], "price": 40, "targets": {"segments": ["Active"]}},
            {"id": "books", "categories": ["Books"], "price_range": [20, 30], "targets": {"actions": ["reactivate"]},
             "eligibility": {"exclude_bought_within_days": 30}},
        ],
    }
    scores, messages = collect_warnings(score_offers, orders, customer_scores, cat)
    assert messages == [
        "<polars.DataFrame>: no category column, so offer fit uses price and audience only (category affinity is off); "
        "map input.columns.category to score what customers buy",
        'offer catalogue: offer "books" sets eligibility.exclude_bought_within_days but there is no category column; '
        "the check is skipped",
    ]
    # fit = 100 (.2 price + .3 audience) / .5, price fits as in the hand case.
    expected = pl.DataFrame(
        [
            ("A", "jazz", 99.57, None, 0.9891, 1.0, "for Active", 1),
            ("A", "books", 37.74, None, 0.9436, 0.0, "price near usual basket", 2),
            ("B", "jazz", 91.55, None, 0.7888, 1.0, "for Active", 1),
            ("B", "books", 20.0, None, 0.5, 0.0, "cheaper than usual basket", 2),
            ("C", "books", 83.5, None, 0.8875, 0.8, "for reactivate customers", 1),
            ("C", "jazz", 40.0, None, 1.0, 0.0, "price near usual basket", 2),
            ("D", "books", 68.0, None, 0.5, 0.8, "for reactivate customers", 1),
            ("D", "jazz", 2.5, None, 0.0625, 0.0, "a step up from usual basket", 2),
        ],
        schema=FITS_SCHEMA,
        orient="row",
    )
    assert_frame_equal(scores.fits, expected, abs_tol=6e-5)
    with pytest.raises(InputError, match=r"the offer hit rate needs a category column; map input\.columns\.category"):
        offer_hit_rate(orders, scores.best, cat, start="2024-07-01", end="2024-12-31")


def test_affinity_only_weights_without_categories_is_a_config_error():
    frame = pl.read_csv(HAND_ORDERS).drop("category")
    with pytest.raises(ConfigError) as err:
        score_offers(*hand_orders(HAND_CONFIG, frame), HAND_OFFERS)
    assert str(err.value) == (
        f'{HAND_OFFERS}: offer "rock": its weights are all zero once category affinity is off (no category column); '
        "give price or audience a weight"
    )


# --- bad catalogues ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_duplicate_id", 'offers: duplicate offer id "jazz" (offers.0 and offers.2); give every offer its own id'),
        ("bad_empty", "offers: the catalogue has no offers; add at least one under offers:"),
        ("bad_no_price", 'offers.1: offer "books" has no price; set price: 25 or price_range: [20, 40]'),
        (
            "bad_unknown_key",
            'unknown key "prize" in offers.0; did you mean "price"? (known keys: categories, description, '
            "eligibility, id, name, price, price_range, targets, weights)",
        ),
        (
            "bad_asymmetric",
            "price_scale_below: price_penalty: asymmetric needs price_scale_below "
            "(the basket / price ratio at which price fit halves)",
        ),
    ],
)
def test_bad_catalogue_files_fail_with_one_clear_line(name, message):
    path = OFFERS / f"{name}.yaml"
    with pytest.raises(ConfigError) as err:
        load_catalogue(path)
    assert str(err.value) == f"{path}: {message}"
    assert err.value.exit_code == 3


def one(**offer):
    return {"offers": [{"id": "x", "categories": ["A"], **offer}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"offers": [{"id": "x", "price": 3}]},
            'offers.0: offer "x" has no categories; list the product categories it belongs to, e.g. categories: [Books]',
        ),
        (one(price=3, price_range=[2, 4]), 'offers.0: offer "x" sets both price and price_range; keep one'),
        (
            one(price_range=[5, 4]),
            'offers.0: offer "x": price_range must be [low, high] with 0 < low <= high, got [5.0, 4.0]',
        ),
        (one(price=3, categories=["A", "A"]), 'offers.0: offer "x" lists category "A" twice; list each category once'),
        (one(price=0), "offers.0.price: Input should be greater than 0 (got 0)"),
        (
            {**one(price=3), "weights": {"affinity": 0, "price": 0, "audience": 0}},
            "weights: weights are all zero; give affinity, price or audience a positive weight",
        ),
        ({}, "offers: the catalogue has no offers; add at least one under offers:"),
    ],
)
def test_bad_catalogue_dicts(data, message):
    with pytest.raises(ConfigError) as err:
        load_catalogue(data)
    assert str(err.value) == f"offer catalogue: {message}"


def test_unknown_category_and_target_warn_with_the_closest_match():
    path = OFFERS / "unknown_category.yaml"
    cat = load_catalogue(path).model_dump()
    cat["offers"][1]["targets"] = {"segments": ["Activ"], "actions": ["reactivat"]}
    catalogue = load_catalogue(cat)
    catalogue._source = str(path)
    scores, messages = collect_warnings(score_offers, *hand_orders(), catalogue)
    assert messages == [
        f'{path}: offer "jazz" names category "Jaz", which no order line up to as_of has; did you mean "Jazz"? '
        "(categories: Books, Jazz, Rock)",
        f'{path}: offer "books" targets segment "Activ", which the segment rules do not define; did you mean "Active"? '
        "(segments: Active, Lapsed)",
        f'{path}: offer "books" targets action "reactivat", which is not a known action; did you mean "reactivate"? '
        "(actions: retain, upsell, reactivate, nurture)",
    ]
    assert list(scores.warnings) == messages
    # Still scored: "Jaz" has no buyers and no population share, so its affinity is 0.
    assert scores.fits.filter(offer_id="jazz")["affinity"].to_list() == [0.0] * 4


# --- the demo catalogue and the backtest on planted preferences ------------------------------


def test_demo_catalogue_fits_the_demo_data():
    package = Path(rfm.__file__).parent
    orders = rfm.Orders(package / "data" / "demo_orders.csv", package / "presets" / "demo.yaml")
    scores, messages = collect_warnings(score_offers, orders, orders.score(offers=False), PRESET)
    assert messages == []
    best = scores.best
    assert best.height == 1955 and best["next_best_offer"].null_count() == 0
    assert set(best["next_best_offer"]) == {o.id for o in load_catalogue(PRESET).offers}  # every offer wins somewhere
    assert scores.fits.group_by("customer_id").len()["len"].max() == 3


def test_top_offer_beats_the_popularity_baseline_on_planted_preferences():
    """One offer per category, same price, no targets: only category affinity ranks.

    Measured (seeds 1-5, as of 2024-07-03, holdout the next 180 days): hit rate
    of the top offer 9.4-11.9 % vs 7.5-8.4 % for the popularity baseline (lift
    1.25-1.43x); recommending each customer's *planted* favourite (an oracle)
    lifts 1.39-1.57x, so 1.5x is out of reach on this data.  Affinity recovers
    the planted favourite for 66-71 % of customers.
    """
    kwargs = {"customers": 2000, "orders": 8000, "seed": 1}
    orders = rfm.Orders(generate_frame(**kwargs))
    as_of = date(2024, 7, 3)
    catalogue = {"offers": [{"id": c, "categories": [c], "price": 30} for c in DEFAULT_CATEGORIES]}
    best = score_offers(orders, orders.score(as_of), catalogue).best
    holdout = {"start": as_of + timedelta(days=1), "end": as_of + timedelta(days=180)}
    hit = offer_hit_rate(orders, best, catalogue, **holdout)
    planted = generate_customers_frame(**kwargs).select("customer_id", "favourite_category")
    oracle_best = best.join(planted, on="customer_id").with_columns(next_best_offer="favourite_category")
    oracle = offer_hit_rate(orders, oracle_best, catalogue, **holdout)
    matched = best.join(planted, on="customer_id")
    recovered = (matched["next_best_offer"] == matched["favourite_category"]).mean()
    popular_share = (planted["favourite_category"] == hit["baseline_category"]).mean()
    print(
        f"\nhit rate {hit['hit_rate']:.4f} ({hit['hits']}/{hit['customers']}), baseline {hit['baseline_category']} "
        f"{hit['baseline_hit_rate']:.4f}, lift {hit['lift']:.2f}x; among the {hit['active_customers']} holdout buyers "
        f"{hit['hit_rate_active']:.3f} vs {hit['baseline_hit_rate_active']:.3f}; oracle {oracle['hit_rate']:.4f} "
        f"(lift {oracle['lift']:.2f}x); planted favourite recovered {recovered:.3f} vs {popular_share:.3f}"
    )
    assert hit["customers"] == oracle["customers"] > 1900
    assert hit["baseline_category"] == "Books"  # the most popular planted category
    assert hit["lift"] >= 1.2
    # At least half of the oracle's margin over the baseline.
    assert hit["hit_rate"] - hit["baseline_hit_rate"] >= 0.5 * (oracle["hit_rate"] - oracle["baseline_hit_rate"])
    assert recovered >= 0.6 and recovered >= 1.8 * popular_share


def test_an_earlier_offer_result_survives_a_later_scoring_on_the_same_orders(tmp_path):
    orders, scores = hand_orders()
    first = score_offers(orders, scores, HAND_OFFERS)  # its top-k table stays in the engine
    earlier = orders.score(as_of=first.as_of - timedelta(days=200))
    later = score_offers(orders, earlier, HAND_OFFERS)  # a table of its own: the first result keeps its rows
    assert_frame_equal(first.fits, HAND_FITS, abs_tol=6e-5)
    assert not later.fits.equals(first.fits)
    assert_frame_equal(pl.read_parquet(first.write(tmp_path / "first.parquet")), first.fits)
