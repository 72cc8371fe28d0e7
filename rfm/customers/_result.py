"""The result of scoring customers: an immutable value that owns its tables.

A :class:`CustomerScores` holds the customer table in the engine (one row per
customer, in customer order) with how it was made: the as-of date, the cut
points, the bins produced, the rule set, what was read and dropped, and the
warnings.  Steps (churn, offers) do not change it: each returns a new result
whose table has the step's columns added (:meth:`CustomerScores.extend`), so
the table has one fixed schema per set of steps:

* scoring: the metrics, scores, segment and action (docs/metrics.md);
* + churn: ``p_alive, churn_risk, expected_orders, expected_next_order_date,
  expected_aov, clv, churn_method``;
* + offers: ``next_best_offer, offer_fit, offer_reason``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from rfm.customers._config import Config
from rfm.customers._scoring import Scoring
from rfm.customers._segments import RuleSet
from rfm.engine import Table


@dataclass(frozen=True)
class RunStats:
    """What was read, dropped and scored; printed as the run's summary."""

    source: str
    lines_read: int
    null_customer_id_lines: int
    excluded_status_lines: int
    after_as_of_lines: int
    duplicate_lines: int
    duplicates: str
    purchase_orders: int  # orders counted in frequency, summed over customers
    return_lines: int  # kept lines on or before as_of with a negative amount
    refund_only_customers: int
    customers: int
    nonpositive_customers: int
    seconds: float = 0.0
    bad_date_lines: int = 0  # dated before 1900 or after 2099: placeholders (9999-12-31), not orders
    reading: str = ""  # how text dates were read when nothing said (e.g. 'dates read as %m/%d/%Y ...')

    def summary(self) -> str:
        dropped = []
        if self.null_customer_id_lines:
            dropped.append(f"{self.null_customer_id_lines:,} with no customer id")
        if self.excluded_status_lines:
            dropped.append(f"{self.excluded_status_lines:,} with an excluded status")
        if self.bad_date_lines:
            dropped.append(f"{self.bad_date_lines:,} dated before 1900 or after 2099")
        if self.after_as_of_lines:
            dropped.append(f"{self.after_as_of_lines:,} after as_of")
        if self.duplicate_lines and self.duplicates == "drop":
            dropped.append(f"{self.duplicate_lines:,} exact duplicates")
        reading = f" ({self.reading})" if self.reading else ""
        text = f"{self.source}: read {self.lines_read:,} lines{reading}, scored {self.customers:,} customers"
        if self.duplicates == "unchecked":
            text += " (duplicate lines not checked)"
        text += f"; dropped {', '.join(dropped)}" if dropped else "; dropped none"
        return text + f" ({self.seconds:.1f} s)"


@dataclass(frozen=True, kw_only=True)
class CustomerScores:
    """Customers scored as of a date: the table (in the engine) plus how it was made."""

    as_of: date
    scoring: Scoring
    bins: pl.DataFrame  # metric, score, customers, min_value, max_value
    stats: RunStats
    ruleset: RuleSet
    config: Config
    warnings: tuple[str, ...] = ()
    churn: Any = None  # rfm.churn.ChurnModel when a churn step ran
    offers: Any = None  # rfm.offers.OfferScores when an offer step ran
    sql_table: Table  # the customer table in the engine
    grid_table: Table  # the resolved segment grid (r_score, f_score, m_score, segment, action, segment_order)
    churn_table: Table | None = None  # the churn step's columns per customer

    @cached_property
    def table(self) -> pl.DataFrame:
        """One row per customer (see docs/metrics.md), in customer order."""
        return self.sql_table.pl()

    def segment_summary(self) -> pl.DataFrame:
        """Per segment, in rule order: customers, shares, revenue, typical metrics, action."""
        engine = self.sql_table.engine
        return engine.fetch("customers.segment_summary", {"scores": self.sql_table, "grid": self.grid_table}).drop(
            "segment_order"
        )

    def write(self, path: str | Path, *, if_exists: str = "fail") -> Path:
        """Write the customer table to .parquet or .csv, atomically (streamed from the engine); or to a
        PostgreSQL table (``postgresql://.../db?table=schema.name``), swapped in atomically;
        ``if_exists``: fail, replace or append-snapshot."""
        return self.sql_table.write(path, if_exists=if_exists)

    def write_table(self, table: str) -> None:
        """Write the customer table to a catalog table, replacing it (Spark engine only: ``--out-table``)."""
        self.sql_table.engine.write_table(self.sql_table, table)

    def to_spark(self) -> Any:
        """The customer table as a Spark DataFrame (Spark engine only; lazy, in customer order)."""
        return self.sql_table.engine.dataframe(self.sql_table)

    def churn_columns(self) -> Table:
        """The churn columns per customer (``customers.no_churn``'s shape): the churn step's, or none (NULL)."""
        if self.churn_table is not None:
            return self.churn_table
        return self.sql_table.engine.create("customers.no_churn", {"scores": self.sql_table})

    def extend(self, table: Table, *, notes: tuple[str, ...] | list[str] = (), seconds: float = 0.0, **attached: Any) -> CustomerScores:
        """A new result: this one with a step's columns added (``table``), its notes and time, and what
        the step attaches (``churn=``, ``churn_table=``, ``offers=``).  This result is left as it is."""
        stats = dataclasses.replace(self.stats, seconds=self.stats.seconds + seconds)
        return dataclasses.replace(
            self, sql_table=table, stats=stats, warnings=(*self.warnings, *notes), **attached
        )
