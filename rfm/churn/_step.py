"""The churn step: churn risk, expected orders and customer value, added to customer scores.

The methods (``churn.method``):

* ``bgnbd`` -- BG/NBD (Fader, Hardie & Lee 2005) and ``pnbd`` -- Pareto/NBD
  (Schmittlein, Morrison & Colombo 1987), fitted by maximum likelihood on the
  customers' (x, t_x, T), grouped in the engine so the fit and every
  prediction run once per distinct triple; Gamma-Gamma (Fader & Hardie 2013)
  for the expected spend of an order; CLV = discounted expected orders x
  expected spend.  Numerics in :mod:`rfm.churn._models`.
* ``recency_ratio`` -- always available: days since the last order relative to
  the customer's own mean gap between orders (the population's typical gap for
  one-time buyers); formula in ``queries/churn/churn.sql:build_recency_ratio``.
* ``propensity`` -- a gradient-boosted classifier trained on the customers'
  own history before ``as_of - horizon`` and the orders of the horizon that
  follows, calibrated on a held-out slice (:mod:`rfm.churn._propensity`).

``auto`` uses BG/NBD when its fit is sound (converged, identified, at least 20
repeat buyers) and falls back to recency_ratio with a warning naming the
reason; an explicit ``bgnbd``, ``pnbd`` or ``propensity`` raises instead.
``best`` (:mod:`rfm.churn._best`) backtests them all and uses the winner.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from rfm._files import write_text
from rfm.customers import ChurnConfig, CustomerScores, OrderHistory
from rfm.engine import Engine, Table
from rfm.errors import ConfigError, ModelError, RfmWarning
from rfm.inputs import read_yaml

METHODS = ("none", "auto", "best", "bgnbd", "pnbd", "recency_ratio", "propensity")
#: The probabilistic customer-base models, fitted on (x, t_x, T) triples.
MODELS = ("bgnbd", "pnbd")
#: Fewer repeat buyers than this cannot pin down a customer-base model (nor Gamma-Gamma's spend).
MIN_REPEAT_BUYERS = 20


@dataclass(frozen=True)
class ChurnModel:
    """What was fitted (or reused): saved beside the scores as JSON."""

    method: str  # "bgnbd" | "pnbd" | "recency_ratio"
    as_of: str
    time_unit_days: float
    horizon_days: int
    n_customers: int
    bgnbd: dict[str, Any] | None = None
    pnbd: dict[str, Any] | None = None
    gamma_gamma: dict[str, Any] | None = None
    typical_gap_days: float | None = None
    propensity: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    selection: str | None = None  # churn.method best: which method won the inner backtest, and why

    def save(self, path: str | Path) -> Path:
        return write_text(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        data = read_yaml(path)
        try:
            model = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: not a saved churn model ({exc}); save one with rfm score --out") from None
        _reusable(model, path)
        return model

    def describe(self) -> str:
        text = self._describe()
        return f"{text}; chosen by churn.method best, {self.selection}" if self.selection else text

    def _describe(self) -> str:
        if self.method in MODELS and (self.bgnbd or self.pnbd):
            if self.bgnbd:
                b = self.bgnbd
                text = f"BG/NBD r={b['r']:.4g} alpha={b['alpha']:.4g} a={b['a']:.4g} b={b['b']:.4g}"
            else:
                b = self.pnbd  # type: ignore[assignment]
                text = f"Pareto/NBD r={b['r']:.4g} alpha={b['alpha']:.4g} s={b['s']:.4g} beta={b['beta']:.4g}"
            text += f" LL={b['log_likelihood']:.1f} on {self.n_customers:,} customers"
            if self.gamma_gamma:
                g = self.gamma_gamma
                text += f"; Gamma-Gamma p={g['p']:.4g} q={g['q']:.4g} gamma={g['gamma']:.4g}"
            return text
        if self.method == "propensity" and self.propensity:
            p = self.propensity
            return (f"propensity: gradient boosting ({p['iterations']} iterations) on {len(p['features'])} features "
                    f"of {p['training_customers']:,} customers as of {p['train_end']}, label {p['label']}, "
                    f"{p['calibration']} calibration on {p['calibration_customers']:,} held out "
                    f"(held-out AUC {p['held_out_auc']:.3f}); applied to {self.n_customers:,} customers")
        return f"recency_ratio, typical gap {self.typical_gap_days:.1f} days, {self.n_customers:,} customers"


def _reusable(model: ChurnModel, path: str | Path) -> None:
    if model.method == "propensity":
        raise ConfigError(f"{path}: a propensity model is not reused: it is trained afresh on the history up to "
                          "each as_of date; save and reuse bgnbd, pnbd or recency_ratio models")
    if model.method not in ("bgnbd", "pnbd", "recency_ratio"):
        raise ConfigError(f'{path}: method "{model.method}" is not bgnbd, pnbd or recency_ratio')


def annuity(months: int, rate: float) -> float:
    """Sum of monthly discount factors 1/(1+d)^m for m = 1..months."""
    return float(sum((1 + rate) ** -m for m in range(1, months + 1)))


def add_churn(
    orders: OrderHistory,
    scores: CustomerScores,
    *,
    config: ChurnConfig | None = None,
    method: str | None = None,
    model: ChurnModel | str | Path | None = None,
    selection: str | None = None,
    notes_before: tuple[str, ...] = (),
    stats: Table | None = None,
) -> CustomerScores:
    """``scores`` with p_alive, churn_risk, expected orders, expected AOV and CLV added, as of ``scores.as_of``.

    ``config`` defaults to the scores' config ``churn:`` section; ``method``
    overrides its method; ``model`` (or ``churn.model``) applies a saved
    :class:`ChurnModel` instead of fitting.  Reads the order table of ``orders``; ``stats`` is the
    ``churn.build_stats`` table of ``scores.as_of`` when the caller already built it."""
    started = time.perf_counter()
    cfg = config or scores.config.churn
    method = method or cfg.method
    if isinstance(model, (str, Path)):
        model = ChurnModel.load(model)
    elif model is None and cfg.model:
        model = ChurnModel.load(cfg.model)
    elif model is not None:
        _reusable(model, "the churn model given")
    unit = model.time_unit_days if model else cfg.time_unit_days
    engine, label, as_of = orders.engine, orders.source.label, scores.as_of
    if stats is None:  # a backtest passes the table it built once for every method
        stats = engine.create("churn.build_stats", {"orders": orders.order_table}, as_of=as_of, time_unit_days=unit)
    n = stats.count()
    notes: list[str] = list(notes_before)

    def note(message: str) -> None:
        notes.append(message)
        warnings.warn(message, RfmWarning, stacklevel=3)

    if method == "best" and model is None:
        raise ModelError("churn.method best is chosen by rfm.churn.add_churn (rfm.churn._best)")
    fitted = None
    kind = model.method if model is not None else ("bgnbd" if method == "auto" else method)
    if kind in MODELS:
        try:
            fitted = _probabilistic(kind, engine, stats, as_of, cfg, unit, model, n, label, note)
        except ModelError as exc:
            if method != "auto" or model is not None:
                raise ModelError(f"{label}: {exc}; set churn.method: auto or recency_ratio") from None
            note(f"{label}: BG/NBD not used ({exc}); churn falls back to recency_ratio")
    elif kind == "propensity":
        try:
            fitted = _learned(orders, stats, as_of, cfg, n)
        except ModelError as exc:
            raise ModelError(f"{label}: {exc}; set churn.method: auto or recency_ratio") from None
    if fitted is None:
        fitted = _recency_ratio(engine, stats, as_of, cfg, n, model, label, note)
    used, churn = fitted
    used = dataclasses.replace(used, notes=notes, selection=selection)
    table = engine.create("churn.attach", {"scores": scores.sql_table, "churn": churn}, method=used.method)
    return scores.extend(table, notes=notes, seconds=time.perf_counter() - started, churn=used, churn_table=churn)


def _probabilistic(
    kind: str, engine: Engine, stats: Table, as_of: date, cfg: ChurnConfig, unit: float, model: ChurnModel | None,
    n: int, label: str, note: Callable[[str], None],
) -> tuple[ChurnModel, Table]:
    """BG/NBD or Pareto/NBD (``kind``) fitted (or applied) on the grouped triples, with Gamma-Gamma."""
    # scipy is imported only when a model is fitted or applied: plain scoring never pays for it.
    from rfm.churn import _models as models

    name = {"bgnbd": "BG/NBD", "pnbd": "Pareto/NBD"}[kind]
    groups = engine.fetch("churn.triples", {"stats": stats})
    x, t_x, T, w = (groups[c].to_numpy().astype(float) for c in ("x", "t_x", "T", "n"))
    saved = (model.bgnbd if kind == "bgnbd" else model.pnbd) if model is not None else None
    fit: Any
    if saved:
        fit = (models.BgNbdFit if kind == "bgnbd" else models.ParetoNbdFit).from_dict(saved)
    else:
        repeaters = int(w[x > 0].sum())
        if repeaters < MIN_REPEAT_BUYERS:
            raise ModelError(f"{repeaters} repeat buyers among {n:,} customers: too few to fit {name}'s 4 parameters "
                             f"(at least {MIN_REPEAT_BUYERS} are needed)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RfmWarning)  # convergence is judged below
            fit = (models.fit_bgnbd if kind == "bgnbd" else models.fit_pnbd)(x, t_x, T, weights=w)
        sound, reason = models.fit_is_sound(fit)
        if not sound:
            raise ModelError(reason)
    horizon_units = cfg.horizon_days / unit
    clv = {"horizon_months": cfg.clv.horizon_months, "monthly_discount": cfg.clv.monthly_discount,
           "time_unit_days": unit}
    if kind == "bgnbd":
        p_alive = np.asarray(models.p_alive(fit, x, t_x, T))
        expected = np.asarray(models.expected_transactions(fit, np.full_like(x, horizon_units), x, t_x, T))
        det = np.asarray(models.discounted_transactions(fit, x, t_x, T, **clv))
        # P(no order in the horizon) = P(dead) + P(alive) * E[exp(-lambda h)], with
        # lambda | alive ~ Gamma(r + x, alpha + T): no purchase means no dropout chance.
        p_none = (1 - p_alive) + p_alive * np.exp(
            (fit.r + x) * (np.log(fit.alpha + T) - np.log(fit.alpha + T + horizon_units)))
    else:
        p_alive = np.asarray(models.pnbd_p_alive(fit, x, t_x, T))
        expected = np.asarray(models.pnbd_expected_transactions(fit, np.full_like(x, horizon_units), x, t_x, T))
        det = np.asarray(models.pnbd_discounted_transactions(fit, x, t_x, T, **clv))
        # alive at T, the customer orders in the horizon unless dropout comes first
        p_none = 1 - p_alive * np.asarray(models.pnbd_p_order(fit, np.full_like(x, horizon_units), x, T))
    # Expected gap at the posterior mean purchase rate E[lambda | alive] = (r + x)/(alpha + T).
    wait = (fit.alpha + T) / (fit.r + x)
    triples = engine.register(
        pl.DataFrame(
            {"x": groups["x"], "t_x": groups["t_x"], "T": groups["T"], "p_alive": p_alive,
             "p_no_order": p_none, "expected_orders": expected, "discounted_orders": det, "wait_units": wait},
        ),
        label="churn_triples",
    )

    gg = None
    if model is not None and model.method == kind:
        gg = models.GammaGammaFit.from_dict(model.gamma_gamma) if model.gamma_gamma else None
    else:
        spend = engine.fetch("churn.spend_groups", {"stats": stats})
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RfmWarning)
                gg = models.fit_gamma_gamma(
                    spend["x"].to_numpy().astype(float),
                    spend["mean_repeat_spend"].to_numpy().astype(float),
                    weights=spend["n"].to_numpy().astype(float),
                )
            sound, reason = models.fit_is_sound(gg)
            if not sound:
                raise ModelError(reason)
        except ModelError as exc:
            gg = None
            note(f"{label}: Gamma-Gamma spend model not used ({exc}); "
                 "expected_aov is each customer's own mean spend per purchase day")
    churn = engine.create(
        "churn.build_from_model", {"stats": stats, "triples": triples}, as_of=as_of, use_gg=gg is not None,
        gg_p=gg.p if gg else 1.0, gg_q=gg.q if gg else 2.0, gg_gamma=gg.gamma if gg else 1.0, time_unit_days=unit,
    )
    used = ChurnModel(
        method=kind, as_of=as_of.isoformat(), time_unit_days=unit, horizon_days=cfg.horizon_days,
        n_customers=n, gamma_gamma=gg.to_dict() if gg else None, **{kind: fit.to_dict()},
    )
    return used, churn


def _learned(orders: OrderHistory, stats: Table, as_of: date, cfg: ChurnConfig, n: int) -> tuple[ChurnModel, Table]:
    from rfm.churn import _propensity  # scikit-learn, loaded only by this method

    record, predictions = _propensity.fit_propensity(orders, as_of, cfg)
    churn = _propensity.build_propensity(orders, stats, as_of, cfg, annuity(cfg.clv.horizon_months,
                                         cfg.clv.monthly_discount), predictions)
    used = ChurnModel(method="propensity", as_of=as_of.isoformat(), time_unit_days=cfg.time_unit_days,
                      horizon_days=cfg.horizon_days, n_customers=n, propensity=record)
    return used, churn


def _recency_ratio(
    engine: Engine, stats: Table, as_of: date, cfg: ChurnConfig, n: int, model: ChurnModel | None, label: str,
    note: Callable[[str], None],
) -> tuple[ChurnModel, Table]:
    if model is not None and model.method == "recency_ratio" and model.typical_gap_days:
        gap = float(model.typical_gap_days)
    else:
        gap_days, repeaters = engine.rows("churn.typical_gap", {"stats": stats})[0]
        gap = max(float(gap_days or 0.0), 1.0)
        if not repeaters:
            note(
                f"{label}: no repeat buyers, so the typical gap between orders is unknown; "
                f"recency_ratio uses the median customer age instead ({gap:.0f} days, at least 1)"
            )
    churn = engine.create(
        "churn.build_recency_ratio", {"stats": stats}, as_of=as_of, typical_gap=gap, horizon_days=cfg.horizon_days,
        annuity=annuity(cfg.clv.horizon_months, cfg.clv.monthly_discount),
    )
    used = ChurnModel(
        method="recency_ratio", as_of=as_of.isoformat(), time_unit_days=cfg.time_unit_days,
        horizon_days=cfg.horizon_days, n_customers=n, typical_gap_days=gap,
    )
    return used, churn
