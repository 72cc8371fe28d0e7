"""The arguments of the order generator, checked once: :class:`OrderSpec`.

``generate_orders``, ``generate_frame`` and ``generate_customers_frame`` take
the same keyword arguments; each passes them to :func:`order_spec`, the one
place that validates them (``InputError`` with the same message whichever
function was called) and derives the chunk size.  What the arguments mean is
documented with the model in :mod:`rfm.synthetic._orders`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from rfm.errors import InputError
from rfm.synthetic._common import date_arg, int_arg, stream
from rfm.synthetic._orders import RETURN_RATE

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "Books",
    "Music",
    "Electronics",
    "Home",
    "Garden",
    "Toys",
    "Sports",
    "Beauty",
)

MAX_CHUNK_LINES = 4_000_000  # a chunk is expected to hold at most this many lines

_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class OrderSpec:
    """Validated generator arguments; ``chunk`` is the effective customers per chunk."""

    customers: int
    orders: int
    seed: int
    lines_per_order: float
    start: date
    end: date
    categories: tuple[str, ...]
    chunk: int  # effective customers per chunk

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def epoch_day(self) -> int:
        return (self.start - _EPOCH).days

    @property
    def n_chunks(self) -> int:
        return -(-self.customers // self.chunk)

    def chunk_bounds(self, c: int) -> tuple[int, int]:
        lo = c * self.chunk
        return lo, min(self.customers, lo + self.chunk)

    def stream(self, purpose: int, chunk: int) -> np.random.Generator:
        """The random stream of one purpose (allocation, customers, lines) in one chunk."""
        return stream(self.seed, purpose, chunk)

    def as_json(self) -> str:
        return json.dumps(
            {
                "customers": self.customers,
                "orders": self.orders,
                "seed": self.seed,
                "lines_per_order": self.lines_per_order,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "categories": list(self.categories),
                "chunk_customers": self.chunk,
            },
            sort_keys=True,
        )


def _categories_arg(value: int | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_CATEGORIES
    if isinstance(value, str):
        raise InputError(
            f"categories must be a count or a list of names, got the string {value!r}; "
            f"pass [{value!r}] for a single category"
        )
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        n = int_arg("categories", value, 1)
        width = max(2, len(str(n)))
        return tuple(f"category_{i:0{width}d}" for i in range(1, n + 1))
    names = tuple(value)  # type: ignore[arg-type]
    if not names:
        raise InputError("categories must name at least one category, got []")
    bad = [x for x in names if not isinstance(x, str) or not x]
    if bad:
        raise InputError(f"categories must be non-empty strings, got {bad[0]!r}")
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise InputError(f"categories must be distinct, {dup[0]!r} is repeated")
    return names


def order_spec(
    customers: int,
    orders: int,
    seed: int,
    lines_per_order: float,
    start: date,
    end: date,
    categories: int | Sequence[str] | None,
    chunk_customers: int,
) -> OrderSpec:
    """Check the generator arguments (in the order of the public signatures) once."""
    customers = int_arg("customers", customers, 1)
    orders = int_arg("orders", orders, 1)
    if orders < customers:
        raise InputError(
            f"orders ({orders}) must be at least customers ({customers}): every "
            f"customer has at least one purchase order; raise orders to >= "
            f"{customers} or lower customers to <= {orders}"
        )
    seed = int_arg("seed", seed, 0)
    try:
        lpo = float(lines_per_order)
    except (TypeError, ValueError):
        raise InputError(
            f"lines_per_order must be a number >= 1.0, got {lines_per_order!r}"
        ) from None
    if not math.isfinite(lpo) or lpo < 1.0:
        raise InputError(f"lines_per_order must be a number >= 1.0, got {lines_per_order!r}")
    start_d = date_arg("start", start)
    end_d = date_arg("end", end)
    if end_d < start_d:
        raise InputError(f"end ({end_d}) must not be before start ({start_d})")
    cats = _categories_arg(categories)
    chunk = int_arg("chunk_customers", chunk_customers, 1)
    # Bound the expected lines of a chunk (memory), whatever orders/customers is.
    expected_lines_per_customer = orders / customers * lpo * (1.0 + RETURN_RATE)
    cap = max(1, int(MAX_CHUNK_LINES / expected_lines_per_customer))
    return OrderSpec(customers, orders, seed, lpo, start_d, end_d, cats, min(chunk, cap))
