"""The order model: deterministic synthetic order history (demo data, tests, benchmarks).

``generate_orders(out, customers=..., orders=...)`` writes one row per order
line to ``out`` (``.parquet``, ``.csv`` or ``.csv.gz``); ``generate_frame``
returns the same rows as a polars DataFrame and ``generate_customers_frame``
returns what was *planted* per customer, so tests can check that an analysis
recovers it (all three are public in :mod:`rfm.synthetic`).  Everything below
is a documented modelling choice; the constants are module-level names of
this module so a reader can see (and a test can import) exactly what was
planted.

This module implements the model: the rows of each chunk (:func:`chunks`)
and the planted customers (:func:`customers_table`).  The arguments are
checked once in :mod:`rfm.synthetic._order_spec`; files are written by
:mod:`rfm.synthetic._order_api`.

Columns
-------
``customer_id`` int64 (1..customers), ``order_id`` int64, ``order_date``
date32, ``amount`` float64 (line amount, rounded to cents), ``category``
string, ``status`` string (``complete`` / ``cancelled`` / ``refund``),
``quantity`` int32.

Counts (what the arguments mean exactly)
----------------------------------------
* ``customers`` is exact: every customer id 1..customers appears, each with
  at least one purchase order.
* ``orders`` is the exact number of distinct *purchase* order ids, i.e. every
  order id that is not a return order; cancelled orders are included.  Return
  orders (status ``refund``) come on top and are reported in the summary as
  ``return_lines`` (a return order has exactly one line).  Hence
  ``orders >= customers`` is required (InputError otherwise).
* ``lines_per_order`` is the mean number of lines of a purchase order: with
  1.0 every purchase order has exactly one line, otherwise a purchase order
  has ``1 + Poisson(lines_per_order - 1)`` lines.  So with 1.0,
  ``lines == orders + return_lines``.
* ``order_id`` is dense: 1..(orders + return orders), assigned in row order,
  so it increases with date within a customer (a return order gets an id
  after its original).

Customers: purchase rates and dropout (Pareto/NBD-like)
-------------------------------------------------------
Per customer, from the customer stream of its chunk:

* acquisition day ``a = floor(Beta(1, 2) * n_days)`` - acquisitions spread
  over the whole period with a linearly falling density (more early);
* relative purchase rate ``lambda ~ Gamma(shape=0.5)`` (strong heterogeneity);
* lifetime: with probability 0.20 the customer drops out right after the
  first purchase (lifetime 0, a planted one-time buyer, as BG/NBD allows);
  otherwise ``tau ~ Exponential(1) / mu`` with ``mu ~ Gamma(1, 1/365 days)``
  (Pareto/NBD: a Lomax lifetime with a median of a year and a long tail);
* active life = ``[a, a + min(tau, last_day - a)]``, weight
  ``w = lambda * min(tau, last_day - a)`` (expected further orders, up to a
  common factor);
* spend level ``s ~ LogNormal(log 25, 0.7)`` (unit price level in currency);
* favourite category drawn from the popularity distribution (below).

Exact order total: every customer gets its first order on the acquisition
day; the remaining ``orders - customers`` are a multinomial over the weights
``w``.  It is drawn chunk by chunk so memory stays bounded: a first pass
regenerates the customer attributes of each chunk from the seed and sums the
chunk weights; chunk totals are then conditional binomials
(``Binomial(remaining, w_chunk / w_remaining)``), and inside a chunk a
multinomial spreads the chunk total over its customers.  The absolute rate
is therefore set by ``orders``: ``purchase_rate = lambda * k`` orders per day
with ``k = (orders - customers) / sum(w)``.  (If every weight is zero - e.g.
``start == end`` - the fallback weight is ``lambda``, all orders on the
acquisition day.)  Further orders fall uniformly (whole days) inside the
active life; within a customer dates are sorted and all lie in
``[start, end]``.  With about five orders per customer this gives roughly
half one-time buyers (fewer orders per customer: more) and a long tail of
loyal customers with dozens to hundreds of orders.

Lines
-----
* Categories: popularity ``p_k ~ 1 / (k + 1) ** 0.8`` in the order the
  categories are given (the first is the most popular).  A customer's line
  distribution is ``q = 0.6 * [favourite] + 0.4 * p``.  A one-line order
  draws its category from ``q``; the lines of a multi-line order are drawn
  from ``q`` *without replacement* (Gumbel top-k), so they are in different
  categories whenever the order has at most as many lines as there are
  categories (beyond that the ranking repeats).  The favourite is therefore
  the most bought category of most customers with a handful of lines.
* ``quantity`` in 1..5 with probabilities 0.60, 0.20, 0.10, 0.06, 0.04.
* ``amount = round(quantity * s * LogNormal(0, 0.35), 2)``, at least 0.01.

Cancellations and returns
-------------------------
* Each purchase order is cancelled with probability 0.03: all of its lines
  get status ``cancelled`` (amounts stay positive, as ordered).
* Each complete purchase order gets a return with probability 0.05: one line
  in a new order id (a return order) dated 0-30 days after the original
  (capped at ``end``), status ``refund``, the category of one uniformly
  chosen line of the original, ``quantity`` = units returned (uniform in
  1..that line's quantity, positive) and ``amount`` = minus that share of the
  line's amount (the whole line when all units come back), at most -0.01.

Determinism and chunks
----------------------
Customers are processed in chunks of ``chunk_customers`` (capped so a chunk
is expected to hold at most ``MAX_CHUNK_LINES`` lines, in
:mod:`rfm.synthetic._order_spec`).  Each chunk uses
``numpy.random.Generator(PCG64)`` streams seeded by
``SeedSequence(seed, spawn_key=(purpose, chunk))``, so the output is a pure
function of the arguments (including ``chunk_customers``; different chunk
sizes give different, equally valid data).  Rows are sorted by
(customer_id, order_date, order_id).  How the files are written (Parquet
metadata, CSV, atomic replace) and how fast: :mod:`rfm.synthetic._order_api`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from rfm.synthetic._order_spec import OrderSpec


# --- planted model constants (see module docstring) -------------------------
ACQUISITION_BETA = (1.0, 2.0)
RATE_SHAPE = 0.5
IMMEDIATE_DROPOUT = 0.20
DROPOUT_SHAPE = 1.0
DROPOUT_SCALE_DAYS = 365.0
SPEND_MEDIAN = 25.0
SPEND_SIGMA = 0.7
PRICE_NOISE_SIGMA = 0.35
POPULARITY_EXPONENT = 0.8
FAVOURITE_SHARE = 0.6
QUANTITY_PROBS = (0.60, 0.20, 0.10, 0.06, 0.04)
CANCEL_RATE = 0.03
RETURN_RATE = 0.05
RETURN_MAX_DAYS = 30
_GUMBEL_BLOCK = 8_000_000  # max cells of one (orders x categories) key matrix

# SeedSequence spawn-key purposes
_ALLOC, _CUSTOMER, _LINES = 0, 1, 2

STATUSES = ("complete", "cancelled", "refund")
_COMPLETE, _CANCELLED, _REFUND = 0, 1, 2

SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("order_id", pa.int64()),
        ("order_date", pa.date32()),
        ("amount", pa.float64()),
        ("category", pa.string()),
        ("status", pa.string()),
        ("quantity", pa.int32()),
    ]
)

# --- random model ---------------------------------------------------------------


def _popularity(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** POPULARITY_EXPONENT
    return p / p.sum()


def _cdf_pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index i with cdf[i-1] <= u < cdf[i] (robust to cdf[-1] < 1)."""
    idx = np.searchsorted(cdf, u, side="right")
    return np.minimum(idx, len(cdf) - 1)


