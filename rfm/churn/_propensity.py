"""``churn.method: propensity``: a gradient-boosted classifier learned from the customers' own history.

As of ``as_of`` with horizon ``h`` days:

1. **Training rows.** Features of every customer with a purchase on or before
   ``train_end = as_of - h`` (``queries/churn/propensity.sql``), and the label
   "at least one purchase day in (train_end, as_of]".  The training cut-off
   plus the horizon is ``as_of``: nothing after ``as_of`` is read, so a score
   never changes when later orders arrive.
2. **Fit and calibrate.** A stratified, seeded share of the training customers
   (``churn.propensity.calibration_share``, default 20 %) is held out.
   scikit-learn's ``HistGradientBoostingClassifier`` learns on the rest (early
   stopping on a seeded internal split).  The held-out slice then calibrates its
   probabilities (Platt's sigmoid by default, or isotonic) through
   ``CalibratedClassifierCV`` on the frozen booster.  A Poisson
   ``HistGradientBoostingRegressor`` learns the number of purchase days in the
   horizon (the expected orders).
3. **Apply.** The same features as of ``as_of`` give every customer's
   P(an order in the next h days) and expected orders.

Features: recency, purchase days, orders, tenure, mean and total spend, the
mean and spread of the gaps between purchase days, purchase days and spend in
the last horizon and in the one before (the trend), purchase days in the last
year, the returns share, and, with a category column, the number of
categories bought and the main category's share of spend.  Missing values (no
gap for a one-time buyer) are left missing: the booster routes them itself; a
feature missing for every training customer is left out (``features_empty``).

Deterministic: rows are ordered by customer_id, every random choice is seeded,
and the boosters' histograms are summed per feature, so the thread count does
not change a prediction (tested).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from rfm.customers import ChurnConfig, OrderHistory
from rfm.engine import Table
from rfm.errors import ModelError

#: Features from the order table, in the model's column order.
FEATURES = (
    "recency_days", "purchase_days", "orders", "tenure_days", "mean_spend", "total_spend", "gap_mean_days",
    "gap_sd_days", "days_last_period", "days_prior_period", "spend_last_period", "spend_prior_period",
    "days_last_year", "returns_share",
)
#: With a category column.
CATEGORY_FEATURES = ("categories", "main_category_share")
#: The fewest training customers of each outcome (ordered / did not) the classifier learns from.
MIN_PER_CLASS = 25
#: A booster that ranks held-out customers worse than this learned nothing that generalises: refused
#: (calibrating it could even invert its ranking).
MIN_HELD_OUT_AUC = 0.55
_BOOSTER = {"learning_rate": 0.1, "max_iter": 300, "max_leaf_nodes": 15, "min_samples_leaf": 20,
            "l2_regularization": 1.0, "early_stopping": True, "validation_fraction": 0.15, "n_iter_no_change": 15}


def fit_propensity(
    orders: OrderHistory, as_of: date, cfg: ChurnConfig
) -> tuple[dict[str, Any], pl.DataFrame]:
    """Train as of ``as_of - horizon`` and predict as of ``as_of``.

    Returns the model record (for :class:`rfm.churn.ChurnModel`) and a frame
    of customer_id, p_order, expected_orders for every customer with a
    purchase on or before ``as_of``.  Raises :class:`ModelError` when the
    history before the training cut-off is too short to learn from."""
    horizon = cfg.horizon_days
    train_end = as_of - timedelta(days=horizon)
    first = orders.first_date
    if first is None or train_end < first:
        raise ModelError(f"the propensity model learns from the {horizon} days before {as_of}, which needs orders "
                         f"on or before {train_end} (the first is {first})")
    assert train_end + timedelta(days=horizon) <= as_of  # the label window never passes as_of
    train, now, names = _features(orders, train_end, as_of, horizon)
    labels = orders.engine.fetch("churn.propensity_labels", {"orders": orders.order_table}, start=train_end, end=as_of)
    train = (train.join(labels, on="customer_id", how="left").with_columns(pl.col("future_days").fill_null(0.0))
             .sort("customer_id"))  # the seeded split needs a fixed row order, whatever the join keeps
    future = train["future_days"].to_numpy()
    counts = np.bincount((future > 0).astype(int), minlength=2)
    if counts.min() < MIN_PER_CLASS:
        raise ModelError(
            f"{train.height:,} customers before {train_end}, of whom {counts[1]:,} ordered in the next {horizon} days "
            f"and {counts[0]:,} did not: too few to learn from (at least {MIN_PER_CLASS} of each are needed)"
        )
    # a feature no training customer has (no one with two gaps yet) tells the booster nothing
    empty = tuple(n for n in names if train[n].null_count() == train.height)
    names = tuple(n for n in names if n not in empty)
    try:
        learned = learn(train.select(names).to_numpy(), future, cfg)
    except ValueError as exc:  # scikit-learn's refusals become this method's
        raise ModelError(
            f"the propensity model could not be fitted on the customers before {train_end}: {exc}"
        ) from None
    if learned.record["held_out_auc"] < MIN_HELD_OUT_AUC:
        raise ModelError(
            f"the propensity model ranks the held-out customers no better than chance (AUC "
            f"{learned.record['held_out_auc']:.3f} on {learned.record['calibration_customers']:,}, below "
            f"{MIN_HELD_OUT_AUC}): their features before {train_end} say little about who ordered after it"
        )
    p_order, expected = learned.predict(now.select(names).to_numpy())
    record = {"features": list(names), "features_empty": list(empty), "train_end": train_end.isoformat(),
              "label": f"a purchase day in ({train_end}, {as_of}]", **learned.record}
    predictions = pl.DataFrame({"customer_id": now["customer_id"], "p_order": p_order, "expected_orders": expected})
    return record, predictions


@dataclass(frozen=True)
class Learned:
    """The calibrated classifier (and the booster under it) and the order counter, with what the model
    JSON records."""

    booster: Any
    classifier: Any
    counter: Any
    record: dict[str, Any]

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(an order in the horizon) and the expected purchase days, per row of ``x``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p = self.classifier.predict_proba(x)[:, 1]
            n = self.counter.predict(x)
        return np.clip(p, 0.0, 1.0), np.maximum(n, 0.0)


def learn(x: np.ndarray, future_days: np.ndarray, cfg: ChurnConfig) -> Learned:
    """Fit on training rows ``x`` (in a fixed order) with ``future_days`` purchase days in the horizon."""
    # scikit-learn loads on first use (about 0.5 s): only this method needs it.
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split

    y = (future_days > 0).astype(int)
    seed = cfg.propensity.seed
    x_fit, x_cal, y_fit, y_cal = train_test_split(
        x, y, test_size=cfg.propensity.calibration_share, stratify=y, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's FutureWarnings are not the user's business
        booster = HistGradientBoostingClassifier(random_state=seed, **_BOOSTER).fit(x_fit, y_fit)
        held_out = booster.predict_proba(x_cal)[:, 1]
        calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method=cfg.propensity.calibration)
        calibrated.fit(x_cal, y_cal)
        counter = HistGradientBoostingRegressor(loss="poisson", random_state=seed, **_BOOSTER).fit(x, future_days)
    record = {
        "training_customers": int(len(y)),
        "calibration_customers": int(len(y_cal)),
        "ordered_share": float(y.mean()),
        "iterations": int(booster.n_iter_),
        "calibration": cfg.propensity.calibration,
        "seed": seed,
        "held_out_auc": float(roc_auc_score(y_cal, held_out)),
        "held_out_log_loss": float(log_loss(y_cal, np.clip(held_out, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }
    return Learned(booster, calibrated, counter, record)


def _features(orders: OrderHistory, train_end: date, as_of: date, horizon: int) -> tuple[pl.DataFrame, pl.DataFrame, tuple[str, ...]]:
    """Features as of the training cut-off and as of ``as_of``, and the names the model uses."""
    engine, table = orders.engine, orders.order_table
    train = engine.fetch("churn.propensity_features", {"orders": table}, as_of=train_end, period_days=horizon)
    now = engine.fetch("churn.propensity_features", {"orders": table}, as_of=as_of, period_days=horizon)
    names: tuple[str, ...] = FEATURES
    if orders.source.has_category:
        with orders.reading_lines():
            mix = engine.fetch("churn.propensity_category_mix", {"lines": orders.lines}, train_end=train_end,
                               as_of=as_of, drop_duplicates=orders.config.input.duplicates == "drop")
        train = train.join(mix.select("customer_id", *(pl.col(f"{c}_train").alias(c) for c in CATEGORY_FEATURES)),
                           on="customer_id", how="left")
        now = now.join(mix.select("customer_id", *CATEGORY_FEATURES), on="customer_id", how="left")
        names += CATEGORY_FEATURES
    return train.sort("customer_id"), now.sort("customer_id"), names


def build_propensity(orders: OrderHistory, stats: Table, as_of: date, cfg: ChurnConfig, annuity: float,
                     predictions: pl.DataFrame) -> Table:
    """The churn table (the columns every method gives) from the predictions."""
    engine = orders.engine
    registered = engine.register(predictions, label="churn_propensity")
    return engine.create("churn.build_from_propensity", {"stats": stats, "predictions": registered}, as_of=as_of,
                         horizon_days=cfg.horizon_days, annuity=annuity)
