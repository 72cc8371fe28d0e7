"""Offer fit and next best offer: which offer suits which customer, and why.

An offer catalogue (YAML, :class:`OfferCatalogue`) lists offers with their
categories, price (or price range), audience and eligibility.  For every
scored customer and every offer they are eligible for, ``offer_fit`` (0-100)
blends three components, all computed in SQL (``queries/offers/offers.sql``)
as of ``as_of``; lines dated after ``as_of`` are ignored.

Category affinity (0-1): what the customer buys
    One grouped pass over the order lines gives, per (customer, category),
    the decayed spend and the decayed number of purchase orders holding the
    category.  A line or order ``a`` days before ``as_of`` weighs
    ``0.5 ** (a / half_life_days)``.  For the offer's categories C::

        S = max(0, decayed spend in C) / decayed spend over all categories
        O = decayed orders holding C / decayed purchase orders      (capped at 1)
        S~ = (n * S + k * pop_S) / (n + k)      O~ likewise with pop_O
        affinity = b * S~ + (1 - b) * O~

    with ``n`` the customer's purchase orders (the evidence), ``k`` =
    ``smoothing`` (pseudo-orders), ``b`` = ``spend_share_weight`` and ``pop``
    the population share: the mean of the customers' raw shares of C (a
    customer who never bought C counts 0).  One order in C does not mean
    100 %: with k = 2 a first order moves the share a third of the way.
    Spend is net of returns per category (a negative category counts 0);
    returns are not purchases.  For an offer with several categories the
    order share sums the categories' shares (capped at 1), which counts an
    order with lines in two of them twice.

Price fit (0-1): what the customer spends
    ``r = ln(price / aov)`` with ``aov`` the customer's usual basket
    (``net / frequency`` from the customer scores).  For a price range
    ``[lo, hi]``, ``r = 0`` when ``aov`` lies inside, else the ratio to the
    nearer end.  ``price_fit = 2 ** -(r / ln T) ** 2``: 1 at the usual
    basket, 0.5 when the price is T times (or 1/T of) it, 1/16 at T².
    ``price_penalty: symmetric`` uses ``T = price_scale`` on both sides;
    ``asymmetric`` uses ``price_scale`` above the basket and
    ``price_scale_below`` below it.  A customer with ``aov <= 0`` gets 0.

Audience fit (0-1): where the customer stands
    ``audience.segment`` (default 1.0) when the offer targets the customer's
    segment, else ``audience.action`` (0.8) when it targets their action,
    else ``audience.everyone`` (0.5) for an offer with no targets, else
    ``audience.other`` (0.0).

Blend::

    offer_fit = 100 * (w_a * affinity + w_p * price_fit + w_u * audience)
                / (w_a + w_p + w_u)

rounded to 2 decimals, with the catalogue ``weights`` (an offer's own
``weights`` override them key by key).  Without a category column ``w_a = 0``
(the column ``affinity`` is then NULL) and a warning says so.

Eligibility (hard filters; ineligible pairs are never scored)
    ``min_monetary``: the customer's monetary value >= it.
    ``max_churn_risk`` (0-100): needs a ``churn_risk`` column in the customer
    scores (``churn.method``); a customer with unknown risk is not eligible;
    without the column the check is skipped with a warning.
    ``exclude_bought_within_days: N``: not for customers who bought in the
    offer's categories in the N days ending at ``as_of``.

Ranking and reasons
    Offers are ranked per customer by fit (ties: catalogue order); the top
    ``top_k`` are kept and rank 1 is the ``next_best_offer``.  The reason
    names the component with the largest weighted contribution (ties:
    affinity, price, audience):

    * affinity: ``buys Jazz often`` (at least half of the customer's orders
      hold the offer's categories), ``bought Jazz before`` (some do),
      ``Jazz is popular`` (none do: the population prior carried it), naming
      the offer category the customer spends most on (else its first);
    * price: ``price near usual basket`` (within a factor 1.25),
      ``cheaper than usual basket``, ``a step up from usual basket``;
    * audience: ``for Champions`` (segment), ``for reactivate customers``
      (action), ``open to everyone``.

    A customer with no eligible offer gets one row with no offer and the
    reason ``no eligible offer``.

How it runs (``queries/offers/offers.sql``)
    One grouped pass over the order lines gives the (customer x category)
    cells; shares are turned into per-customer vectors over the categories
    the offers name, so a (customer, offer) pair reads its categories by
    index.  Customers x offers is the only cross product (offers are few);
    the top k per customer are kept by one hash aggregate on integers, and
    components and reasons are computed for the kept rows only.  The
    formulas are SQL macros (``rfm_offer_affinity``, ``rfm_offer_price_fit``,
    ...), defined once.  The Spark engine runs the same blocks (macros
    expanded, ``max_by(x, key, k)`` as a sorted ``collect_list``; see
    :mod:`rfm.engine._dialect`) and gives the same tables, ties included
    (tests/spark/test_offers_parity.py).

Hit rate (backtest, :func:`offer_hit_rate`)
    Over the customers with a top offer: the share who bought
    (a kept line with amount >= 0) in one of its categories during the
    holdout ``[start, end]``, next to a popularity baseline: the category in
    most purchase orders before ``start``, recommended to the same customers.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from rfm.customers import CustomerScores, OrderHistory
from rfm.engine import Table
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.inputs import did_you_mean, parse_date
from rfm.offers._catalogue import OfferCatalogue, catalogue_frame, load_catalogue, offer_categories

#: Reason thresholds: "often" = at least this share of the customer's orders
#: hold the offer's categories; "near" = price within this factor of the basket.
REASON_OFTEN_SHARE = 0.5
REASON_NEAR_FACTOR = 1.25

#: SQL macros holding the formulas (queries/offers/offers.sql), created before ranking.
MACROS = (
    "offers.macro_sum_at",
    "offers.macro_max_at",
    "offers.macro_affinity",
    "offers.macro_log_price_ratio",
    "offers.macro_price_fit",
    "offers.macro_audience_match",
    "offers.macro_audience_fit",
    "offers.macro_blend",
)

#: Columns the offer step adds to the customer table.
CUSTOMER_COLUMNS = ("next_best_offer", "offer_fit", "offer_reason")


@dataclass(frozen=True)
class OfferScores:
    """Result of :func:`score_offers`: it owns its tables.

    The top-k table (k rows per customer) stays in the engine until ``fits``
    or ``best`` is read, so scoring 10 M customers does not copy tens of
    millions of rows into Python; ``write`` streams it to a file.
    """

    as_of: date
    catalogue: OfferCatalogue
    reach: pl.DataFrame  # offer_id, customers (in a top k), best_for (rank 1)
    top_table: Table  # customer_id, offer_id, offer_fit, affinity, price_fit, audience_fit, reason, rank
    best_table: Table  # customer_id, next_best_offer, offer_fit, reason: rank 1 or the no-offer row
    warnings: tuple[str, ...] = field(default=())

    @cached_property
    def fits(self) -> pl.DataFrame:
        """customer_id, offer_id, offer_fit, affinity, price_fit, audience_fit, reason, rank (top k per customer)."""
        return self.top_table.pl()  # stored in customer, rank order

    @property
    def best(self) -> pl.DataFrame:
        """One row per scored customer: next_best_offer (NULL when none is eligible), offer_fit, reason."""
        return (
            self.fits.filter(pl.col("rank").is_null() | (pl.col("rank") == 1))
            .select("customer_id", pl.col("offer_id").alias("next_best_offer"), "offer_fit", "reason")
            .sort("customer_id")
        )

    def add_to(self, customers: pl.DataFrame) -> pl.DataFrame:
        """``customers`` with next_best_offer, offer_fit and offer_reason joined on customer_id."""
        best = self.best.rename({"reason": "offer_reason"})
        clash = [c for c in CUSTOMER_COLUMNS if c in customers.columns]
        return customers.drop(clash).join(best, on="customer_id", how="left", maintain_order="left")

    def write(self, path: str | Path, *, if_exists: str = "fail") -> Path:
        """Write the top-k table (``fits``) to .parquet or .csv, atomically; or to a PostgreSQL table
        (``postgresql://.../db?table=schema.name``), swapped in atomically."""
        return self.top_table.write(path, if_exists=if_exists)


def offer_lines(orders: OrderHistory) -> Table:
    """The order lines offers learn from: kept lines, exact duplicates once with ``input.duplicates: drop``."""
    block = "offers.lines_distinct" if orders.config.input.duplicates == "drop" else "offers.lines_all"
    return orders.engine.view(block, {"lines": orders.lines})


def add_offers(
    orders: OrderHistory,
    scores: CustomerScores,
    catalogue: OfferCatalogue | str | Path | dict[str, Any],
    *,
    top_k: int | None = None,
) -> CustomerScores:
    """``scores`` with next_best_offer, offer_fit and offer_reason (rank 1 of :func:`score_offers`) added."""
    started = time.perf_counter()
    offers = score_offers(orders, scores, catalogue, top_k=top_k)
    table = orders.engine.create("offers.attach", {"scores": scores.sql_table, "best": offers.best_table})
    return scores.extend(table, notes=offers.warnings, seconds=time.perf_counter() - started, offers=offers)


def score_offers(
    orders: OrderHistory,
    scores: CustomerScores,
    catalogue: OfferCatalogue | str | Path | dict[str, Any],
    *,
    as_of: date | str | None = None,
    top_k: int | None = None,
) -> OfferScores:
    """Fit every offer to every customer of ``scores`` (see the module docstring).

    ``scores`` supplies segment, action, monetary value, usual basket and, when
    a churn step ran, churn risk; the offers are fitted as of its date
    (``as_of``, when given, must equal it).  Reads the order lines and the
    order table of ``orders``."""
    cat = load_catalogue(catalogue)
    k = cat.top_k if top_k is None else top_k
    if k < 1:
        raise ConfigError(f"top_k must be at least 1, got {k}")
    label = orders.source.label
    day = scores.as_of
    if as_of is not None and parse_date(as_of, "as_of") != day:
        raise InputError(
            f"{label}: the customer scores are as of {day}, not {parse_date(as_of, 'as_of')}; "
            f"score the customers as of {parse_date(as_of, 'as_of').isoformat()} first"
        )
    collected: list[str] = []

    def warn(message: str) -> None:
        collected.append(message)
        warnings.warn(message, RfmWarning, stacklevel=3)

    has_category = orders.source.has_category
    if not has_category:
        warn(
            f"{label}: no category column, so offer fit uses price and audience only (category affinity is off); "
            "map input.columns.category to score what customers buy"
        )
    engine = orders.engine
    half_life = cat.half_life_days
    with orders.reading_lines():
        cells = engine.create("offers.category_cells", {"offer_lines": offer_lines(orders)}, as_of=day,
                              half_life_days=half_life)
    totals = engine.create("offers.customer_totals", {"scores": scores.sql_table, "orders": orders.order_table},
                           as_of=day, half_life_days=half_life)
    affinity = engine.create("offers.affinity", {"cells": cells, "totals": totals})
    population = engine.create("offers.population", {"affinity": affinity, "totals": totals})
    offers = engine.register(catalogue_frame(cat, affinity=has_category), label="offer_catalogue")
    vectors = engine.create("offers.vectors", {"affinity": affinity}, categories=offer_categories(cat))
    customers = engine.create(
        "offers.customers",
        {"scores": scores.sql_table, "churn": scores.churn_columns(), "totals": totals, "vectors": vectors},
    )
    has_churn = scores.churn_table is not None
    seen = [r[0] for r in engine.rows("offers.categories_seen", {"cells": cells})] if has_category else []
    for message in _catalogue_warnings(cat, scores, seen, has_category=has_category, has_churn=has_churn):
        warn(message)

    priors = engine.create("offers.priors", {"catalogue": offers, "population": population})
    for name in MACROS:
        engine.run(name)
    below = cat.price_scale_below if cat.price_penalty == "asymmetric" else cat.price_scale
    settings = {
        "smoothing": cat.smoothing,
        "spend_share_weight": cat.spend_share_weight,
        "log_scale_up": math.log(cat.price_scale),
        "log_scale_down": math.log(below),  # type: ignore[arg-type]
        "audience_segment": cat.audience.segment,
        "audience_action": cat.audience.action,
        "audience_everyone": cat.audience.everyone,
        "audience_other": cat.audience.other,
    }
    common = {"customers": customers, "catalogue": offers, "priors": priors}
    ranked = engine.create("offers.rank", common, as_of=day, check_churn=has_churn, top_k=k, **settings)
    fits = engine.create("offers.fits", {"ranked": ranked, **common}, often_share=REASON_OFTEN_SHARE,
                         log_near=math.log(REASON_NEAR_FACTOR), **settings)
    top = engine.create("offers.top", {"fits": fits, "customers": customers})
    best = engine.view("offers.best", {"top": top})
    reach = engine.fetch("offers.reach", {"catalogue": offers, "fits": fits})
    for row in reach.iter_rows(named=True):
        if row["customers"] == 0:
            warn(
                f'{cat.source}: offer "{row["offer_id"]}" is in no customer\'s top {k} '
                "(not eligible for anyone, or always outranked); check its eligibility and price"
            )
    return OfferScores(day, cat, reach, top, best, tuple(collected))


def _catalogue_warnings(
    cat: OfferCatalogue, scores: CustomerScores, seen: list[str], *, has_category: bool, has_churn: bool
) -> list[str]:
    out: list[str] = []
    src = cat.source
    shown = ", ".join(seen[:20]) + (", ..." if len(seen) > 20 else "")
    segments = sorted(set(scores.ruleset.grid["segment"].to_list()))
    actions = list(scores.config.actions)
    for offer in cat.offers:
        if has_category:
            for category in offer.categories:
                if category not in seen:
                    close = did_you_mean(category, seen)
                    out.append(
                        f'{src}: offer "{offer.id}" names category "{category}", which no order line up to as_of has'
                        f"{close} (categories: {shown or 'none'})"
                    )
        for segment in offer.targets.segments:
            if segment not in segments:
                out.append(
                    f'{src}: offer "{offer.id}" targets segment "{segment}", which the segment rules do not define'
                    f"{did_you_mean(segment, segments)} (segments: {', '.join(segments)})"
                )
        for action in offer.targets.actions:
            if action not in actions:
                out.append(
                    f'{src}: offer "{offer.id}" targets action "{action}", which is not a known action'
                    f"{did_you_mean(action, actions)} (actions: {', '.join(actions)})"
                )
        el = offer.eligibility
        if el.max_churn_risk is not None and not has_churn:
            out.append(
                f'{src}: offer "{offer.id}" sets eligibility.max_churn_risk but the customer scores have no '
                "churn_risk; the churn check is skipped (set churn.method in the config to compute churn risk)"
            )
        if el.exclude_bought_within_days is not None and not has_category:
            out.append(
                f'{src}: offer "{offer.id}" sets eligibility.exclude_bought_within_days but there is no '
                "category column; the check is skipped"
            )
    return out