@dataclass
class _Customers:
    acq: np.ndarray  # int64 day offset from start
    last: np.ndarray  # int64 last day of active life (offset)
    lam: np.ndarray  # relative purchase rate
    tau: np.ndarray  # lifetime in days (0 = immediate dropout)
    weight: np.ndarray  # lam * active days
    spend: np.ndarray
    fav: np.ndarray  # int64 category index


def _customers(spec: OrderSpec, c: int, fallback: bool = False) -> _Customers:
    lo, hi = spec.chunk_bounds(c)
    n = hi - lo
    rng = spec.stream(_CUSTOMER, c)
    last_day = spec.n_days - 1
    acq = np.floor(rng.beta(*ACQUISITION_BETA, n) * spec.n_days).astype(np.int64)
    np.minimum(acq, last_day, out=acq)
    lam = rng.gamma(RATE_SHAPE, 1.0, n)
    mu = rng.gamma(DROPOUT_SHAPE, 1.0 / DROPOUT_SCALE_DAYS, n)
    tau = rng.exponential(1.0, n) / np.maximum(mu, 1e-300)
    tau[rng.random(n) < IMMEDIATE_DROPOUT] = 0.0
    active = np.minimum(tau, (last_day - acq).astype(np.float64))
    weight = lam if fallback else lam * active
    last = acq + np.floor(active).astype(np.int64)
    spend = SPEND_MEDIAN * np.exp(SPEND_SIGMA * rng.standard_normal(n))
    fav = _cdf_pick(np.cumsum(_popularity(len(spec.categories))), rng.random(n))
    return _Customers(acq, last, lam, tau, weight, spend, fav.astype(np.int64))


