"""Tests of the churn models (rfm.churn._models): BG/NBD, Gamma-Gamma and CLV.

Reference figures: Fader, Hardie & Lee (2005) on the CDNOW sample, Hardie's
spreadsheet values as asserted by lifetimes' test suite, Fader & Hardie (2013)
for Gamma-Gamma.  Per-customer formulas are also checked against an
independent numerical integration of the BG/NBD posterior.
"""

from __future__ import annotations

import json
import math
import warnings

import duckdb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from rfm.churn import _models as M
from rfm.churn._models import _bgnbd, _gamma_gamma
from rfm.errors import ConfigError, InputError, ModelError, RfmWarning
from tests.conftest import CDNOW  # noqa: E402

PAPER = dict(r=0.243, alpha=4.414, a=0.793, b=2.426)
PAPER_FIT = M.BgNbdFit(**PAPER, log_likelihood=-9582.4, n_customers=2357, converged=True)

# ---------------------------------------------------------------- CDNOW data
CUSTOMERS_SQL = r"""
WITH lines AS (
    SELECT regexp_split_to_array(trim(regexp_replace(line, '\s+$', '')), '\s+') AS f
    FROM read_csv($path, columns = {'line': 'VARCHAR'}, header = false,
                  delim = '|', quote = '', escape = '')
    WHERE trim(line) <> ''
),
days AS (   -- one transaction per customer and day; spend of a day = sum of its rows
    SELECT CAST(f[2] AS INTEGER) AS cust, strptime(f[3], '%Y%m%d')::DATE AS d,
           sum(CAST(f[5] AS DOUBLE)) AS spend
    FROM lines GROUP BY ALL
),
cal AS (
    SELECT *, min(d) OVER (PARTITION BY cust) AS first FROM days
)
SELECT cust,
       count(*) - 1                                        AS x,
       date_diff('day', first, max(d))                     AS tx_days,
       date_diff('day', first, DATE '1997-09-30')          AS T_days,
       avg(spend) FILTER (WHERE d > first)                 AS mean_spend
FROM cal WHERE d <= DATE '1997-09-30'
GROUP BY cust, first ORDER BY cust
"""


@pytest.fixture(scope="module")
def cdnow():
    con = duckdb.connect()
    cust = con.execute(CUSTOMERS_SQL, {"path": str(CDNOW)}).fetchnumpy()
    grouped = con.execute(
        f"SELECT x, tx_days, T_days, count(*) AS n FROM ({CUSTOMERS_SQL}) GROUP BY ALL ORDER BY ALL",
        {"path": str(CDNOW)},
    ).fetchnumpy()
    def plain(cols):  # SQL NULL (mean spend without repeat days) -> NaN
        return {k: np.ma.filled(np.ma.asarray(v, dtype=float), np.nan) for k, v in cols.items()}

    return plain(cust), plain(grouped)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    _, g = cdnow
    return M.fit_bgnbd(g["x"], g["tx_days"] / 7, g["T_days"] / 7, g["n"])


def test_cdnow_statistics_match_readme(cdnow):
    c, g = cdnow
    assert len(c["x"]) == 2357
    assert c["x"].sum() == 2457
    assert (c["x"] == 0).sum() == 1411
    assert g["n"].sum() == 2357 and len(g["n"]) < 2357  # grouping merges identical triples
    rep = c["x"] > 0
    assert rep.sum() == 946
    assert np.mean(c["mean_spend"][rep]) == pytest.approx(35.08, abs=0.005)


def test_bgnbd_cdnow_matches_paper(cdnow_fit):
    f = cdnow_fit
    for k, v in PAPER.items():
        assert getattr(f, k) == pytest.approx(v, rel=0.005), k
    assert abs(f.log_likelihood - (-9582.4)) < 0.5
    assert f.converged and f.n_customers == 2357
    assert M.fit_is_sound(f) == (True, "ok")


def test_bgnbd_grouped_fit_equals_ungrouped(cdnow, cdnow_fit):
    c, _ = cdnow
    f1 = M.fit_bgnbd(c["x"], c["tx_days"] / 7, c["T_days"] / 7)
    for k in ("r", "alpha", "a", "b"):
        assert getattr(f1, k) == pytest.approx(getattr(cdnow_fit, k), rel=1e-6), k
    assert f1.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, rel=1e-10)
    assert f1.n_customers == cdnow_fit.n_customers


