"""The jobs a user runs: customers scored, then the steps the config (or the call) asks for.

This is where the capabilities meet: :class:`Orders` is the order history
(:class:`rfm.customers.OrderHistory`) whose :meth:`Orders.score` runs the
churn step (``rfm.churn``) and the offer step (``rfm.offers``) after the
customer scores when the config or the call asks for them; :func:`run_backtest`
adds the offer hit rate to the churn backtest.  ``rfm score``, ``rfm.score``
and the reports all go through here, so they agree.
"""

from __future__ import annotations

import dataclasses
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rfm.churn import BACKTEST_METHODS, Backtest, ChurnModel, add_churn
from rfm.churn import run_backtest as churn_backtest
from rfm.customers import Config, CustomerScores, OrderHistory, Scoring
from rfm.engine import is_spark_frame
from rfm.errors import RfmWarning
from rfm.offers import OfferCatalogue, add_offers, load_catalogue, offer_hit_rate, score_offers

#: ``offers=NO_OFFERS``: leave the config's offer catalogue out of this scoring.
NO_OFFERS = False


class Orders(OrderHistory):
    """Order history loaded once; :meth:`score` runs the steps the config asks for.

    >>> orders = Orders("orders.parquet", memory_limit="4GB")             # doctest: +SKIP
    >>> orders.score(as_of="2024-06-30", churn="auto").write("scores.parquet")  # doctest: +SKIP
    """

    def score(
        self,
        as_of: date | str | None = None,
        scoring: Scoring | str | Path | None = None,
        *,
        churn: str | None = None,
        churn_model: ChurnModel | str | Path | None = None,
        offers: OfferCatalogue | str | Path | dict[str, Any] | bool | None = None,
        top_k: int | None = None,
    ) -> CustomerScores:
        """Score every customer as of ``as_of`` (inclusive: orders on that day count), then the steps.

        ``churn`` overrides ``churn.method`` (none, auto, best, bgnbd, pnbd, recency_ratio, propensity);
        ``churn_model`` applies a saved :class:`rfm.churn.ChurnModel` instead of
        fitting.  ``offers`` (or config ``offers``) names an offer catalogue:
        adds next_best_offer, offer_fit and offer_reason; ``offers=False``
        leaves the config's catalogue out.
        """
        if offers is True:
            raise TypeError("offers: give an offer catalogue, None for the config's, or False for none")
        cfg = self.config
        method = churn or cfg.churn.method
        wants_churn = method != "none" or churn_model is not None or bool(cfg.churn.model)
        catalogue = cfg.offers if offers is None else (None if offers is NO_OFFERS else offers)
        if wants_churn or catalogue is not None:
            self.build_order_table()  # the steps read it: one scan of the lines serves them all
        scores = self.score_rfm(as_of, scoring, warn=False)
        scoring_notes = scores.warnings
        if wants_churn:
            scores = add_churn(self, scores, method=method, model=churn_model)
        if catalogue is not None:
            scores = add_offers(self, scores, catalogue, top_k=top_k)
        # The scoring's own warnings come last, once every step has run (a step that
        # fails ends the run with its error alone): the order rfm has always printed.
        for message in scoring_notes:
            warnings.warn(message, RfmWarning, stacklevel=2)
        step_notes = scores.warnings[len(scoring_notes):]
        return dataclasses.replace(scores, warnings=(*step_notes, *scoring_notes))


def score_customers(
    orders: Any,
    config: Config | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    scoring: Scoring | str | Path | None = None,
    table: str | None = None,
    churn: str | None = None,
    offers: Any = None,
    engine: str | None = None,
    spark_remote: str | None = None,
) -> CustomerScores:
    """Load ``orders`` and score it: the full result (table, scoring, stats, warnings).

    ``engine``: ``duckdb`` (default) or ``spark``; a Spark DataFrame is scored on Spark.  The
    result owns its tables in the engine: to give a Spark session its settings back when you are
    done, use ``with rfm.Orders(...) as orders:`` instead."""
    return Orders(orders, config, table=table, engine=engine, spark_remote=spark_remote).score(
        as_of=as_of, scoring=scoring, churn=churn, offers=offers
    )


def score(
    orders: Any,
    config: Config | str | Path | dict[str, Any] | None = None,
    *,
    as_of: date | str | None = None,
    scoring: Scoring | str | Path | None = None,
    table: str | None = None,
    churn: str | None = None,
    offers: Any = None,
    engine: str | None = None,
    spark_remote: str | None = None,
) -> Any:
    """One row per customer: metrics, 1..N scores, segment, action; churn/CLV and next best offer when asked.

    A polars DataFrame; given a Spark DataFrame, a Spark DataFrame (scored on Spark, where the data
    is; the session's settings are restored before it is returned)."""
    with Orders(orders, config, table=table, engine=engine, spark_remote=spark_remote) as history:
        result = history.score(as_of=as_of, scoring=scoring, churn=churn, offers=offers)
        return result.to_spark() if is_spark_frame(orders) else result.table


def run_backtest(
    orders: Any,
    config: Config | str | Path | dict[str, Any] | None = None,
    *,
    calibration_end: date | str,
    horizon_days: int | None = None,
    table: str | None = None,
    offers: OfferCatalogue | str | Path | dict[str, Any] | None = None,
    engine: str | None = None,
    spark_remote: str | None = None,
    query: str | None = None,
    methods: tuple[str, ...] | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | None = None,
) -> Backtest:
    """The churn backtest (``rfm.churn.run_backtest``, of ``methods``, default every one) of ``orders`` (a
    source, or orders already loaded, which it reuses); with an offer catalogue, also the top offer's hit
    rate over the same holdout."""
    if isinstance(orders, OrderHistory):
        if config is not None or table is not None or engine is not None:
            raise TypeError("run_backtest: the orders are already loaded with their config; drop config=, table=, engine=")
        history = orders
        return _backtest(history, calibration_end, horizon_days, offers, methods)
    with Orders(orders, config, table=table, query=query, engine=engine, spark_remote=spark_remote,
                memory_limit=memory_limit, threads=threads, temp_directory=temp_directory) as history:
        return _backtest(history, calibration_end, horizon_days, offers, methods)


def _backtest(
    history: OrderHistory, calibration_end: date | str, horizon_days: int | None, offers: Any,
    methods: tuple[str, ...] | None = None,
) -> Backtest:
    result = churn_backtest(history, calibration_end=calibration_end, horizon_days=horizon_days,
                            methods=BACKTEST_METHODS if methods is None else methods)
    if offers is None:
        return result
    catalogue = load_catalogue(offers)
    scores = history.score_rfm(as_of=result.calibration_end)
    churn = history.config.churn
    if churn.method != "none" or churn.model:  # offers read churn risk as the backtest scored it
        scores = add_churn(history, scores, config=churn.model_copy(update={"horizon_days": result.horizon_days}))
    best = score_offers(history, scores, catalogue).best
    hit_rate = offer_hit_rate(
        history, best, catalogue, start=result.calibration_end + timedelta(days=1), end=result.holdout_end
    )
    return dataclasses.replace(result, offers=hit_rate)
