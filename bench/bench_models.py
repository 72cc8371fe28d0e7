"""Benchmark of the churn models (rfm.churn._models) at 10 million customers (not a test).

Simulates BG/NBD data from known parameters (vectorised numpy), rounds the
observation windows to whole days (so identical (x, t_x, T) triples repeat, as
they do in real order data), groups the triples with counts, fits BG/NBD on
the groups and scores every customer (p_alive + expected transactions).

    /work/venv/bin/python bench/bench_models.py [--customers 10000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rfm.churn import _models as M  # noqa: E402

TRUE = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}  # alpha in weeks


def simulate(n: int, rng: np.random.Generator, *, acquisition_days: int = 365, asof_day: int = 730):
    """BG/NBD customers: lambda ~ Gamma(r, alpha), p ~ Beta(a, b); Poisson
    purchases at rate lambda per week; after each repeat purchase the customer
    drops out with probability p.  First purchases uniform over the first
    ``acquisition_days``; observation ends on ``asof_day``.  Returns
    (x, t_x_days, T_days) as integers: T is a whole number of days and t_x is
    rounded to the nearest day (flooring would bias recency by half a day,
    which shifts alpha by ~1.5 %)."""
    r, alpha, a, b = TRUE.values()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    T_days = asof_day - rng.integers(0, acquisition_days, n)
    T = T_days / 7.0
    events = rng.poisson(lam * T)  # purchases in (0, T] if never dropping out
    death = rng.geometric(p)  # dropout right after this repeat purchase
    x = np.minimum(events, death)
    # time of the x-th of `events` uniform event times = x-th order statistic
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), events - x + 1), 0.0)
    tx_days = np.minimum(np.rint(t_x * 7.0), T_days).astype(np.int64)
    return x.astype(np.int64), tx_days, T_days.astype(np.int64)


def group(x, tx_days, T_days):
    """Distinct (x, t_x, T) triples with counts, via one int64 key."""
    base = int(T_days.max()) + 1
    key = (x * base + tx_days) * base + T_days
    uk, counts = np.unique(key, return_counts=True)
    gT = uk % base
    gtx = (uk // base) % base
    gx = uk // (base * base)
    return gx, gtx, gT, counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []

    t0 = time.perf_counter()
    x, tx_days, T_days = simulate(args.customers, rng)
    rows.append(("simulate", time.perf_counter() - t0, f"{args.customers:,} customers, mean x {x.mean():.3f}, "
                 f"{(x == 0).mean():.1%} with x = 0"))

    t0 = time.perf_counter()
    gx, gtx, gT, counts = group(x, tx_days, T_days)
    rows.append(("group (np.unique on int64 key)", time.perf_counter() - t0, f"{len(counts):,} distinct triples"))

    t0 = time.perf_counter()
    fit = M.fit_bgnbd(gx, gtx / 7.0, gT / 7.0, counts)
    t_fit = time.perf_counter() - t0
    errs = {k: getattr(fit, k) / v - 1 for k, v in TRUE.items()}
    rows.append(("fit BG/NBD (grouped)", t_fit,
                 ", ".join(f"{k} {getattr(fit, k):.4f} ({e:+.2%})" for k, e in errs.items())
                 + f"; converged {fit.converged}; sound {M.fit_is_sound(fit)[0]}"))

    xf, txf, Tf = x.astype(float), tx_days / 7.0, T_days / 7.0
    t0 = time.perf_counter()
    pa = M.p_alive(fit, xf, txf, Tf)
    ex = M.expected_transactions(fit, 52.0, xf, txf, Tf)
    t_score = time.perf_counter() - t0
    ok = bool(np.isfinite(pa).all() and np.isfinite(ex).all())
    rows.append(("score every customer: p_alive + E[X(52 wk)]", t_score,
                 f"mean p_alive {pa.mean():.4f}, mean E {ex.mean():.4f}, all finite {ok}"))

    t0 = time.perf_counter()
    gpa = M.p_alive(fit, gx, gtx / 7.0, gT / 7.0)
    gex = M.expected_transactions(fit, 52.0, gx, gtx / 7.0, gT / 7.0)
    t_gscore = time.perf_counter() - t0
    rows.append(("score the distinct triples only", t_gscore,
                 f"weighted mean E {np.dot(counts, gex) / counts.sum():.4f} (same model, {len(counts):,} rows)"))

    print(f"\nBG/NBD benchmark, truth r={TRUE['r']}, alpha={TRUE['alpha']}, a={TRUE['a']}, b={TRUE['b']}\n")
    print("| step | seconds | result |")
    print("|---|---:|---|")
    for name, sec, note in rows:
        print(f"| {name} | {sec:.2f} | {note} |")
    worst = max(abs(e) for e in errs.values())
    print(f"\nlargest relative parameter error: {worst:.2%} ({'OK' if worst < 0.02 else 'CHECK'})")


if __name__ == "__main__":
    main()
