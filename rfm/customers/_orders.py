"""Order history loaded once; customers scored as of any date.

:class:`OrderHistory` opens the input (``rfm.inputs``) in its own engine and
scores customers with the SQL of ``queries/customers``.  There is one way to
per-customer totals as of a date, with two routes inside it:

* one scan of the lines into one hash aggregate per customer
  (``build_customer_totals``) when nothing else will need the orders -- the
  physical floor of the work;
* otherwise the order table (``build_orders``, one row per order and date,
  as-of independent), built once and reused by every as-of date, the churn
  and offer steps, reports, backtests and the duplicate check
  (``customer_totals_from_orders``).

Cut points are then fitted (or taken from config or a saved scoring), the
scores applied and the segment grid read.  Python only moves small things:
cut points, counts, the segment grid.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from rfm.customers._config import Config, load_config
from rfm.customers._result import CustomerScores, RunStats
from rfm.customers._scoring import DIMENSIONS, Scoring, cut_points, resolve_scoring
from rfm.customers._segments import resolve_rules
from rfm.engine import EngineSettings, Table, is_spark_frame, open_engine
from rfm.errors import ConfigError, EngineError, InputError, RfmWarning
from rfm.inputs import OrdersSource, diagnose, open_orders, parse_date


class OrderHistory:
    """Order history loaded into the engine once; score it as of any date.

    >>> orders = OrderHistory("orders.csv")             # doctest: +SKIP
    >>> scores = orders.score(as_of="2024-01-01")        # doctest: +SKIP
    """

    def __init__(
        self,
        source: Any,
        config: Config | str | Path | dict[str, Any] | None = None,
        *,
        table: str | None = None,
        query: str | None = None,
        engine: str | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: str | None = None,
        progress: bool = False,
        spark_remote: str | None = None,
    ) -> None:
        started = time.perf_counter()
        self.config = load_config(config)
        self.engine = open_engine(
            self.engine_settings(
                self.config, source, engine, spark_remote,
                memory_limit=memory_limit, threads=threads, temp_directory=temp_directory, progress=progress,
            )
        )
        try:
            self.source: OrdersSource = open_orders(self.engine, source, self.config.input, table=table, query=query)
        except BaseException:
            self.engine.close()  # a user's Spark session gets its settings back
            raise
        self._orders: Table | None = None
        self._dates: tuple[date | None, date | None] | None = None
        self._spanning: int | None = None  # orders with lines on several dates (see _spanning_orders)
        self.load_seconds = time.perf_counter() - started

    @staticmethod
    def engine_settings(
        config: Config, source: Any, name: str | None, remote: str | None, **duckdb: Any
    ) -> EngineSettings:
        """The engine to open: ``name`` (``--engine``), else config ``engine.name``; a Spark DataFrame
        input or a Spark Connect URL means Spark."""
        session = source.sparkSession if is_spark_frame(source) else None
        remote = remote or config.engine.remote
        chosen = name or ("spark" if session is not None or remote else config.engine.name)
        if chosen != "spark" and (session is not None or remote):
            what = "a Spark DataFrame" if session is not None else "a Spark Connect URL (--spark-remote)"
            raise InputError(f"{what} needs the Spark engine; drop --engine duckdb (or set engine.name: spark)")
        if chosen == "spark":
            given = [k for k in ("memory_limit", "threads", "temp_directory") if duckdb.get(k)]
            if given:
                raise ConfigError(
                    f"--{given[0].replace('_', '-')} sets DuckDB; on Spark set the session instead, "
                    "e.g. engine.conf: {spark.driver.memory: 16g}"
                )
        return EngineSettings(
            name=chosen,  # type: ignore[arg-type]
            remote=remote,
            conf={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in config.engine.conf.items()},
            session=session,
            **duckdb,
        )

    def close(self) -> None:
        """Free the engine (its tables, results that own them included) before the object is collected."""
        self.engine.close()

    def __enter__(self) -> OrderHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the order table -----------------------------------------------------------------

    def _scan(self, block: str, tables: dict[str, Table], **params: Any) -> Table:
        """Run one statement that reads the order lines, with progress and input errors."""
        with self.reading_lines():
            return self.engine.create(block, tables, progress="reading orders", **params)

    @contextmanager
    def reading_lines(self) -> Iterator[None]:
        """Statements inside read the order lines: a value they cannot read becomes one message
        naming the file, column, value and fix (:func:`rfm.inputs.diagnose`)."""
        try:
            yield
        except EngineError as exc:
            raise diagnose(self.engine, self.source, exc) from None

    def build_order_table(self) -> None:
        """Scan the lines once into the as-of independent order table.

        Idempotent.  Churn, offers, reports, backtests and every as-of date after
        the first read this table instead of the lines."""
        if self._orders is not None:
            return
        started = time.perf_counter()
        engine = self.engine
        engine.run("customers.line_class_type")
        unchecked = self.config.input.duplicates == "unchecked"
        groups = engine.view(
            "customers.line_groups_unchecked" if unchecked else "customers.line_groups_checked",
            {"lines": self.source.lines},
        )
        self._orders = self._scan(
            "customers.build_orders", {"groups": groups}, drop_duplicates=self.config.input.duplicates == "drop"
        )
        self._dates = engine.rows("customers.date_range", {"orders": self._orders})[0]
        self.load_seconds += time.perf_counter() - started

    @property
    def order_table(self) -> Table:
        """The order table (built on first use)."""
        self.build_order_table()
        assert self._orders is not None
        return self._orders

    @property
    def lines(self) -> Table:
        """The normalised order lines (a view over the input)."""
        return self.source.lines

    def _spanning_orders(self) -> int:
        """Orders whose kept lines carry several dates (0 without an order table); as-of independent,
        so counted once per history, whatever the number of scorings (a run scores up to four times)."""
        if self._orders is None:
            return 0
        if self._spanning is None:
            self._spanning = int(self.engine.rows("customers.spanning_orders", {"orders": self._orders})[0][0])
        return self._spanning

    def _date_range(self) -> tuple[date | None, date | None]:
        """First and last kept order date (builds the order table if it is not built yet)."""
        self.build_order_table()
        assert self._dates is not None
        return self._dates

    @property
    def first_date(self) -> date | None:
        """Date of the first kept order (builds the order table if it is not built yet)."""
        return self._date_range()[0]

    @property
    def last_date(self) -> date | None:
        """Date of the last kept order (builds the order table if it is not built yet)."""
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
        row = self.engine.fetch("customers.line_stats", {"orders": self.order_table}, as_of=as_of).row(0, named=True)
        return {k: int(v or 0) for k, v in row.items()}

    # --- scoring ---------------------------------------------------------------------------

    def score(self, as_of: date | str | None = None, scoring: Scoring | str | Path | None = None) -> CustomerScores:
        """Score every customer as of ``as_of`` (inclusive: orders on that day count)."""
        return self.score_rfm(as_of, scoring)

    def score_rfm(
        self, as_of: date | str | None = None, scoring: Scoring | str | Path | None = None, *, warn: bool = True
    ) -> CustomerScores:
        """Metrics, scores, segment and action of every customer as of ``as_of``; no further steps.

        The warnings (rows dropped, bins that collapsed, ...) are in the result's
        ``warnings``; ``warn=False`` leaves emitting them as :class:`RfmWarning` to
        the caller (the pipeline emits them after its steps)."""
        started = time.perf_counter()
        cfg = self.config
        engine = self.engine
        if self._orders is None and cfg.input.duplicates == "unchecked":
            day, stats, totals = self._totals_from_lines(as_of)
        else:
            day, stats, totals = self._totals_from_orders(as_of)
        customers = engine.create("customers.build_customers", {"totals": totals}, as_of=day, monetary=cfg.scoring.monetary)
        refund_only, purchase_orders = (int(v) for v in engine.rows("customers.refund_only_customers", {"totals": totals})[0])
        del totals  # dropped: the customers table holds what is needed from here on
        fitted = cut_points(customers, cfg.scoring, resolve_scoring(scoring), as_of=day, source=self.source.label)
        ruleset = resolve_rules(cfg.segments, bins=fitted.bins, actions=cfg.actions, source=cfg.source, warn=False)
        grid = engine.register(ruleset.grid, label="segment_grid")
        table = engine.create(
            "customers.build_result",
            {"customers": customers},
            as_of=day,
            bins=fitted.bins,
            recency_cuts=fitted.cut_points["recency_days"],
            frequency_cuts=fitted.cut_points["frequency"],
            monetary_cuts=fitted.cut_points["monetary"],
            segments=ruleset.grid["segment"].to_list(),  # cells in (r, f, m, condition mask) order
            actions=ruleset.grid["action"].to_list(),
            **ruleset.sql_conditions(),
        )
        del customers
        bins = engine.fetch("customers.score_bins", {"scores": table})
        n_customers, nonpositive = engine.rows("customers.result_counts", {"scores": table})[0]
        run = RunStats(
            source=self.source.label,
            lines_read=stats["lines_read"],
            null_customer_id_lines=stats["null_customer_id_lines"],
            excluded_status_lines=stats["excluded_status_lines"],
            bad_date_lines=stats["bad_date_lines"],
            after_as_of_lines=stats["after_as_of_lines"],
            duplicate_lines=stats["duplicate_lines"],
            duplicates=cfg.input.duplicates,
            purchase_orders=purchase_orders,
            return_lines=stats["return_lines"],
            refund_only_customers=refund_only,
            customers=int(n_customers),
            nonpositive_customers=int(nonpositive),
            seconds=time.perf_counter() - started + self.load_seconds,
            reading=self.source.reading,
        )
        notes = self._warnings(run, bins, fitted)
        if warn:
            for message in notes:
                warnings.warn(message, RfmWarning, stacklevel=3)
        return CustomerScores(
            as_of=day, scoring=fitted, bins=bins, stats=run, ruleset=ruleset, config=cfg, warnings=tuple(notes),
            sql_table=table, grid_table=grid,
        )

    def _nothing_kept(self, stats: dict[str, Any]) -> InputError:
        label = self.source.label
        if stats["lines_read"] == 0:
            return InputError(f"{label}: no order lines (the input has a header but no rows); export the orders again")
        return InputError(
            f"{label}: all {stats['lines_read']:,} lines were dropped ({stats['null_customer_id_lines']:,} without "
            f"customer id, {stats['excluded_status_lines']:,} with an excluded status"
            + (f", {stats['bad_date_lines']:,} dated before 1900 or after 2099" if stats.get("bad_date_lines") else "")
            + "); check input.excluded_statuses"
        )

    def _window_start(self, day: date) -> date | None:
        days = self.config.scoring.window_days
        return day - timedelta(days=days - 1) if days else None

    def _totals_from_lines(self, as_of: date | str | None) -> tuple[date, dict[str, int], Table]:
        """One scan of the lines into per-customer totals (no order table)."""
        value = as_of if as_of is not None else self.config.as_of
        day = parse_date(value, "as_of") if value is not None else None

        def scan(cut: date | None) -> tuple[dict[str, Any], Table]:
            totals = self._scan(
                "customers.build_customer_totals",
                {"lines": self.source.lines},
                as_of=cut,
                window_start=self._window_start(cut) if cut is not None else None,
            )
            return self.engine.fetch("customers.totals_stats", {"totals": totals}).row(0, named=True), totals

        stats, totals = scan(day)
        last = stats.pop("last_date")
        if last is None:
            raise self._nothing_kept(stats)
        if day is None:
            day = last + timedelta(days=1)
            if self.config.scoring.window_days:  # the window hangs off the default as_of, known only now
                stats, totals = scan(day)
                stats.pop("last_date")
        elif stats["kept_lines"] == 0:  # every kept line is after as_of: say so as the order route does
            self.resolve_as_of(day)
        stats.pop("kept_lines")
        return day, {k: int(v or 0) for k, v in stats.items()}, totals

    def _totals_from_orders(self, as_of: date | str | None) -> tuple[date, dict[str, int], Table]:
        """Totals as of any date from the (once built) order table."""
        self.build_order_table()
        if self.last_date is None:  # nothing kept: say why (error path only)
            raise self._nothing_kept(self.stats(date.max))
        day = self.resolve_as_of(as_of)
        stats = self.stats(day)
        # counting rows is exact unless an order's lines carry several dates (counted once per history)
        block = "customers.customer_totals_from_spanning_orders" if self._spanning_orders() else (
            "customers.customer_totals_from_orders"
        )
        totals = self.engine.create(block, {"orders": self.order_table}, as_of=day, window_start=self._window_start(day))
        return day, stats, totals

    def _warnings(self, run: RunStats, bins: pl.DataFrame, scoring: Scoring) -> list[str]:
        out = []
        label = self.source.label
        if run.null_customer_id_lines:
            out.append(f"{label}: dropped {run.null_customer_id_lines:,} order lines with no customer id")
        if run.bad_date_lines:
            out.append(
                f"{label}: dropped {run.bad_date_lines:,} order lines dated before 1900 or after 2099 "
                "(placeholders such as 9999-12-31, not orders)"
            )
        if run.excluded_status_lines:
            out.append(
                f"{label}: dropped {run.excluded_status_lines:,} order lines whose status is in input.excluded_statuses"
            )
        if run.duplicate_lines:
            cust, order, n = self.engine.rows("customers.duplicate_example", {"orders": self.order_table})[0]
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
        spanning = self._spanning_orders()
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

