"""Backtest: score as of a calibration end, then compare with the holdout.

For each churn method (BG/NBD, Pareto/NBD and recency_ratio, side by side, on
the same split):

* AUC of ``churn_risk`` for "no order in the horizon" (Mann-Whitney, ties
  counted half); log-loss and Brier score of the predicted probability of an
  order in the horizon (1 - churn_risk / 100, unrounded), and its reliability
  table by decile of the prediction (mean predicted vs actual rate);
* predicted vs actual transactions (purchase days) in the horizon, in total and
  by calibration repeat transactions x = 0, 1, ..., 6, 7+;
* predicted (expected orders × expected AOV) vs actual holdout revenue by
  segment, with each segment's actual repurchase rate;
* lift of the top decile: by churn risk (churn rate in the top 10 % / overall
  churn rate) and by CLV (share of holdout revenue / 10 %).

Everything per customer is computed in the engine or polars; the summaries are
small.  The offer hit rate of ``rfm backtest --offers`` is added by
``rfm.pipeline`` (offers and churn are independent capabilities).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rfm._files import write_text
from rfm.churn._step import add_churn
from rfm.customers import OrderHistory
from rfm.errors import InputError, ModelError, RfmWarning
from rfm.inputs import parse_date

METHODS = ("bgnbd", "pnbd", "recency_ratio", "propensity")
#: Predicted probabilities are kept inside (0, 1) for the log-loss: a certain miss costs ln(1e15) = 34.5.
_EPS = 1e-15


@dataclass
class Backtest:
    calibration_end: date
    horizon_days: int
    holdout_end: date
    customers: int
    churn_rate: float
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_frequency: pl.DataFrame | None = None
    by_segment: pl.DataFrame | None = None
    failures: dict[str, str] = field(default_factory=dict)
    offers: dict[str, Any] | None = None
    #: Per customer, by customer_id (``run_backtest(keep_predictions=True)`` only): segment, x,
    #: actual_orders, actual_revenue and each method's churn_risk, p_no_order (unrounded),
    #: expected_orders, expected_aov and clv (suffixed ``_<method>``).  Not saved: one row per customer.
    predictions: pl.DataFrame | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "horizon_days": self.horizon_days,
            "holdout_end": self.holdout_end.isoformat(),
            "customers": self.customers,
            "churn_rate": self.churn_rate,
            "methods": self.methods,
            "failures": self.failures,
            "by_frequency": self.by_frequency.to_dicts() if self.by_frequency is not None else [],
            "by_segment": self.by_segment.to_dicts() if self.by_segment is not None else [],
            "offers": self.offers,
        }

    def save(self, path: str | Path) -> Path:
        return write_text(path, json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    def report(self) -> str:
        lines = [
            f"Backtest: calibration to {self.calibration_end}, holdout {self.calibration_end + timedelta(days=1)}"
            f"..{self.holdout_end} ({self.horizon_days} days), {self.customers:,} customers, "
            f"{self.churn_rate:.1%} made no order in the holdout",
            "",
            f"{'method':<14} {'AUC':>6} {'log-loss':>9} {'Brier':>7} {'pred. orders':>13} {'actual':>9} "
            f"{'top-decile lift (risk)':>23} {'top-decile revenue lift (CLV)':>30}",
        ]
        for name, m in self.methods.items():
            lines.append(
                f"{name:<14} {m['auc']:>6.3f} {m['log_loss']:>9.4f} {m['brier']:>7.4f} {m['predicted_orders']:>13,.1f} "
                f"{m['actual_orders']:>9,} {m['lift_top_decile_risk']:>23.2f} {m['lift_top_decile_clv']:>30.2f}"
            )
        if self.methods:
            lines += ["", "Reliability: P(an order in the holdout) predicted vs actual, by decile of the prediction"]
            lines.append(_table(self.reliability()))
        for name, reason in self.failures.items():
            lines.append(f"{name:<14} not available: {reason}")
        if self.by_frequency is not None:
            lines += ["", "Transactions in the holdout by calibration repeat transactions x:"]
            lines.append(_table(self.by_frequency))
        if self.by_segment is not None:
            lines += ["", "Holdout revenue and repurchase by segment (segment order = rule priority):"]
            lines.append(_table(self.by_segment))
        if self.offers:
            o = self.offers
            lines += ["", f"Top offer hit rate: {o['hit_rate']:.1%} vs popularity baseline {o['baseline_hit_rate']:.1%} "
                          f"({o['customers']:,} customers with a recommendation)"]
        return "\n".join(lines)


    def reliability(self) -> pl.DataFrame:
        """decile, then per method: mean predicted P(order) and the actual order rate in that decile."""
        out: pl.DataFrame | None = None
        for name, m in self.methods.items():
            frame = pl.DataFrame(m["reliability"]).select(
                "decile", pl.col("predicted").alias(f"predicted_{name}"), pl.col("actual").alias(f"actual_{name}")
            )
            out = frame if out is None else out.join(frame, on="decile", how="full", coalesce=True)
        return out.sort("decile") if out is not None else pl.DataFrame()

    def best(self) -> tuple[str, str]:
        """The method with the lowest log-loss, and why (for ``churn.method: best``)."""
        ranked = sorted(self.methods, key=lambda k: (self.methods[k]["log_loss"], k))
        if not ranked:
            raise ModelError(f"no churn method could be fitted: {self.failures}")
        why = ", ".join(f"{k} {self.methods[k]['log_loss']:.4f}" for k in ranked)
        return ranked[0], (f"lowest log-loss for an order in the {self.horizon_days} days after "
                           f"{self.calibration_end} ({why})")


def _table(frame: pl.DataFrame) -> str:
    cols = frame.columns
    cells = [[_fmt(v) for v in row] for row in frame.iter_rows()]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(c.rjust(w) for c, w in zip(cols, widths))]
    out += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve of ``score`` for ``label`` (ties count half)."""
    pos = label.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = pl.Series(score).rank("average").to_numpy()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def top_decile(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """The top 10 % rows by ``by`` (ties broken by customer_id, deterministic)."""
    k = max(1, math.ceil(frame.height / 10))
    return frame.sort([by, "customer_id"], descending=[True, False]).head(k)


def run_backtest(
    orders: OrderHistory,
    *,
    calibration_end: date | str,
    horizon_days: int | None = None,
    keep_predictions: bool = False,
    methods: tuple[str, ...] = METHODS,
) -> Backtest:
    """Score ``orders`` as of ``calibration_end`` with each of ``methods`` (default: every method) and
    compare with the holdout.

    ``keep_predictions`` keeps the per-customer predictions and actuals on the
    result (:attr:`Backtest.predictions`); by default only the summaries are kept."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InputError(f"--methods: {', '.join(unknown) or 'none given'}; choose from {', '.join(METHODS)}")
    cal_end = parse_date(calibration_end, "calibration_end")
    horizon = int(horizon_days or orders.config.churn.horizon_days)
    if horizon <= 0:
        raise InputError(f"--horizon must be a positive number of days, got {horizon}")
    if orders.last_date is not None and cal_end >= orders.last_date:
        raise InputError(
            f"{orders.source.label}: calibration end {cal_end} leaves no holdout (last order {orders.last_date}); "
            "choose an earlier --calibration-end"
        )
    # Every method is fitted on what was known at the calibration end: a saved churn.model (fitted
    # later) would see the holdout, so the backtest never applies one.
    churn_config = orders.config.churn.model_copy(update={"horizon_days": horizon, "model": None})
    holdout_end = cal_end + timedelta(days=horizon)
    per_method: dict[str, pl.DataFrame] = {}
    failures: dict[str, str] = {}
    base = None
    with warnings.catch_warnings(record=True) as caught:  # said again below, marked as the backtest's
        warnings.simplefilter("always", RfmWarning)
        scores = orders.score_rfm(as_of=cal_end)
        stats = orders.engine.create("churn.build_stats", {"orders": orders.order_table}, as_of=cal_end,
                                     time_unit_days=churn_config.time_unit_days)  # once, for every method
        scored_by = {}
        for method in dict.fromkeys(methods):
            try:
                scored_by[method] = add_churn(orders, scores, config=churn_config, method=method, stats=stats)
            except ModelError as exc:
                failures[method] = str(exc)
    for w in caught:
        if issubclass(w.category, RfmWarning):
            warnings.warn(f"backtest at {cal_end}: {w.message}", RfmWarning, stacklevel=2)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for method, scored in scored_by.items():
        if scored.churn.method != method:
            continue
        assert scored.churn_table is not None
        per_method[method] = scored.table.select(
            "customer_id", "segment", "churn_risk", "expected_orders", "expected_aov", "clv"
        ).join(scored.churn_table.pl().select("customer_id", "p_no_order"), on="customer_id", how="left")
        base = scored
    if base is None:
        why = "; ".join(f"{m}: {reason}" for m, reason in failures.items()) or "none was asked for"
        raise ModelError(f"{orders.source.label}: no churn method could be fitted at {cal_end} ({why}); "
                         "choose an earlier or later --calibration-end, or other --methods")
    engine, order_table = orders.engine, orders.order_table
    actual = engine.fetch("churn.holdout_actuals", {"scores": base.sql_table, "orders": order_table},
                          start=cal_end, end=holdout_end)
    repeats = engine.fetch("churn.calibration_repeats", {"orders": order_table}, as_of=cal_end)
    segment_order = {name: i for i, name in enumerate(base.ruleset.segment_order)}
    churned = (actual["actual_orders"] == 0).to_numpy()
    result = Backtest(cal_end, horizon, holdout_end, actual.height, float(churned.mean()), failures=failures)
    freq_frames, seg_frames = [], []
    for method, frame in per_method.items():
        joined = frame.join(actual, on="customer_id").join(repeats, on="customer_id")
        top_risk = top_decile(joined, "churn_risk")
        top_clv = top_decile(joined, "clv")
        total_revenue = float(joined["actual_revenue"].sum())
        ordered = (joined["actual_orders"] > 0).to_numpy()
        p_order = np.clip(1.0 - joined["p_no_order"].to_numpy(), _EPS, 1 - _EPS)
        result.methods[method] = {
            "auc": auc(joined["churn_risk"].to_numpy(), (joined["actual_orders"] == 0).to_numpy()),
            "log_loss": float(-np.mean(np.where(ordered, np.log(p_order), np.log1p(-p_order)))),
            "brier": float(np.mean((p_order - ordered) ** 2)),
            "reliability": _reliability(joined["customer_id"], p_order, ordered),
            "predicted_orders": float(joined["expected_orders"].sum()),
            "actual_orders": int(joined["actual_orders"].sum()),
            "lift_top_decile_risk": float((top_risk["actual_orders"] == 0).mean()) / max(result.churn_rate, 1e-12),
            "lift_top_decile_clv": (float(top_clv["actual_revenue"].sum()) / total_revenue / (top_clv.height / joined.height))
            if total_revenue > 0 else math.nan,
            "gains_risk": _gains(joined, "churn_risk", (joined["actual_orders"] == 0).cast(pl.Float64)),
            "gains_clv": _gains(joined, "clv", joined["actual_revenue"]),
        }
        freq_frames.append(
            joined.with_columns(
                pl.when(pl.col("x") >= 7).then(pl.lit("7+")).otherwise(pl.col("x").cast(pl.String)).alias("x_group"),
                pl.min_horizontal(pl.col("x"), 7).alias("x_order"),
            )
            .group_by("x_group", "x_order")
            .agg(
                pl.len().alias("customers"),
                pl.col("actual_orders").sum().alias("actual"),
                pl.col("expected_orders").sum().alias(f"predicted_{method}"),
            )
        )
        seg_frames.append(
            joined.group_by("segment")
            .agg(
                pl.len().alias("customers"),
                (pl.col("actual_orders") > 0).mean().alias("repurchase_rate"),
                pl.col("actual_revenue").sum().alias("actual_revenue"),
                (pl.col("expected_orders") * pl.col("expected_aov")).sum().alias(f"predicted_revenue_{method}"),
            )
        )
    if keep_predictions:
        result.predictions = _predictions(actual, repeats, per_method)
    result.by_frequency = (
        _merge(freq_frames, ["x_group", "x_order"], ["customers", "actual"]).sort("x_order").drop("x_order")
    )
    result.by_segment = (
        _merge(seg_frames, ["segment"], ["customers", "repurchase_rate", "actual_revenue"])
        .with_columns(pl.col("segment").replace_strict(segment_order, default=len(segment_order)).alias("_o"))
        .sort("_o")
        .drop("_o")
    )
    return result


def _reliability(ids: pl.Series, predicted: np.ndarray, actual: np.ndarray) -> list[dict[str, float]]:
    """Customers in ten equal groups by predicted probability (ties broken by customer_id): the mean
    prediction and the actual rate of each; a calibrated model has the two equal."""
    frame = pl.DataFrame({"customer_id": ids, "p": predicted, "y": actual.astype(float)}).sort(["p", "customer_id"])
    decile = (np.arange(frame.height) * 10 // max(frame.height, 1)) + 1
    return (
        frame.with_columns(pl.Series("decile", decile))
        .group_by("decile")
        .agg(pl.len().alias("customers"), pl.col("p").mean().alias("predicted"), pl.col("y").mean().alias("actual"))
        .sort("decile")
        .to_dicts()
    )


def _predictions(actual: pl.DataFrame, repeats: pl.DataFrame, per_method: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Each customer's actuals and every method's predictions side by side, by customer_id."""
    segments = next(iter(per_method.values())).select("customer_id", "segment")
    out = segments.join(repeats, on="customer_id", how="left").join(actual, on="customer_id", how="left")
    values = ("churn_risk", "p_no_order", "expected_orders", "expected_aov", "clv")
    for method, frame in per_method.items():
        named = frame.select("customer_id", *(pl.col(c).alias(f"{c}_{method}") for c in values))
        out = out.join(named, on="customer_id", how="left")
    return out.sort("customer_id")


def _merge(frames: list[pl.DataFrame], keys: list[str], shared: list[str]) -> pl.DataFrame:
    """The methods' frames side by side, joined on the group ``keys`` only.

    The ``shared`` columns (customers, actuals) are the same for every method and
    are taken from the first frame: joining on them too would split a group in two
    whenever two float sums differ in their last bit."""
    out = frames[0]
    for frame in frames[1:]:
        out = out.join(frame.drop(shared), on=keys, how="full", coalesce=True)
    return out


def _gains(frame: pl.DataFrame, by: str, value: pl.Series) -> list[dict[str, float]]:
    """Cumulative share of ``value`` captured by the top x % of customers by ``by`` (20 points)."""
    ordered = frame.with_columns(value.alias("_v")).sort([by, "customer_id"], descending=[True, False])
    total = float(ordered["_v"].sum()) or 1.0
    cum = ordered["_v"].cum_sum().to_numpy()
    n = ordered.height
    points = [{"share_customers": 0.0, "share_captured": 0.0}]
    for i in range(1, 21):
        k = max(1, math.ceil(n * i / 20))
        points.append({"share_customers": k / n, "share_captured": float(cum[k - 1]) / total})
    return points
