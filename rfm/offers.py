"""Offer fit and next best offer: which offer suits which customer, and why.

An offer catalogue (YAML, :class:`OfferCatalogue`) lists offers with their
categories, price (or price range), audience and eligibility.  For every
scored customer and every offer they are eligible for, ``offer_fit`` (0-100)
blends three components, all computed in DuckDB SQL (``queries/offers.sql``)
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

How it runs (``queries/offers.sql``)
    One grouped pass over the order lines gives the (customer x category)
    cells; shares are turned into per-customer vectors over the categories
    the offers name, so a (customer, offer) pair reads its categories by
    index.  Customers x offers is the only cross product (offers are few);
    the top k per customer are kept by one hash aggregate on integers, and
    components and reasons are computed for the kept rows only.  The
    formulas are SQL macros (``rfm_offer_affinity``, ``rfm_offer_price_fit``,
    ...), defined once.

Hit rate (backtest, :func:`offer_hit_rate`)
    Over the customers with a top offer: the share who bought
    (a kept line with amount >= 0) in one of its categories during the
    holdout ``[start, end]``, next to a popularity baseline: the category in
    most purchase orders before ``start``, recommended to the same customers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import polars as pl
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from rfm import sql
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.io import write_frame, write_relation
from rfm.schema import StrictModel, did_you_mean, read_yaml, validate

if TYPE_CHECKING:
    from rfm.customers import Orders

PRESET = Path(__file__).parent / "presets" / "offers_demo.yaml"

#: Reason thresholds: "often" = at least this share of the customer's orders
#: hold the offer's categories; "near" = price within this factor of the basket.
REASON_OFTEN_SHARE = 0.5
REASON_NEAR_FACTOR = 1.25

#: SQL macros holding the formulas (queries/offers.sql), created before ranking.
MACROS = (
    "offer_macro_sum_at",
    "offer_macro_max_at",
    "offer_macro_affinity",
    "offer_macro_log_price_ratio",
    "offer_macro_price_fit",
    "offer_macro_audience_match",
    "offer_macro_audience_fit",
    "offer_macro_blend",
)

#: Columns added to the customer table by :meth:`OfferScores.add_to`.
CUSTOMER_COLUMNS = ("next_best_offer", "offer_fit", "offer_reason")


class Weights(StrictModel):
    """Blend weights; normalised to sum 1 per offer."""

    affinity: float = Field(0.6, ge=0)
    price: float = Field(0.25, ge=0)
    audience: float = Field(0.15, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> Weights:
        if self.affinity + self.price + self.audience <= 0:
            raise ValueError("weights are all zero; give affinity, price or audience a positive weight")
        return self


class WeightsOverride(StrictModel):
    """An offer's own weights; unset keys take the catalogue's."""

    affinity: float | None = Field(None, ge=0)
    price: float | None = Field(None, ge=0)
    audience: float | None = Field(None, ge=0)


class Targets(StrictModel):
    actions: list[str] = Field(default_factory=list)
    segments: list[str] = Field(default_factory=list)


class Eligibility(StrictModel):
    min_monetary: float | None = Field(None, description="customer monetary value at least this")
    max_churn_risk: float | None = Field(None, ge=0, le=100, description="churn_risk (0-100) at most this")
    exclude_bought_within_days: int | None = Field(
        None, gt=0, description="not for customers who bought the offer's categories in the last N days"
    )


class Offer(StrictModel):
    id: str = Field(min_length=1)
    name: str = ""
    description: str = ""
    categories: list[str] = Field(default_factory=list, validate_default=True)
    price: float | None = Field(None, gt=0)
    price_range: list[float] | None = None
    targets: Targets = Targets()
    eligibility: Eligibility = Eligibility()
    weights: WeightsOverride = WeightsOverride()

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _price_and_categories(self) -> Offer:
        if not self.categories:
            raise ValueError(
                f'offer "{self.id}" has no categories; list the product categories it belongs to, '
                "e.g. categories: [Books]"
            )
        if self.price is None and self.price_range is None:
            raise ValueError(f'offer "{self.id}" has no price; set price: 25 or price_range: [20, 40]')
        if self.price is not None and self.price_range is not None:
            raise ValueError(f'offer "{self.id}" sets both price and price_range; keep one')
        if self.price_range is not None:
            rng = self.price_range
            if len(rng) != 2 or not 0 < rng[0] <= rng[1]:
                raise ValueError(
                    f'offer "{self.id}": price_range must be [low, high] with 0 < low <= high, got {rng}'
                )
        seen = set()
        for cat in self.categories:
            if cat in seen:
                raise ValueError(f'offer "{self.id}" lists category "{cat}" twice; list each category once')
            seen.add(cat)
        return self

    @property
    def price_bounds(self) -> tuple[float, float]:
        if self.price_range is not None:
            return float(self.price_range[0]), float(self.price_range[1])
        return float(self.price), float(self.price)  # type: ignore[arg-type]


class AudienceScores(StrictModel):
    """Audience fit by how the offer's targets meet the customer (0-1)."""

    segment: float = Field(1.0, ge=0, le=1)
    action: float = Field(0.8, ge=0, le=1)
    everyone: float = Field(0.5, ge=0, le=1)
    other: float = Field(0.0, ge=0, le=1)


