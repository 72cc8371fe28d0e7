"""Deterministic synthetic data with planted effects: order lines and leads.

Order history (demo data, tests, benchmarks):

* :func:`generate_orders` writes order lines to ``.parquet``, ``.csv`` or
  ``.csv.gz``; :class:`GenerateSummary` says what was written;
* :func:`generate_frame` returns the same rows as a polars DataFrame;
* :func:`generate_customers_frame` returns what was planted per customer;
* :data:`DEFAULT_CATEGORIES` are the categories used when none are given.

The three order functions take the same keyword arguments and give the same
data for the same arguments.  The model - what is planted, and its
constants (``CANCEL_RATE``, ``RETURN_RATE``, ...) - is documented in
:mod:`rfm.synthetic._orders`; tests that check a planted constant import it
from there.

Leads (lead scoring demos and calibration):

* :func:`generate_leads` writes ``leads``, ``events`` and ``outcomes`` files;
  :class:`GeneratedLeads` says what was written;
* :func:`generate_lead_frames` returns the three frames;
* :data:`PLANTED` are the planted conversion effects (multiplier, share of
  leads, description), documented in :mod:`rfm.synthetic._leads`.

Everything else in this package is private.
"""

from rfm.synthetic._leads import PLANTED, GeneratedLeads, generate_lead_frames, generate_leads
from rfm.synthetic._order_api import (
    GenerateSummary,
    generate_customers_frame,
    generate_frame,
    generate_orders,
)
from rfm.synthetic._order_spec import DEFAULT_CATEGORIES

__all__ = [
    "DEFAULT_CATEGORIES",
    "PLANTED",
    "GenerateSummary",
    "GeneratedLeads",
    "generate_customers_frame",
    "generate_frame",
    "generate_lead_frames",
    "generate_leads",
    "generate_orders",
]