def _ll_direct(r, alpha, a, b, x, t_x, T):
    """The BG/NBD likelihood of FHL (2005) evaluated literally (fine for CDNOW's small x)."""
    x = x.astype(float)
    common = special.gamma(r + x) * alpha**r / special.gamma(r)
    l1 = special.beta(a, b + x) / special.beta(a, b) * common / (alpha + T) ** (r + x)
    l2 = np.where(x > 0, special.beta(a + 1, np.maximum(b + x - 1, 1e-9)) / special.beta(a, b)
                  * common / (alpha + t_x) ** (r + x), 0.0)
    return np.log(l1 + l2).sum()


def test_bgnbd_log_likelihood_is_the_maximum_of_eq6(cdnow, cdnow_fit):
    c, _ = cdnow
    x, tx, T = c["x"], c["tx_days"] / 7, c["T_days"] / 7
    f = cdnow_fit
    ll = _ll_direct(f.r, f.alpha, f.a, f.b, x, tx, T)
    assert f.log_likelihood == pytest.approx(ll, rel=1e-10)
    for i in range(4):  # every one-parameter move lowers the likelihood
        for step in (0.99, 1.01):
            p = [f.r, f.alpha, f.a, f.b]
            p[i] *= step
            assert _ll_direct(*p, x, tx, T) < ll


def test_bgnbd_analytic_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    T = rng.uniform(0, 80, 300)
    x = rng.poisson(3, 300).astype(float)
    x[T == 0] = 0
    tx = np.where(x > 0, T * rng.uniform(0, 1, 300), 0.0)
    w = rng.integers(1, 5, 300).astype(float)
    fun = _bgnbd._bgnbd_objective(x, tx, T, w)
    th = np.log([0.7, 6.0, 1.3, 3.2])
    _, g = fun(th)
    h = 1e-6
    num = [(fun(th + h * e)[0] - fun(th - h * e)[0]) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


def test_gamma_gamma_objective_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 9, 200).astype(float)
    m = rng.gamma(3, 10, 200)
    fun = _gamma_gamma._gg_objective(x, m, np.ones(200))
    th = np.log([4.0, 3.0, 12.0])
    _, g = fun(th)
    h = 1e-6
    num = [(fun(th + h * e)[0] - fun(th - h * e)[0]) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-9)


# ------------------------------------------------ published per-customer values
def test_hardie_spreadsheet_values(cdnow_fit):
    # Values from Hardie's BG/NBD spreadsheet, as asserted by lifetimes' tests.
    assert M.expected_transactions(cdnow_fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)
    times = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(M.expected_transactions_new(cdnow_fit, times), expected, atol=5e-4)
    assert M.p_alive(cdnow_fit, 0, 1, 1) == 1.0


