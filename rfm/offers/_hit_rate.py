"""Offer hit rate: did customers buy what their top offer was about, in a holdout?"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rfm.customers import OrderHistory
from rfm.errors import InputError
from rfm.inputs import parse_date
from rfm.offers._catalogue import OfferCatalogue, catalogue_frame, load_catalogue
from rfm.offers._scoring import offer_lines


def offer_hit_rate(
    orders: OrderHistory,
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
    cat = load_catalogue(catalogue)
    if not orders.source.has_category:
        raise InputError(
            f"{orders.source.label}: the offer hit rate needs a category column; map input.columns.category"
        )
    lo, hi = parse_date(start, "start"), parse_date(end, "end")
    if hi < lo:
        raise InputError(f"holdout end {hi} is before its start {lo}; give start <= end")
    engine = orders.engine
    tables = {
        "best": engine.register(best.select("customer_id", "next_best_offer"), label="offer_best"),
        "catalogue": engine.register(catalogue_frame(cat, affinity=True), label="offer_catalogue"),
        "offer_lines": offer_lines(orders),
    }
    with orders.reading_lines():
        row = engine.fetch("offers.hit_rate", tables, start=lo, end=hi).row(0, named=True)

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