class OfferCatalogue(StrictModel):
    description: str = ""
    weights: Weights = Weights()
    half_life_days: float = Field(365.0, gt=0, description="recency decay of category affinity")
    smoothing: float = Field(2.0, ge=0, description="pseudo-orders pulling shares toward the population share")
    spend_share_weight: float = Field(0.5, ge=0, le=1, description="affinity = this * spend share + rest * order share")
    price_penalty: Literal["symmetric", "asymmetric"] = "symmetric"
    price_scale: float = Field(2.0, gt=1, description="price / usual basket ratio at which price fit halves")
    price_scale_below: float | None = Field(
        None, gt=1, validate_default=True, description="asymmetric: basket / price ratio at which it halves"
    )
    audience: AudienceScores = AudienceScores()
    top_k: int = Field(3, ge=1)
    offers: list[Offer] = Field(default_factory=list, validate_default=True)

    _source: str = PrivateAttr("catalogue")

    @property
    def source(self) -> str:
        return self._source

    @field_validator("offers")
    @classmethod
    def _unique_offers(cls, offers: list[Offer]) -> list[Offer]:
        if not offers:
            raise ValueError("the catalogue has no offers; add at least one under offers:")
        first: dict[str, int] = {}
        for i, offer in enumerate(offers):
            if offer.id in first:
                raise ValueError(
                    f'duplicate offer id "{offer.id}" (offers.{first[offer.id]} and offers.{i}); '
                    "give every offer its own id"
                )
            first[offer.id] = i
        return offers

    @field_validator("price_scale_below")
    @classmethod
    def _scale_below(cls, value: float | None, info: ValidationInfo) -> float | None:
        penalty = info.data.get("price_penalty")
        if penalty == "asymmetric" and value is None:
            raise ValueError(
                "price_penalty: asymmetric needs price_scale_below (the basket / price ratio at which price fit halves)"
            )
        if penalty == "symmetric" and value is not None:
            raise ValueError("price_scale_below only applies with price_penalty: asymmetric; remove it or set that")
        return value

    def weights_for(self, offer: Offer, *, affinity: bool) -> tuple[float, float, float]:
        """The offer's (affinity, price, audience) weights, normalised to sum 1."""
        w = {k: getattr(offer.weights, k) for k in ("affinity", "price", "audience")}
        w = {k: float(v if v is not None else getattr(self.weights, k)) for k, v in w.items()}
        if not affinity:
            w["affinity"] = 0.0
        total = sum(w.values())
        if total <= 0:
            why = " once category affinity is off (no category column)" if not affinity else ""
            raise ConfigError(
                f'{self.source}: offer "{offer.id}": its weights are all zero{why}; give price or audience a weight'
            )
        return w["affinity"] / total, w["price"] / total, w["audience"] / total


def load_catalogue(catalogue: OfferCatalogue | str | Path | dict[str, Any]) -> OfferCatalogue:
    """Validate an offer catalogue from a YAML path or a dict (ConfigError with the key path)."""
    if isinstance(catalogue, OfferCatalogue):
        return catalogue
    if isinstance(catalogue, dict):
        data, source = catalogue, "offer catalogue"
    else:
        data, source = read_yaml(catalogue), str(catalogue)
    cat = validate(OfferCatalogue, data, source)
    cat._source = source
    return cat


def offer_categories(cat: OfferCatalogue) -> list[str]:
    """Every category the offers name, sorted: the index of the customers' category vectors."""
    return sorted({c for offer in cat.offers for c in offer.categories})