def test_p_alive_closed_form_paper_params():
    # P(alive) closed form evaluated by hand: x=2, t_x=30.43, T=38.86
    f = PAPER_FIT
    odds = 0.793 / (2.426 + 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ** (0.243 + 2)
    assert M.p_alive(f, 2, 30.43, 38.86) == pytest.approx(1 / (1 + odds), rel=1e-12)
    assert M.p_alive(f, [0, 0], [0, 5], [0, 10]).tolist() == [1.0, 1.0]


def _posterior_expectation(f, t, x, t_x, T):
    """E[Y(t) | x, t_x, T] by integrating the posterior over (lambda, p):
    lambda integrated analytically, p ~ Beta(a, b+x) numerically with quad."""
    r, al, a, b = f.r, f.alpha, f.a, f.b
    s, u, bx = r + x, t / (al + T), b + x
    lb = special.betaln(a, bx)

    def integrand(w):  # p = w**(1/a) removes the p**(a-1) endpoint singularity
        p = w ** (1 / a)
        phi = s * u if p == 0 else -math.expm1(-s * math.log1p(p * u)) / p
        return 0.0 if p >= 1 else math.exp((bx - 1) * math.log1p(-p) - lb) / a * phi

    given_alive, _ = integrate.quad(integrand, 0, 1, limit=500, epsabs=0, epsrel=1e-12)
    return M.p_alive(f, x, t_x, T) * given_alive


@pytest.mark.parametrize(
    "params,t,x,t_x,T",
    [
        (PAPER, 39.0, 2, 30.43, 38.86),
        (PAPER, 52.0, 0, 0.0, 0.0),
        (PAPER, 52.0, 500, 100.0, 100.0),
        (PAPER, 4.0, 40, 10.0, 300.0),
        (dict(r=2.5, alpha=30.0, a=0.4, b=8.0), 26.0, 7, 20.0, 70.0),
        (dict(r=0.6, alpha=2.0, a=3.0, b=0.9), 100.0, 1, 1.0, 2.0),
        (dict(r=1.0, alpha=10.0, a=1.0, b=2.0), 52.0, 3, 20.0, 30.0),  # a == 1: removable singularity
    ],
)
def test_expected_transactions_matches_posterior_integral(params, t, x, t_x, T):
    f = M.BgNbdFit(**params, log_likelihood=0.0, n_customers=1, converged=True)
    ref = _posterior_expectation(f, t, x, t_x, T)
    assert M.expected_transactions(f, t, x, t_x, T) == pytest.approx(ref, rel=1e-7)


def test_fallback_quadrature_agrees_with_hypergeometric_form():
    # Where 2F1 is well behaved, the quadrature fallback must agree with it.
    rng = np.random.default_rng(7)
    r, alpha, a, b = 0.3, 1.0, 0.8, 2.3
    x = rng.integers(0, 50, 50).astype(float)
    u = rng.uniform(0.01, 20, 50)  # t / (alpha + T) with T = 0
    via_quad = _bgnbd._beta_quadrature(a, b + x, r + x, u)
    via_2f1 = _bgnbd._expected_if_alive(r, alpha, a, b, u * alpha, x, np.zeros(50))
    np.testing.assert_allclose(via_quad, via_2f1, rtol=1e-6)


def test_unconditional_expectation_is_new_customer_conditional(cdnow_fit):
    t = np.array([0.0, 1.0, 10.0, 100.0])
    np.testing.assert_allclose(M.expected_transactions_new(cdnow_fit, t),
                               M.expected_transactions(cdnow_fit, t, 0, 0, 0), rtol=1e-14)
    assert M.expected_transactions_new(cdnow_fit, 0.0) == 0.0


def test_continuity_around_a_equal_one():
    vals = [M.expected_transactions_new(M.BgNbdFit(0.5, 5.0, a, 3.0, 0, 1, True), 52.0)
            for a in (1 - 1e-3, 1 - 1e-6, 1.0, 1 + 1e-6, 1 + 1e-3)]
    assert all(np.isfinite(vals))
    assert vals[2] == pytest.approx((vals[0] + vals[4]) / 2, rel=1e-5)
    assert vals[1] == pytest.approx(vals[2], rel=1e-6) and vals[3] == pytest.approx(vals[2], rel=1e-6)


# --------------------------------------------------------------- properties
params_st = st.fixed_dictionaries({
    "r": st.floats(0.05, 20), "alpha": st.floats(0.1, 500),
    "a": st.floats(0.05, 20), "b": st.floats(0.05, 100),
})
customer_st = st.tuples(st.integers(0, 10_000), st.floats(0, 500), st.floats(0, 1))


def _fit(p):
    return M.BgNbdFit(**p, log_likelihood=0.0, n_customers=1, converged=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params_st, customer_st, st.floats(0, 520), st.floats(0, 520))
def test_property_expected_transactions(p, cust, t1, t2):
    f = _fit(p)
    x, T, frac = cust
    t_x = T * frac if x > 0 else 0.0
    pa = M.p_alive(f, x, t_x, T)
    assert 0.0 <= pa <= 1.0
    if x == 0:
        assert pa == 1.0
    lo, hi = sorted((t1, t2))
    e_lo, e_hi = (M.expected_transactions(f, t, x, t_x, T) for t in (lo, hi))
    assert np.isfinite(e_lo) and np.isfinite(e_hi) and e_lo >= 0
    assert e_hi >= e_lo * (1 - 1e-7) - 1e-12
    # bounded by the posterior-mean purchase rate times the horizon
    assert e_hi <= pa * (p["r"] + x) * hi / (p["alpha"] + T) * (1 + 1e-9) + 1e-12


@settings(max_examples=150, deadline=None)
@given(params_st, st.integers(1, 10_000), st.floats(0, 500), st.floats(0, 1), st.floats(0, 1))
def test_property_p_alive_non_decreasing_in_recency(p, x, T, f1, f2):
    f = _fit(p)
    lo, hi = sorted((f1, f2))
    assert M.p_alive(f, x, T * lo, T) <= M.p_alive(f, x, T * hi, T)


@settings(max_examples=60, deadline=None)
@given(params_st)
def test_property_extreme_customers_finite(p):
    f = _fit(p)
    x = np.array([0, 0, 500, 500, 10_000, 10_000, 1])
    t_x = np.array([0, 0, 100, 0, 500, 0, 0.0])
    T = np.array([0, 500, 100, 100, 500, 500, 0.0])
    for t in (0.0, 1e-6, 52.0, 520.0):
        e = M.expected_transactions(f, t, x, t_x, T)
        assert np.isfinite(e).all() and (e >= 0).all()
    pa = M.p_alive(f, x, t_x, T)
    assert np.isfinite(pa).all() and ((pa >= 0) & (pa <= 1)).all()
    clv = M.customer_lifetime_value(f, GG, x, t_x, T, np.zeros(7))
    assert np.isfinite(clv).all() and (clv >= 0).all()


def test_extreme_parameters_stay_finite():
    x = np.array([0, 500, 10_000, 10_000, 3])
    t_x = np.array([0, 100, 500, 0, 1.0])
    T = np.array([0, 100, 500, 500, 1.0])
    for r in (1e-8, 1e4):
        for a in (1e-8, 1.0, 1e4):
            for b in (1e-8, 1e4):
                f = M.BgNbdFit(r, 1e-3, a, b, 0, 1, True)
                e = M.expected_transactions(f, 520.0, x, t_x, T)
                assert np.isfinite(e).all() and (e >= 0).all(), (r, a, b, e)


# ------------------------------------------------------------- Gamma-Gamma
GG = M.GammaGammaFit(p=6.25, q=3.74, gamma=15.44, log_likelihood=0.0, n_customers=946, converged=True)


def test_gamma_gamma_cdnow_matches_note(cdnow):
    c, _ = cdnow
    rep = c["x"] > 0
    f = M.fit_gamma_gamma(c["x"][rep], c["mean_spend"][rep])
    assert f.p == pytest.approx(6.25, rel=0.005)
    assert f.q == pytest.approx(3.74, rel=0.005)
    assert f.gamma == pytest.approx(15.44, rel=0.005)
    assert f.converged and f.n_customers == 946 and M.fit_is_sound(f)[0]
    # customers with x == 0 (mean spend NULL -> NaN) are ignored, not an error
    assert np.isnan(c["mean_spend"][~rep]).all()
    f0 = M.fit_gamma_gamma(c["x"], c["mean_spend"])
    assert f0.p == pytest.approx(f.p, rel=1e-9) and f0.n_customers == 946


def test_expected_spend_hand_example():
    # (p*gamma + p*x*m) / (p*x + q - 1) with p=6.25, q=3.74, gamma=15.44, x=2, m=20
    assert M.expected_spend(GG, 2, 20.0) == pytest.approx(346.5 / 15.24, rel=1e-12)
    pop = 6.25 * 15.44 / 2.74
    assert M.expected_spend(GG, 0, np.nan) == pytest.approx(pop, rel=1e-12)
    # weighted average of the population mean and the customer's own mean
    wgt = 12.5 / 15.24
    assert M.expected_spend(GG, 2, 20.0) == pytest.approx(wgt * 20 + (1 - wgt) * pop, rel=1e-12)
    with pytest.raises(InputError, match="mean_spend"):
        M.expected_spend(GG, [0, 2], [np.nan, np.nan])  # NaN is only allowed where x == 0
    e = M.expected_spend(GG, [1, 5, 50, 5000], [100.0] * 4)
    assert (np.diff(e) > 0).all() and (e > pop).all() and (e < 100).all()  # shrinks less as x grows


def test_expected_spend_requires_q_above_one():
    bad = M.GammaGammaFit(2.0, 0.9, 10.0, 0.0, 100, True)
    with pytest.raises(ModelError, match="q"):
        M.expected_spend(bad, 1, 10.0)
    assert M.fit_is_sound(bad)[0] is False


def test_gamma_gamma_degenerate_inputs():
    rng = np.random.default_rng(1)
    x = rng.integers(1, 5, 100)
    m = rng.gamma(4, 10, 100)
    with pytest.raises(ModelError, match="20"):
        M.fit_gamma_gamma(x[:10], m[:10])
    with pytest.raises(ModelError, match="same mean spend"):
        M.fit_gamma_gamma(x, np.full(100, 25.0))
    with pytest.raises(ModelError, match="positive"):
        M.fit_gamma_gamma(x, np.zeros(100))
    m2 = m.copy()
    m2[:5] = 0.0
    with pytest.warns(RfmWarning, match="dropped 5"):
        f = M.fit_gamma_gamma(x, m2)
    assert f.n_customers == 95


def test_gamma_gamma_weights_equal_repetition():
    rng = np.random.default_rng(2)
    x = rng.integers(1, 6, 60).astype(float)
    m = rng.gamma(5, 8, 60)
    w = rng.integers(1, 4, 60)
    fw = M.fit_gamma_gamma(x, m, w)
    fr = M.fit_gamma_gamma(np.repeat(x, w), np.repeat(m, w))
    for k in ("p", "q", "gamma"):
        assert getattr(fw, k) == pytest.approx(getattr(fr, k), rel=1e-6)


# -------------------------------------------------------------------- CLV
def test_clv_two_month_hand_computation():
    f = PAPER_FIT
    x, t_x, T, m = 3, 20.0, 30.0, 40.0
    step = 30.4375 / 7
    e1 = M.expected_transactions(f, step, x, t_x, T)
    e2 = M.expected_transactions(f, 2 * step, x, t_x, T)
    z = (6.25 * 15.44 + 6.25 * 3 * 40.0) / (6.25 * 3 + 3.74 - 1)
    expected = e1 * z / 1.01 + (e2 - e1) * z / 1.01**2
    got = M.customer_lifetime_value(f, GG, x, t_x, T, m, horizon_months=2, monthly_discount=0.01)
    assert got == pytest.approx(expected, rel=1e-9)


def test_clv_undiscounted_is_expected_revenue_and_unit_invariant():
    f = PAPER_FIT
    x, t_x, T = np.array([0, 2, 7]), np.array([0, 10.0, 30.0]), np.array([5.0, 20.0, 38.0])
    m = np.array([0, 30.0, 55.0])
    clv = M.customer_lifetime_value(f, GG, x, t_x, T, m, horizon_months=12, monthly_discount=0.0)
    total = M.expected_transactions(f, 12 * 30.4375 / 7, x, t_x, T) * M.expected_spend(GG, x, m)
    np.testing.assert_allclose(clv, total, rtol=1e-12)
    # the same model expressed in days (alpha scales with the time unit)
    fd = M.BgNbdFit(f.r, f.alpha * 7, f.a, f.b, 0.0, 1, True)
    clv_d = M.customer_lifetime_value(fd, GG, x, t_x * 7, T * 7, m, time_unit_days=1.0)
    clv_w = M.customer_lifetime_value(f, GG, x, t_x, T, m)
    np.testing.assert_allclose(clv_d, clv_w, rtol=1e-9)
    assert (clv_w < clv).all()  # discounting lowers the value


def test_clv_rejects_bad_options():
    with pytest.raises(InputError):
        M.customer_lifetime_value(PAPER_FIT, GG, 1, 1, 2, 10, horizon_months=-1)
    with pytest.raises(InputError):
        M.customer_lifetime_value(PAPER_FIT, GG, 1, 1, 2, 10, time_unit_days=0)


# --------------------------------------------------- fitting edge cases, I/O
def _simulate(n, r, alpha, a, b, rng):
    lam = rng.gamma(r, 1 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1)
    T_days = rng.integers(0, 365, n)
    T = T_days / 7
    events = rng.poisson(lam * T)
    death = rng.geometric(p)  # dropout right after this repeat transaction
    x = np.minimum(events, death)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), events - x + 1), 0.0)
    return x.astype(float), np.minimum(np.floor(t_x * 7) / 7, T), T


