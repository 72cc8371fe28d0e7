"""Pareto/NBD: published CDNOW estimates, the integral against adaptive quadrature, P(alive) against
the hypergeometric closed form, P(order) against a double integral, no overflow (issue 15)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import integrate, special, stats

import rfm
from rfm.churn import ChurnModel, ParetoNbdFit, fit_pnbd, pnbd_expected_transactions, pnbd_p_alive, pnbd_p_order
from rfm.churn._models._pnbd import _objective, log_integral
from rfm.customers import OrderHistory
from tests.conftest import CDNOW_CONFIG


@pytest.fixture(scope="module")
def triples():
    cdnow_path = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_sample.txt"
    with OrderHistory(cdnow_path, CDNOW_CONFIG) as orders, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = orders.score_rfm(as_of="1997-09-30")
        stats = orders.engine.create("churn.build_stats", {"orders": orders.order_table}, as_of=scores.as_of,
                                     time_unit_days=7)
        groups = orders.engine.fetch("churn.triples", {"stats": stats})
    return tuple(groups[c].to_numpy().astype(float) for c in ("x", "t_x", "T", "n"))


@pytest.fixture(scope="module")
def cdnow_pnbd(triples):
    x, t_x, T, w = triples
    return fit_pnbd(x, t_x, T, weights=w)


def test_cdnow_matches_the_published_estimates(cdnow_pnbd):
    # Fader, Hardie & Lee (2005), "A Note on Implementing the Pareto/NBD Model in MATLAB":
    # r = 0.5533, alpha = 10.5776, s = 0.6061, beta = 11.6650, LL = -9595.0
    fit = cdnow_pnbd
    for got, published in ((fit.r, 0.553), (fit.alpha, 10.578), (fit.s, 0.606), (fit.beta, 11.669)):
        assert got == pytest.approx(published, rel=0.005)
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.5)
    assert fit.converged and fit.n_customers == 2357


def test_the_gradient_is_the_likelihood_s(triples):
    x, t_x, T, w = triples
    fun = _objective(x, t_x, T, w)
    th = np.log([0.4, 8.0, 0.9, 15.0])
    numeric = [(fun(th + e)[0] - fun(th - e)[0]) / 2e-6 for e in np.eye(4) * 1e-6]
    assert fun(th)[1] == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_the_integral_matches_adaptive_quadrature():
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(200):
        lo, c1, c2 = rng.uniform(0, 30), 10 ** rng.uniform(-2, 2), 10 ** rng.uniform(-2, 2)
        hi = lo + rng.uniform(0.01, 40)
        k1, k2 = rng.choice([0.05, 0.5, 1.0, 3.0, 30.0]), 1 + rng.uniform(0.05, 3)
        edges = lo + np.concatenate([[0.0], np.geomspace(1e-6, hi - lo, 30)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = sum(integrate.quad(lambda t: (c1 + t) ** -k1 * (c2 + t) ** -k2, a, b, epsabs=0, epsrel=1e-13,
                                     limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))
        got = math.exp(log_integral(np.array([lo]), np.array([hi]), np.array([c1]), np.array([k1]),
                                    np.array([c2]), np.array([k2]))[0][0])
        worst = max(worst, abs(got / ref - 1))
    assert worst < 1e-6


def _p_alive_closed_form(fit: ParetoNbdFit, x: float, t_x: float, T: float) -> float:
    """FHL (2005) note, eqs. (9)-(11): P(alive) with the Gaussian hypergeometric A0."""
    r, al, s, be = fit.r, fit.alpha, fit.s, fit.beta
    k = r + s + x
    if al >= be:
        def term(t):
            return special.hyp2f1(k, s + 1, k + 1, (al - be) / (al + t)) / (al + t) ** k
    else:
        def term(t):
            return special.hyp2f1(k, r + x, k + 1, (be - al) / (be + t)) / (be + t) ** k
    a0 = term(t_x) - term(T)
    return 1 / (1 + s / k * (al + T) ** (r + x) * (be + T) ** s * a0)


@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0, 38.86), (2, 30.43, 38.86), (5, 12.0, 30.0), (14, 35.0, 36.0),
                                             (1, 1.0, 32.0)])
def test_p_alive_matches_the_hypergeometric_form(cdnow_pnbd, x, t_x, T):
    assert pnbd_p_alive(cdnow_pnbd, x, t_x, T) == pytest.approx(_p_alive_closed_form(cdnow_pnbd, x, t_x, T), rel=1e-7)


def test_p_order_matches_a_double_integral(cdnow_pnbd):
    """P(an order in h | alive at T) = E[lambda/(lambda+mu) (1 - exp(-(lambda+mu) h))] over the posterior
    lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T)."""
    fit, x, T, h = cdnow_pnbd, 3.0, 35.0, 13.0
    lam = stats.gamma(fit.r + x, scale=1 / (fit.alpha + T))
    mu = stats.gamma(fit.s, scale=1 / (fit.beta + T))

    def inner(m, la):
        return la / (la + m) * -math.expm1(-(la + m) * h) * lam.pdf(la) * mu.pdf(m)

    ref = integrate.dblquad(inner, 0, lam.ppf(1 - 1e-12), 0, mu.ppf(1 - 1e-12), epsabs=1e-12, epsrel=1e-10)[0]
    assert pnbd_p_order(fit, h, x, T) == pytest.approx(ref, rel=1e-5)


def test_hundreds_of_orders_do_not_overflow(cdnow_pnbd):
    x = np.array([0.0, 1.0, 50.0, 300.0, 1000.0])
    t_x = np.array([0.0, 38.0, 38.5, 38.8, 38.85])
    T = np.full(5, 38.86)
    pa = np.asarray(pnbd_p_alive(cdnow_pnbd, x, t_x, T))
    ey = np.asarray(pnbd_expected_transactions(cdnow_pnbd, 39.0, x, t_x, T))
    po = np.asarray(pnbd_p_order(cdnow_pnbd, 13.0, x, T))
    assert np.isfinite(pa).all() and np.isfinite(ey).all() and np.isfinite(po).all()
    assert (pa[2:] > 0.99).all()  # bought days ago after hundreds of orders: surely alive
    assert ey[4] > ey[3] > ey[2] > ey[1]  # more orders, more expected
    # ~20 orders a week: an order in 13 weeks unless dropout comes first (mu/lambda ~ 6e-4)
    assert 0.999 < po[4] < 1 and (np.diff(po) > 0).all()


def test_the_churn_step_with_pnbd_and_a_saved_model(cdnow_path, tmp_path, cdnow_pnbd):
    result = rfm.score_customers(cdnow_path, CDNOW_CONFIG, as_of="1997-09-30", churn="pnbd")
    assert result.churn.method == "pnbd" and result.churn.bgnbd is None
    assert result.churn.pnbd["r"] == pytest.approx(cdnow_pnbd.r, rel=1e-6)
    table = result.table
    assert set(table["churn_method"]) == {"pnbd"}
    first = table.filter(pl.col("customer_id") == "0001").row(0, named=True)
    # x = 2, t_x = 30.43, T = 38.86 weeks: the model's own P(alive) and 13-week expectation
    assert first["p_alive"] == pytest.approx(float(pnbd_p_alive(cdnow_pnbd, 2, 213 / 7, 272 / 7)), rel=1e-9)
    assert first["expected_orders"] == pytest.approx(
        float(pnbd_expected_transactions(cdnow_pnbd, 90 / 7, 2, 213 / 7, 272 / 7)), rel=1e-9)
    path = tmp_path / "m.churn.json"
    result.churn.save(path)
    cfg = rfm.load_config(CDNOW_CONFIG).model_dump()
    cfg["churn"]["model"] = str(path)
    again = rfm.score_customers(cdnow_path, cfg, as_of="1997-09-30")
    assert ChurnModel.load(path).method == "pnbd"
    assert again.table["clv"].to_list() == pytest.approx(table["clv"].to_list(), rel=1e-12)
