"""The offer catalogue: one YAML file of offers, validated by a schema.

Each offer lists its categories, a price (or price range), an audience
(targets) and eligibility rules; the catalogue sets the blend weights and the
knobs of every formula (see :mod:`rfm.offers._scoring`).  ``rfm/presets/
offers_demo.yaml`` is a worked example for the demo data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, ValidationInfo, field_validator, model_validator

from rfm.errors import ConfigError
from rfm.inputs import PRESETS, StrictModel, YamlModel, load_model

PRESET = PRESETS / "offers_demo.yaml"


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


class OfferCatalogue(YamlModel):
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
    return load_model(OfferCatalogue, catalogue, what="offer catalogue")


def offer_categories(cat: OfferCatalogue) -> list[str]:
    """Every category the offers name, sorted: the index of the customers' category vectors."""
    return sorted({c for offer in cat.offers for c in offer.categories})


def catalogue_frame(cat: OfferCatalogue, *, affinity: bool) -> pl.DataFrame:
    """One row per offer, as the SQL reads it (``{catalogue}`` in ``queries/offers``)."""
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