def catalogue_frame(cat: OfferCatalogue, *, affinity: bool) -> pl.DataFrame:
    """One row per offer, as the SQL reads it (``rfm_offer_catalogue``)."""
    index = {c: i for i, c in enumerate(offer_categories(cat), start=1)}
    rows = []
    for position, offer in enumerate(cat.offers, start=1):
        lo, hi = offer.price_bounds
        wa, wp, wu = cat.weights_for(offer, affinity=affinity)
        el = offer.eligibility
        rows.append(
            {
                "offer_id": offer.id,
                "position": position,
                "name": offer.name or offer.id,
                "categories": list(offer.categories),
                "category_ix": [index[c] for c in offer.categories],
                "price_low": lo,
                "price_high": hi,
                "target_actions": list(offer.targets.actions),
                "target_segments": list(offer.targets.segments),
                "min_monetary": el.min_monetary,
                "max_churn_risk": el.max_churn_risk,
                "exclude_days": el.exclude_bought_within_days,
                "w_affinity": wa,
                "w_price": wp,
                "w_audience": wu,
            }
        )
    schema = {
        "offer_id": pl.String,
        "position": pl.Int32,
        "name": pl.String,
        "categories": pl.List(pl.String),
        "category_ix": pl.List(pl.Int32),
        "price_low": pl.Float64,
        "price_high": pl.Float64,
        "target_actions": pl.List(pl.String),
        "target_segments": pl.List(pl.String),
        "min_monetary": pl.Float64,
        "max_churn_risk": pl.Float64,
        "exclude_days": pl.Int32,
        "w_affinity": pl.Float64,
        "w_price": pl.Float64,
        "w_audience": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


@dataclass
class OfferScores:
    """Result of :func:`score_offers`.

    The top-k table stays in DuckDB (``rfm_offer_top``, k rows per customer)
    until ``fits`` or ``best`` is read, so scoring 10 M customers does not copy
    tens of millions of rows into Python; ``write`` streams it to a file.
    """

    as_of: date
    catalogue: OfferCatalogue
    reach: pl.DataFrame  # offer_id, customers (in a top k), best_for (rank 1)
    warnings: list[str] = field(default_factory=list)
    _con: Any = None  # the scoring connection while its rfm_offer_top is this result's
    _fits: pl.DataFrame | None = None

    @property
    def fits(self) -> pl.DataFrame:
        """customer_id, offer_id, offer_fit, affinity, price_fit, audience_fit, reason, rank (top k per customer)."""
        if self._fits is None:
            self._fits = self._con.sql("SELECT * FROM rfm_offer_top").pl()  # stored in customer, rank order
        return self._fits

    def _detach(self) -> None:
        """A later scoring replaces rfm_offer_top: keep this result's rows in Python."""
        if self._con is not None:
            _ = self.fits
            self._con = None

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

    def write(self, path: str | Path) -> Path:
        """Write the top-k table (``fits``) to .parquet or .csv, atomically."""
        if self._con is None:
            return write_frame(self.fits, path)
        return write_relation(self._con.sql("SELECT * FROM rfm_offer_top"), path)


def _columns(con: Any, table: str) -> list[str]:
    return [row[0] for row in con.sql(f"DESCRIBE {table}").fetchall()]


def _prepare_lines(orders: Orders) -> None:
    inp = orders.config.input
    block = "offer_lines_distinct" if inp.duplicates == "drop" else "offer_lines_all"
    sql.execute(orders.con, block)


def _result_as_of(orders: Orders) -> date:
    try:
        row = sql.first_row(orders.con, "SELECT max(as_of) FROM rfm_result")
    except duckdb.CatalogException:  # no scoring ran on this connection
        row = None
    if row is None or row[0] is None:
        raise InputError(f"{orders.source.label}: no customer scores to fit offers to; run orders.score(as_of) first")
    return row[0]


def score_offers(
    orders: Orders,
    catalogue: OfferCatalogue | str | Path | dict[str, Any],
    *,
    as_of: date | str | None = None,
    top_k: int | None = None,
) -> OfferScores:
    """Fit every offer to every scored customer as of ``as_of`` (see the module docstring).

    ``orders.score(as_of)`` must have run on this connection: its customer
    table (``rfm_result``) supplies segment, action, monetary value, usual
    basket and, when present, churn risk.  ``as_of`` defaults to the date of
    that scoring and must equal it.
    """
    from rfm.io import parse_date

    cat = load_catalogue(catalogue)
    k = cat.top_k if top_k is None else top_k
    if k < 1:
        raise ConfigError(f"top_k must be at least 1, got {k}")
    orders.build_order_table()  # no-op when the scoring already built it
    con = orders.con
    label = orders.source.label
    scored = _result_as_of(orders)
    day = scored if as_of is None else parse_date(as_of, "as_of")
    if day != scored:
        raise InputError(
            f"{label}: the customer scores are as of {scored}, not {day}; "
            f"run orders.score(as_of={day.isoformat()!r}) first"
        )
    collected: list[str] = []

    def warn(message: str) -> None:
        collected.append(message)
        warnings.warn(message, RfmWarning, stacklevel=3)

    has_category = orders.source.mapping.get("category") is not None
    if not has_category:
        warn(
            f"{label}: no category column, so offer fit uses price and audience only (category affinity is off); "
            "map input.columns.category to score what customers buy"
        )
    _prepare_lines(orders)
    sql.execute(con, "offer_category_cells", as_of=day, half_life_days=cat.half_life_days)
    sql.execute(con, "offer_customer_totals", as_of=day, half_life_days=cat.half_life_days)
    sql.execute(con, "offer_affinity")
    sql.execute(con, "offer_population")

    offers = catalogue_frame(cat, affinity=has_category)
    con.register("rfm_offer_catalogue", offers)
    sql.execute(con, "offer_vectors", categories=offer_categories(cat))
    has_churn = "churn_risk" in _columns(con, "rfm_result")
    sql.execute(con, "offer_customers_with_churn" if has_churn else "offer_customers_without_churn")

    for message in _catalogue_warnings(orders, cat, has_category=has_category, has_churn=has_churn):
        warn(message)

    sql.execute(con, "offer_priors")
    for name in MACROS:
        sql.execute(con, name)
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
    sql.execute(con, "offer_rank", as_of=day, check_churn=has_churn, top_k=k, **settings)
    sql.execute(con, "offer_fits", often_share=REASON_OFTEN_SHARE, log_near=math.log(REASON_NEAR_FACTOR), **settings)
    if getattr(orders, "_offers_result", None) is not None:
        orders._offers_result._detach()  # rfm_offer_top is about to be replaced
    sql.execute(con, "offer_top")
    sql.execute(con, "offer_best")
    reach = sql.fetch(con, "offer_reach")
    for row in reach.iter_rows(named=True):
        if row["customers"] == 0:
            warn(
                f'{cat.source}: offer "{row["offer_id"]}" is in no customer\'s top {k} '
                "(not eligible for anyone, or always outranked); check its eligibility and price"
            )
    result = OfferScores(day, cat, reach, collected, _con=con)
    orders._offers_result = result
    return result


def _catalogue_warnings(orders: Orders, cat: OfferCatalogue, *, has_category: bool, has_churn: bool) -> list[str]:
    out: list[str] = []
    src = cat.source
    seen = [r[0] for r in sql.fetch_rows(orders.con, "offer_categories_seen")] if has_category else []
    shown = ", ".join(seen[:20]) + (", ..." if len(seen) > 20 else "")
    grid = orders.con.sql("SELECT DISTINCT segment FROM rfm_segment_grid ORDER BY segment").fetchall()
    segments = [r[0] for r in grid]
    actions = list(orders.config.actions)
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


def offer_hit_rate(
    orders: Orders,
    best: pl.DataFrame,
    catalogue: OfferCatalogue | str | Path | dict[str, Any],
    *,
    start: date | str,
    end: date | str,
) -> dict[str, Any]:
    """Hit rate of the top offer over the holdout ``[start, end]`` vs the popularity baseline.

    ``best`` has ``customer_id`` and ``next_best_offer`` (``OfferScores.best``);
    customers without an offer are left out.  ``lift`` is hit_rate / baseline_hit_rate;
    ``*_active`` rates are among the customers who bought anything in the holdout.
    """
    from rfm.io import parse_date

    cat = load_catalogue(catalogue)
    if orders.source.mapping.get("category") is None:
        raise InputError(
            f"{orders.source.label}: the offer hit rate needs a category column; map input.columns.category"
        )
    lo, hi = parse_date(start, "start"), parse_date(end, "end")
    if hi < lo:
        raise InputError(f"holdout end {hi} is before its start {lo}; give start <= end")
    con = orders.con
    _prepare_lines(orders)
    con.register("rfm_offer_catalogue", catalogue_frame(cat, affinity=True))
    con.register("rfm_offer_best", best.select("customer_id", "next_best_offer"))
    row = sql.fetch(con, "offer_hit_rate", start=lo, end=hi).row(0, named=True)

    def rate(n: int, d: int) -> float | None:
        return n / d if d else None

    customers, active = int(row["customers"]), int(row["active_customers"])
    hits, base = int(row["hits"]), int(row["baseline_hits"])
    hit_rate, base_rate = rate(hits, customers), rate(base, customers)
    return {
        "start": lo,
        "end": hi,
        "customers": customers,
        "active_customers": active,
        "hits": hits,
        "hit_rate": hit_rate,
        "baseline_category": row["baseline_category"],
        "baseline_hits": base,
        "baseline_hit_rate": base_rate,
        "lift": hit_rate / base_rate if hit_rate is not None and base_rate else None,
        "hit_rate_active": rate(hits, active),
        "baseline_hit_rate_active": rate(base, active),
    }
