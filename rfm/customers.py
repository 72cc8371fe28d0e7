"""Customer RFM scoring: metrics, tie-safe 1..N scores, segments and actions.

The heavy lifting is DuckDB SQL in ``queries/customers.sql``.  Two paths lead
to the same per-customer totals (``rfm_customer_totals``):

* the fast path of a single as-of run (``input.duplicates: unchecked``, no
  churn or offers): ``build_customer_totals`` scans the order lines once into
  one hash aggregate per customer -- the physical floor of the work;
* the order-table path for everything else: ``build_orders`` scans the lines
  once into an as-of independent order table that several as-of dates, the
  churn model, offers, reports and the duplicate check reuse, and
  ``customer_totals_from_orders`` derives the totals from it.

Cut points are then fitted (or taken from config / a saved scoring), the
scores applied and the segment grid joined in.  Python only moves small
things: cut points, counts, the segment grid.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from rfm import progress as progress_mod
from rfm import sql
from rfm.config import Config, load_config
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.io import parse_date, write_relation, write_text
from rfm.schema import read_yaml
from rfm.segments import RuleSet, resolve_rules
from rfm.sources import OrdersSource, diagnose, open_orders
from rfm.sql import first_row

DIMENSIONS = ("recency_days", "frequency", "monetary")


@dataclass
class Scoring:
    """Cut points per dimension: fitted on one snapshot, reusable on another."""

    bins: int
    monetary: str
    window_days: int | None
    cut_points: dict[str, list[float]]
    origin: dict[str, str]  # dimension -> "fitted" | "config" | "saved"
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        text = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        return write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> Scoring:
        data = read_yaml(path)  # JSON is YAML
        try:
            scoring = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: not a saved scoring file ({exc}); write one with rfm score --save-scoring") from None
        scoring.check(str(path))
        return scoring

    def check(self, where: str = "scoring") -> None:
        """Cut points fit the bins: bins - 1 of them per dimension, not decreasing."""
        if not isinstance(self.bins, int) or not 2 <= self.bins <= 10:
            raise ConfigError(f"{where}: bins must be a whole number from 2 to 10, got {self.bins!r}")
        for dim in DIMENSIONS:
            cuts = self.cut_points.get(dim)
            if cuts is None or len(cuts) != self.bins - 1:
                raise ConfigError(f"{where}: cut_points.{dim} must list {self.bins - 1} cut points")
            if any(b < a for a, b in zip(cuts, cuts[1:])):
                raise ConfigError(f"{where}: cut_points.{dim} must not decrease: {cuts}")


@dataclass
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

    def summary(self) -> str:
        dropped = []
        if self.null_customer_id_lines:
            dropped.append(f"{self.null_customer_id_lines:,} with no customer id")
        if self.excluded_status_lines:
            dropped.append(f"{self.excluded_status_lines:,} with an excluded status")
        if self.after_as_of_lines:
            dropped.append(f"{self.after_as_of_lines:,} after as_of")
        if self.duplicate_lines and self.duplicates == "drop":
            dropped.append(f"{self.duplicate_lines:,} exact duplicates")
        text = f"{self.source}: read {self.lines_read:,} lines, scored {self.customers:,} customers"
        if self.duplicates == "unchecked":
            text += " (duplicate lines not checked)"
        text += f"; dropped {', '.join(dropped)}" if dropped else "; dropped none"
        return text + f" ({self.seconds:.1f} s)"


class Orders:
    """Order history loaded into DuckDB once; score it as of any date.

    >>> orders = Orders("orders.csv")            # doctest: +SKIP
    >>> scores = orders.score(as_of="2024-01-01")  # doctest: +SKIP
    """

    def __init__(
        self,
        source: Any,
        config: Config | str | Path | dict[str, Any] | None = None,
        *,
        table: str | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
        progress: bool = False,
    ) -> None:
        started = time.perf_counter()
        self.config = load_config(config)
        self.con = duckdb.connect()
        try:  # dates of time-zone-aware timestamps are taken in UTC, whatever the machine's zone
            self.con.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # without ICU, DuckDB works in UTC anyway
            pass
        if memory_limit:
            self.con.execute("SET memory_limit = $m", {"m": memory_limit})
        if threads:
            self.con.execute("SET threads = $t", {"t": threads})
        if temp_directory:
            self.con.execute("SET temp_directory = $d", {"d": temp_directory})
        self.progress = progress
        if progress:
            progress_mod.enable(self.con)
        self.source: OrdersSource = open_orders(self.con, source, self.config.input, table=table)
        self._order_table = False
        self._dates: tuple[date | None, date | None] | None = None
        self.load_seconds = time.perf_counter() - started
        self._latest: CustomerScores | None = None
        self._offers_result: Any = None  # the OfferScores whose rfm_offer_top is on this connection

    def _scan(self, block: str, **params: Any) -> None:
        """Run one statement that reads the order lines, with progress and input errors."""
        try:
            with progress_mod.progress(self.con, "reading orders", self.progress):
                sql.execute(self.con, block, **params)
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise diagnose(self.con, self.source, self.config.input, exc) from None
        except duckdb.Error as exc:
            raise InputError(f"{self.source.label}: cannot read the orders ({str(exc).strip().splitlines()[0]})") from None

    def build_order_table(self) -> None:
        """Scan the lines once into the as-of independent order table ``rfm_orders``.

        Idempotent.  Churn, offers, reports, backtests and every as-of date after
        the first read this table instead of the lines."""
        if self._order_table:
            return
        started = time.perf_counter()
        inp = self.config.input
        sql.execute(self.con, "line_class_type")
        sql.execute(self.con, "line_groups_unchecked" if inp.duplicates == "unchecked" else "line_groups_checked")
        self._scan("build_orders", drop_duplicates=inp.duplicates == "drop")
        first, last = sql.fetch_rows(self.con, "date_range")[0]
        self._dates = (first, last)
        self._order_table = True
        self.load_seconds += time.perf_counter() - started

    def _date_range(self) -> tuple[date | None, date | None]:
        """First and last kept order date (builds the order table if it is not built yet)."""
        if self._dates is None:
            self.build_order_table()
        assert self._dates is not None
        return self._dates

    @property
    def first_date(self) -> date | None:
        return self._date_range()[0]

    @property
    def last_date(self) -> date | None:
        return self._date_range()[1]

    def default_as_of(self) -> date:
        """The day after the latest kept order."""
        if self.last_date is None:
            raise InputError(f"{self.source.label}: no order lines to score")
        return self.last_date + timedelta(days=1)

    def resolve_as_of(self, as_of: date | str | None) -> date:
        value = as_of if as_of is not None else self.config.as_of
        if value is None:
            return self.default_as_of()
        day = parse_date(value, "as_of")
        if self.first_date is not None and day < self.first_date:
            raise InputError(
                f"{self.source.label}: as_of {day} is before the first order ({self.first_date}); "
                "choose a date on or after it"
            )
        return day

    def stats(self, as_of: date) -> dict[str, int]:
        """Lines read and dropped as of ``as_of`` (from the order table, built if needed)."""
        self.build_order_table()
        row = sql.fetch(self.con, "line_stats", as_of=as_of).row(0, named=True)
        return {k: int(v or 0) for k, v in row.items()}

    def score(
        self,
        as_of: date | str | None = None,
        scoring: Scoring | str | Path | None = None,
        *,
        churn: str | None = None,
        churn_model: Any = None,
        offers: Any = None,
    ) -> CustomerScores:
        """Score every customer as of ``as_of`` (inclusive: orders on that day count).

        ``churn`` overrides ``churn.method`` (none, auto, bgnbd, recency_ratio);
        ``churn_model`` applies a saved :class:`rfm.churn.ChurnModel` instead of fitting.
        ``offers`` (or config ``offers``) names an offer catalogue: adds next_best_offer,
        offer_fit and offer_reason.
        """
        started = time.perf_counter()
        if self._latest is not None:
            self._latest._detach()  # the SQL tables are about to be rebuilt
            self._latest = None
        cfg = self.config
        label = self.source.label
        method = churn or cfg.churn.method
        wants_churn = method != "none" or churn_model is not None or bool(cfg.churn.model)
        catalogue = offers if offers is not None else cfg.offers
        fast = not self._order_table and cfg.input.duplicates == "unchecked" and not wants_churn and catalogue is None
        collected: list[str] = []

        def warn(message: str) -> None:
            collected.append(message)
            warnings.warn(message, RfmWarning, stacklevel=3)

        if fast:
            day, stats = self._totals_from_lines(as_of)
        else:
            day, stats = self._totals_from_orders(as_of)
        sql.execute(self.con, "build_customers", as_of=day, monetary=cfg.scoring.monetary)
        refund_only, purchase_orders = (int(v) for v in sql.fetch_rows(self.con, "refund_only_customers")[0])
        stats["purchase_orders"] = purchase_orders
        saved = Scoring.load(scoring) if isinstance(scoring, (str, Path)) else scoring
        if saved is not None:
            saved.check()
        fitted = self._cut_points(day, saved)
        ruleset = resolve_rules(cfg.segments, bins=fitted.bins, actions=cfg.actions, source=cfg.source, warn=False)
        self.con.register("rfm_segment_grid", ruleset.grid)
        sql.execute(
            self.con,
            "build_result",
            as_of=day,
            bins=fitted.bins,
            recency_cuts=fitted.cut_points["recency_days"],
            frequency_cuts=fitted.cut_points["frequency"],
            monetary_cuts=fitted.cut_points["monetary"],
            segments=ruleset.grid["segment"].to_list(),  # cells in (r, f, m) order
            actions=ruleset.grid["action"].to_list(),
        )
        bins = sql.fetch(self.con, "score_bins")
        churn_used = None
        if wants_churn:
            from rfm.churn import apply_churn

            churn_used = apply_churn(self, day, cfg.churn, method=method, model=churn_model)
            collected.extend(churn_used.notes)
        offers_used = None
        if catalogue is not None:
            from rfm.offers import score_offers

            offers_used = score_offers(self, catalogue, as_of=day)
            sql.execute(self.con, "attach_offers")
            collected.extend(offers_used.warnings)
        customers, nonpositive = first_row(self.con, "SELECT count(*), count(*) FILTER (WHERE nonpositive_value) FROM rfm_result")
        run = RunStats(
            source=label,
            lines_read=stats["lines_read"],
            null_customer_id_lines=stats["null_customer_id_lines"],
            excluded_status_lines=stats["excluded_status_lines"],
            after_as_of_lines=stats["after_as_of_lines"],
            duplicate_lines=stats["duplicate_lines"],
            duplicates=cfg.input.duplicates,
            purchase_orders=stats["purchase_orders"],
            return_lines=stats["return_lines"],
            refund_only_customers=refund_only,
            customers=int(customers),
            nonpositive_customers=int(nonpositive),
        )
        for message in self._warnings(run, stats, bins, fitted, ruleset):
            warn(message)
        run.seconds = time.perf_counter() - started + self.load_seconds
        self._latest = CustomerScores(self, day, fitted, bins, run, ruleset, collected, churn=churn_used, offers=offers_used)
        return self._latest

    def _nothing_kept(self, stats: dict[str, Any]) -> InputError:
        label = self.source.label
        if stats["lines_read"] == 0:
            return InputError(f"{label}: no order lines (the input has a header but no rows); export the orders again")
        return InputError(
            f"{label}: all {stats['lines_read']:,} lines were dropped ({stats['null_customer_id_lines']:,} without "
            f"customer id, {stats['excluded_status_lines']:,} with an excluded status); check input.excluded_statuses"
        )

    def _window_start(self, day: date) -> date | None:
        days = self.config.scoring.window_days
        return day - timedelta(days=days - 1) if days else None

    def _totals_from_lines(self, as_of: date | str | None) -> tuple[date, dict[str, Any]]:
        """Fast path: one scan of the lines into per-customer totals (no order table)."""
        value = as_of if as_of is not None else self.config.as_of
        day = parse_date(value, "as_of") if value is not None else None

        def scan(cut: date | None) -> dict[str, Any]:
            self._scan(
                "build_customer_totals",
                as_of=cut,
                window_start=self._window_start(cut) if cut is not None else None,
            )
            return sql.fetch(self.con, "totals_stats").row(0, named=True)

        stats = scan(day)
        last = stats.pop("last_date")
        if last is None:
            raise self._nothing_kept(stats)
        if day is None:
            day = last + timedelta(days=1)
            if self.config.scoring.window_days:  # the window hangs off the default as_of, known only now
                stats = scan(day)
                stats.pop("last_date")
        elif stats["kept_lines"] == 0:  # every kept line is after as_of: say so as the order path does
            self.resolve_as_of(day)
        stats.pop("kept_lines")
        return day, {k: int(v or 0) for k, v in stats.items()}

    def _totals_from_orders(self, as_of: date | str | None) -> tuple[date, dict[str, Any]]:
        """Order-table path: totals as of any date from the (once built) order table."""
        self.build_order_table()
        if self.last_date is None:  # nothing kept: say why (error path only)
            raise self._nothing_kept(self.stats(date.max))
        day = self.resolve_as_of(as_of)
        stats = self.stats(day)
        sql.execute(self.con, "customer_totals_from_orders", as_of=day, window_start=self._window_start(day))
        return day, stats

    def _cut_points(self, as_of: date, saved: Scoring | None) -> Scoring:
        cfg = self.config.scoring
        if saved is not None:
            if saved.monetary != cfg.monetary or saved.window_days != cfg.window_days:
                raise ConfigError(
                    f"saved scoring was fitted with monetary={saved.monetary}, window_days={saved.window_days} but the "
                    f"config says monetary={cfg.monetary}, window_days={cfg.window_days}; make them agree"
                )
            bins = saved.bins
        else:
            bins = cfg.bins
        fitted_rows = sql.fetch(self.con, "fit_cut_points", bins=bins)
        cuts: dict[str, list[float]] = {}
        origin: dict[str, str] = {}
        for dim in DIMENSIONS:
            configured = getattr(cfg.cut_points, dim)
            if configured is not None and bins == cfg.bins:
                cuts[dim], origin[dim] = [float(c) for c in configured], "config"
            elif saved is not None:
                cuts[dim], origin[dim] = list(saved.cut_points[dim]), "saved"
            else:
                values = fitted_rows.filter(pl.col("metric") == dim).sort("k")["cut"].to_list()
                cuts[dim], origin[dim] = sorted(float(v) for v in values), "fitted"
        n = first_row(self.con, "SELECT count(*) FROM rfm_customers")[0]
        return Scoring(
            bins=bins,
            monetary=cfg.monetary,
            window_days=cfg.window_days,
            cut_points=cuts,
            origin=origin,
            fitted_on={"as_of": as_of.isoformat(), "customers": int(n), "source": self.source.label},
        )

    def _warnings(
        self, run: RunStats, stats: dict[str, int], bins: pl.DataFrame, scoring: Scoring, ruleset: RuleSet
    ) -> list[str]:
        out = []
        label = self.source.label
        if run.null_customer_id_lines:
            out.append(f"{label}: dropped {run.null_customer_id_lines:,} order lines with no customer id")
        if run.excluded_status_lines:
            out.append(
                f"{label}: dropped {run.excluded_status_lines:,} order lines whose status is in input.excluded_statuses"
            )
        if run.duplicate_lines:
            cust, order, n = sql.fetch_rows(self.con, "duplicate_example")[0]
            verb = "dropped" if run.duplicates == "drop" else "kept (set input.duplicates: drop to remove them)"
            out.append(
                f"{label}: {run.duplicate_lines:,} exact duplicate order lines, {verb}; "
                f"first: customer {cust}, order {order} ({n} extra copies)"
            )
        if run.refund_only_customers:
            out.append(
                f"{label}: {run.refund_only_customers:,} customers have only refund orders (all amounts negative) "
                "before as_of and are not scored"
            )
        if run.nonpositive_customers:
            out.append(
                f"{label}: {run.nonpositive_customers:,} customers have net value <= 0 after refunds; "
                "they are scored and flagged in column nonpositive_value"
            )
        spanning = int(sql.fetch_rows(self.con, "spanning_orders")[0][0]) if self._order_table else 0
        if spanning:
            out.append(
                f"{label}: {spanning:,} orders have lines on different dates; each date's lines count on their "
                "own date (a later return lowers value from its date on), the order counts once"
            )
        for dim in DIMENSIONS:
            produced = bins.filter(pl.col("metric") == dim)
            if produced.height < scoring.bins:
                total = int(produced["customers"].sum())
                sizes = ", ".join(
                    f"{s}: {c / total:.0%}" for s, c in zip(produced["score"].to_list(), produced["customers"].to_list())
                )
                top = produced.sort("customers", descending=True).row(0, named=True)
                if top["min_value"] == top["max_value"]:
                    value = f"{top['min_value']:g}"
                else:
                    value = f"{top['min_value']:g}..{top['max_value']:g}"
                out.append(
                    f"{dim}: only {produced.height} of {scoring.bins} scores occur ({sizes}); "
                    f"{top['customers'] / total:.0%} of customers have {dim} {value} and ties share a score; "
                    f"cut points {scoring.cut_points[dim]} ({scoring.origin[dim]}). "
                    f"Set scoring.cut_points.{dim} for business cut points"
                )
        return out


@dataclass
class CustomerScores:
    """Result of :meth:`Orders.score`: the table plus how it was made."""

    orders: Orders
    as_of: date
    scoring: Scoring
    bins: pl.DataFrame  # metric, score, customers, min_value, max_value
    stats: RunStats
    ruleset: RuleSet
    warnings: list[str]
    churn: Any = None  # rfm.churn.ChurnModel when churn was scored
    offers: Any = None  # rfm.offers.OfferScores when a catalogue was given
    _table: pl.DataFrame | None = None
    _detached: duckdb.DuckDBPyConnection | None = None

    def _detach(self) -> None:
        """Called when a later score() on the same Orders replaces the SQL tables:
        keep this result's rows, and answer from a private connection from now on."""
        table = self.table  # offers keep their own table until score_offers replaces it
        con = duckdb.connect()
        con.register("rfm_result", table)
        con.register("rfm_segment_grid", self.ruleset.grid)
        self._detached = con

    @property
    def is_current(self) -> bool:
        """False once a later score() on the same Orders has replaced the SQL tables."""
        return self._detached is None

    def _con(self) -> duckdb.DuckDBPyConnection:
        return self._detached if self._detached is not None else self.orders.con

    @property
    def table(self) -> pl.DataFrame:
        """One row per customer (see README, "Output columns")."""
        if self._table is None:
            # rfm_result was built in customer order and DuckDB keeps insertion order.
            self._table = self._con().sql("SELECT * FROM rfm_result").pl()
        return self._table

    def segment_summary(self) -> pl.DataFrame:
        return sql.fetch(self._con(), "segment_summary").drop("segment_order")

    def write(self, path: str | Path) -> Path:
        """Write the customer table to .parquet or .csv, atomically."""
        return write_relation(self._con().sql("SELECT * FROM rfm_result"), path)  # already in customer order


def score_customers(
    orders: Any,
    config: Config | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    scoring: Scoring | str | Path | None = None,
    table: str | None = None,
    churn: str | None = None,
    offers: Any = None,
) -> CustomerScores:
    """Load ``orders`` and score it: the full result (table, scoring, stats, warnings)."""
    return Orders(orders, config, table=table).score(as_of=as_of, scoring=scoring, churn=churn, offers=offers)


def score(
    orders: Any,
    config: Config | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    scoring: Scoring | str | Path | None = None,
    table: str | None = None,
    churn: str | None = None,
    offers: Any = None,
) -> pl.DataFrame:
    """One row per customer: metrics, 1..N scores, segment, action; churn/CLV and next best offer when asked."""
    return score_customers(orders, config, as_of=as_of, scoring=scoring, table=table, churn=churn, offers=offers).table