@dataclass(frozen=True)
class _Plan:
    extras: np.ndarray  # further orders per chunk (beyond one per customer)
    total_weight: float
    fallback: bool


def _plan(spec: OrderSpec) -> _Plan:
    """Pass 1: chunk weight sums, then chunk totals by conditional binomials."""
    sums = np.array([_customers(spec, c).weight.sum() for c in range(spec.n_chunks)])
    fallback = False
    remaining = spec.orders - spec.customers
    if remaining > 0 and not sums.sum() > 0:
        fallback = True
        sums = np.array(
            [_customers(spec, c, True).weight.sum() for c in range(spec.n_chunks)]
        )
    suffix = np.cumsum(sums[::-1])[::-1]
    rng = spec.stream(_ALLOC, 0)
    extras = np.zeros(spec.n_chunks, dtype=np.int64)
    for c in range(spec.n_chunks):
        if remaining == 0:
            break
        if sums[c] <= 0:
            continue
        p = 1.0 if sums[c] >= suffix[c] else min(1.0, sums[c] / suffix[c])
        extras[c] = remaining if p >= 1.0 else rng.binomial(remaining, p)
        remaining -= int(extras[c])
    if remaining:  # float round-off only; give it to the last chunk with weight
        extras[np.flatnonzero(sums > 0)[-1]] += remaining
    return _Plan(extras, float(sums.sum()), fallback)


def _order_counts(cu: _Customers, extra: int, rng: np.random.Generator) -> np.ndarray:
    n = len(cu.acq)
    if extra > 0:
        p = cu.weight / cu.weight.sum()
        head = p[:-1].sum()
        if head > 1.0:  # round-off; numpy rejects sum(pvals[:-1]) > 1 + 1e-12
            p[:-1] /= head
        extras = rng.multinomial(extra, p)
    else:
        extras = np.zeros(n, dtype=np.int64)
    return 1 + extras.astype(np.int64)


def _ragged_positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group index per element, position within group) for group sizes."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    group = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return group, pos