def test_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    truth = dict(r=0.5, alpha=5.0, a=0.8, b=2.5)
    x, t_x, T = _simulate(60_000, **truth, rng=rng)
    f = M.fit_bgnbd(x, t_x, T)
    assert f.converged
    for k, v in truth.items():
        assert getattr(f, k) == pytest.approx(v, rel=0.15), k


@pytest.mark.parametrize("seed", [0, 1])
def test_data_without_dropout(seed):
    # Pure Poisson buyers (lambda ~ Gamma(2, 10)): the fit sits on the ridge
    # "dropout probability ~ 0"; it must say so and stay usable, or be flagged.
    rng = np.random.default_rng(seed)
    T = rng.uniform(20, 50, 5000)
    x = rng.poisson(rng.gamma(2, 0.1, 5000) * T).astype(float)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1), 0.0)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        f = M.fit_bgnbd(x, t_x, T)
    assert f.a / (f.a + f.b) < 1e-3
    assert f.r / f.alpha == pytest.approx(0.2, rel=0.05)
    if f.converged:
        assert np.median(M.p_alive(f, x, t_x, T)) > 0.99
    else:
        assert any(issubclass(w.category, RfmWarning) for w in rec)
        assert M.fit_is_sound(f)[0] is False


def test_fit_rejects_degenerate_and_invalid_input():
    with pytest.raises(ModelError, match="repeat"):
        M.fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])
    with pytest.raises(ModelError, match="no customers"):
        M.fit_bgnbd([1, 2], [1, 1], [2, 2], weights=[0, 0])
    with pytest.raises(InputError, match="t_x"):
        M.fit_bgnbd([1, 2], [3, 1], [2, 2])
    with pytest.raises(InputError, match="integers"):
        M.fit_bgnbd([-1, 2], [1, 1], [2, 2])
    with pytest.raises(InputError, match="NaN"):
        M.p_alive(PAPER_FIT, [1, np.nan], [1, 1], [2, 2])


