"""Offer fit and next best offer: which offer suits which customer, and why.

* :func:`add_offers` -- the step: ``CustomerScores`` in, with next_best_offer,
  offer_fit and offer_reason added (SQL in ``queries/offers``);
* :func:`score_offers` / :class:`OfferScores` -- every customer's top k offers
  with their fit components and reasons;
* :class:`OfferCatalogue` / :func:`load_catalogue` -- the catalogue YAML;
* :func:`offer_hit_rate` -- did customers buy their top offer's categories in a holdout?

The formulas are documented in :mod:`rfm.offers._scoring` and docs/offers.md.
"""

from rfm.offers._catalogue import PRESET, Offer, OfferCatalogue, catalogue_frame, load_catalogue, offer_categories
from rfm.offers._hit_rate import offer_hit_rate
from rfm.offers._scoring import (
    CUSTOMER_COLUMNS,
    REASON_NEAR_FACTOR,
    REASON_OFTEN_SHARE,
    OfferScores,
    add_offers,
    offer_lines,
    score_offers,
)

__all__ = [
    "CUSTOMER_COLUMNS",
    "PRESET",
    "REASON_NEAR_FACTOR",
    "REASON_OFTEN_SHARE",
    "Offer",
    "OfferCatalogue",
    "OfferScores",
    "add_offers",
    "catalogue_frame",
    "load_catalogue",
    "offer_categories",
    "offer_hit_rate",
    "offer_lines",
    "score_offers",
]