def _line_categories(
    spec: OrderSpec,
    cu: _Customers,
    ocust: np.ndarray,
    m: np.ndarray,
    lorder: np.ndarray,
    lstart: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    k = len(spec.categories)
    pop = _popularity(k)
    cat = np.empty(len(lorder), dtype=np.int64)
    if k == 1:
        cat[:] = 0
        return cat
    # One-line orders: a draw from q = 0.6 * favourite + 0.4 * popularity.
    single = np.flatnonzero(m[lorder] == 1)
    fav = cu.fav[ocust[lorder[single]]]
    u_fav = rng.random(len(single))
    pick = _cdf_pick(np.cumsum(pop), rng.random(len(single)))
    cat[single] = np.where(u_fav < FAVOURITE_SHARE, fav, pick)
    # Multi-line orders: q without replacement via Gumbel top-k.
    multi = np.flatnonzero(m > 1)
    log_base = np.log((1.0 - FAVOURITE_SHARE) * pop)
    boost = np.log((1.0 - FAVOURITE_SHARE) * pop + FAVOURITE_SHARE) - log_base
    block = max(1, _GUMBEL_BLOCK // k)
    for b0 in range(0, len(multi), block):
        orders_b = multi[b0 : b0 + block]
        nb = len(orders_b)
        keys = rng.gumbel(size=(nb, k))
        keys += log_base
        fav_b = cu.fav[ocust[orders_b]]
        rows = np.arange(nb)
        keys[rows, fav_b] += boost[fav_b]
        ranking = np.argsort(-keys, axis=1)
        mb = m[orders_b]
        row_rep, j = _ragged_positions(mb)
        cat[lstart[orders_b][row_rep] + j] = ranking[row_rep, j % k]
    return cat


def _chunk_table(
    spec: OrderSpec, plan: _Plan, c: int, first_order_id: int
) -> tuple[pa.Table, dict[str, int]]:
    lo, _hi = spec.chunk_bounds(c)
    cu = _customers(spec, c, plan.fallback)
    rng = spec.stream(_LINES, c)
    counts = _order_counts(cu, int(plan.extras[c]), rng)
    n_days = spec.n_days

    # Purchase orders: first on the acquisition day, others uniform in life.
    ocust, opos = _ragged_positions(counts)
    n_p = len(ocust)
    span = (cu.last - cu.acq + 1)[ocust]
    day = cu.acq[ocust] + np.floor(rng.random(n_p) * span).astype(np.int64)
    day[opos == 0] = cu.acq[ocust[opos == 0]]
    np.minimum(day, cu.last[ocust], out=day)
    # (orders are put in date order below, when merged with the returns)
    cancelled = rng.random(n_p) < CANCEL_RATE

    # Lines of purchase orders.
    if spec.lines_per_order == 1.0:
        m = np.ones(n_p, dtype=np.int64)
    else:
        m = 1 + rng.poisson(spec.lines_per_order - 1.0, n_p).astype(np.int64)
    lorder, _ = _ragged_positions(m)
    lstart = np.cumsum(m) - m
    n_l = len(lorder)
    cat = _line_categories(spec, cu, ocust, m, lorder, lstart, rng)
    qty = 1 + _cdf_pick(np.cumsum(QUANTITY_PROBS), rng.random(n_l))
    unit = cu.spend[ocust[lorder]] * np.exp(PRICE_NOISE_SIGMA * rng.standard_normal(n_l))
    amt = np.maximum(np.round(qty * unit, 2), 0.01)

    # Returns: one line of ~5 % of complete orders, in a new (return) order.
    ret = np.flatnonzero(~cancelled & (rng.random(n_p) < RETURN_RATE))
    n_r = len(ret)
    rline = lstart[ret] + np.floor(rng.random(n_r) * m[ret]).astype(np.int64)
    rday = np.minimum(day[ret] + rng.integers(0, RETURN_MAX_DAYS + 1, n_r), n_days - 1)
    rqty = 1 + np.floor(rng.random(n_r) * qty[rline]).astype(np.int64)
    ramt = -np.maximum(np.round(amt[rline] * rqty / qty[rline], 2), 0.01)

    # Sort purchase and return orders by (customer, day, purchases first) and
    # number them in that order.
    okey = np.concatenate([(ocust * n_days + day) * 2, (ocust[ret] * n_days + rday) * 2 + 1])
    perm = np.argsort(okey, kind="stable")
    nl = np.concatenate([m, np.ones(n_r, dtype=np.int64)])[perm]
    src = np.concatenate([lstart, n_l + np.arange(n_r, dtype=np.int64)])[perm]
    order_ids = first_order_id + np.arange(n_p + n_r, dtype=np.int64)
    out_order, out_pos = _ragged_positions(nl)
    gather = src[out_order] + out_pos

    status = np.where(cancelled[lorder], _CANCELLED, _COMPLETE)
    cols = {
        "customer_id": np.concatenate([ocust[lorder], ocust[ret]])[gather] + (lo + 1),
        "order_id": order_ids[out_order],
        "order_date": (np.concatenate([day[lorder], rday])[gather] + spec.epoch_day).astype(
            np.int32
        ),
        "amount": np.concatenate([amt, ramt])[gather],
        "category": np.concatenate([cat, cat[rline]])[gather].astype(np.int32),
        "status": np.concatenate([status, np.full(n_r, _REFUND)])[gather].astype(np.int32),
        "quantity": np.concatenate([qty, rqty])[gather].astype(np.int32),
    }
    table = pa.table(
        {
            "customer_id": pa.array(cols["customer_id"], pa.int64()),
            "order_id": pa.array(cols["order_id"], pa.int64()),
            "order_date": pa.array(cols["order_date"], pa.date32()),
            "amount": pa.array(cols["amount"], pa.float64()),
            "category": _strings(cols["category"], spec.categories),
            "status": _strings(cols["status"], STATUSES),
            "quantity": pa.array(cols["quantity"], pa.int32()),
        },
        schema=SCHEMA,
    )
    stats = {
        "orders": n_p,
        "return_orders": n_r,
        "lines": n_l + n_r,
        "cancelled_lines": int(cancelled[lorder].sum()),
        "return_lines": n_r,
    }
    return table, stats


def _strings(codes: np.ndarray, names: Sequence[str]) -> pa.Array:
    return pa.array(list(names), pa.string()).take(pa.array(codes, pa.int32()))


Chunk = tuple[int, pa.Table, dict[str, int]]


def chunks(spec: OrderSpec) -> Iterator[Chunk]:
    """(chunk index, rows, counts) of each chunk in turn; order ids continue across chunks."""
    plan = _plan(spec)
    next_id = 1
    for c in range(spec.n_chunks):
        table, stats = _chunk_table(spec, plan, c, next_id)
        next_id += stats["orders"] + stats["return_orders"]
        yield c, table, stats


def customers_table(spec: OrderSpec) -> pa.Table:
    """What was planted per customer (see ``generate_customers_frame``)."""
    plan = _plan(spec)
    scale = (spec.orders - spec.customers) / plan.total_weight if plan.total_weight > 0 else 0.0
    frames = []
    for c in range(spec.n_chunks):
        lo, hi = spec.chunk_bounds(c)
        cu = _customers(spec, c, plan.fallback)
        counts = _order_counts(cu, int(plan.extras[c]), spec.stream(_LINES, c))
        frames.append(
            pa.table(
                {
                    "customer_id": pa.array(np.arange(lo + 1, hi + 1, dtype=np.int64)),
                    "acquisition_date": pa.array(
                        (cu.acq + spec.epoch_day).astype(np.int32), pa.date32()
                    ),
                    "active_until": pa.array(
                        (cu.last + spec.epoch_day).astype(np.int32), pa.date32()
                    ),
                    "lifetime_days": pa.array(cu.tau, pa.float64()),
                    "purchase_rate": pa.array(cu.lam * scale, pa.float64()),
                    "purchase_orders": pa.array(counts, pa.int64()),
                    "spend_level": pa.array(cu.spend, pa.float64()),
                    "favourite_category": _strings(cu.fav.astype(np.int32), spec.categories),
                }
            )
        )
    return pa.concat_tables(frames)