def test_initial_point_is_accepted(cdnow, cdnow_fit):
    _, g = cdnow
    f = M.fit_bgnbd(g["x"], g["tx_days"] / 7, g["T_days"] / 7, g["n"], initial=PAPER_FIT)
    assert f.r == pytest.approx(cdnow_fit.r, rel=1e-6)


def test_fit_round_trips_through_json(cdnow_fit):
    d = json.loads(json.dumps(cdnow_fit.to_dict()))
    assert d["model"] == "bgnbd"
    assert M.BgNbdFit.from_dict(d) == cdnow_fit
    assert M.GammaGammaFit.from_dict(json.loads(json.dumps(GG.to_dict()))) == GG
    with pytest.raises(ConfigError, match="alpha"):
        M.BgNbdFit.from_dict({k: v for k, v in d.items() if k != "alpha"})
    with pytest.raises(ConfigError, match="model"):
        M.GammaGammaFit.from_dict(d)
    with pytest.raises(ConfigError, match="> 0"):
        M.BgNbdFit.from_dict({**d, "r": -1})


def test_fit_is_sound_flags_bad_fits(cdnow_fit):
    assert M.fit_is_sound(cdnow_fit) == (True, "ok")
    ok, why = M.fit_is_sound(M.BgNbdFit(0.2, 4.0, 0.8, 2e6, -1.0, 10, True))
    assert not ok and "absurd" in why
    ok, why = M.fit_is_sound(M.BgNbdFit(0.2, 4.0, M.PARAM_MIN, 2.0, -1.0, 10, True))
    assert not ok and "bound" in why
    ok, why = M.fit_is_sound(M.BgNbdFit(0.2, 4.0, 0.8, 2.0, -1.0, 10, False, "not converged"))
    assert not ok and "converge" in why
    ok, why = M.fit_is_sound(M.BgNbdFit(0.2, 4.0, 0.8, 2.0, float("nan"), 10, True))
    assert not ok
