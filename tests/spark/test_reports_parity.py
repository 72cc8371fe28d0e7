"""Report aggregates and the churn backtest: the same numbers on DuckDB and on Spark.

``rfm report churn`` runs once per engine on the CDNOW sample (churn on, the
backtest and the migration matrix included).  The run is watched, not changed:
the report's :class:`ReportData`, its migration frame and its backtest (asked to
keep the per-customer predictions) are recorded.  Every aggregate the reports
draw from is then computed from the recorded ReportData on its own engine and
compared table by table (tests/spark/parity.py: exact for integers, dates and
strings, 1e-9 relative for floats), and the two HTML pages are compared: the
same text, tables and headline figures, the same chart data.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import rfm.pipeline
from rfm.churn import Backtest
from rfm.errors import RfmWarning
from rfm.reporting._build import run_report
from rfm.reporting._data import ReportData
from tests.conftest import CDNOW, CDNOW_CONFIG
from tests.spark.parity import REL, assert_same

ENGINES = ("duckdb", "spark")
AS_OF = date(1998, 4, 2)
ACTIVE_DAYS = (365, 30)  # the report's default, and one that splits the base
HISTOGRAM_BINS = (30, 7)
METRICS = ("recency_days", "frequency", "monetary")


@dataclass
class Run:
    """One engine's churn report: its page, what it computed, and every aggregate by label."""

    html: str
    data: ReportData
    backtest: Backtest
    frames: dict[str, pl.DataFrame]


def _report(engine: str, out: Path) -> Run:
    seen: dict[str, Any] = {}
    capture, migration, backtest = ReportData.capture, ReportData.migration, rfm.pipeline.churn_backtest

    def record_capture(orders, scores, **kw):
        seen["data"] = capture(orders, scores, **kw)
        return seen["data"]

    def record_migration(self, before, *args, **kw):
        seen["migration"] = migration(self, before, *args, **kw)
        return seen["migration"]

    def record_backtest(*args, **kw):
        seen["backtest"] = backtest(*args, keep_predictions=True, **kw)
        return seen["backtest"]

    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore", RfmWarning)  # the scoring's notes; asserted by the scoring tests
        mp.setattr(ReportData, "capture", staticmethod(record_capture))
        mp.setattr(ReportData, "migration", record_migration)
        mp.setattr(rfm.pipeline, "churn_backtest", record_backtest)
        mp.setattr(rfm.pipeline.Orders, "close", lambda self: None)  # keep the engine open to read the aggregates
        page = run_report("churn", CDNOW, config=CDNOW_CONFIG, out=out, as_of=AS_OF, churn="auto", engine=engine)[0]
    data: ReportData = seen["data"]
    assert data.engine.name == engine
    return Run(page.read_text(), data, seen["backtest"], _aggregates(data, seen["migration"]))


def _aggregates(data: ReportData, migration: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every frame the reports draw from (tables in the run's engine), by label."""
    frames = {
        "snapshot": data.customers.pl().sort("customer_id"),
        "headline": pl.DataFrame([{"active_days": d, **data.headline(d)} for d in ACTIVE_DAYS]),
        "segments": data.segments,
        "rf_grid": data.rf_grid,
        "rf_segments": data.rf_segments,
        "metric_ranges": data.engine.fetch("reports.metric_ranges", {"customers": data.customers}),
        "actions": data.action_table,
        "migration": migration,
    }
    for metric in METRICS:
        frames[f"histogram[{metric}]"] = pl.concat(
            [
                h.frame.with_columns(
                    bins=pl.lit(bins), clipped_low=pl.lit(h.clipped_low), clipped_high=pl.lit(h.clipped_high)
                )
                for bins in HISTOGRAM_BINS
                for h in [data.histogram(metric, bins)]
            ]
        )
    frames["campaign_lists"] = _lists(data)  # no catalogue: the offer columns of reports.no_offers
    # A made-up next best offer for three customers in four (the same on both engines): reports.offers
    # and reports.action_offers on rows with offers, and the lists' join keeping customers without one.
    ids = frames["snapshot"].select("customer_id", n=pl.col("customer_id").cast(pl.Int64))
    best = ids.filter(pl.col("n") % 4 != 0).select(
        "customer_id",
        next_best_offer=pl.format("offer-{}", pl.col("n") % 5),
        offer_fit=(pl.col("n") % 7) / 7,
        reason=pl.lit("made up for the parity test"),
    )
    data.use_offers(data.engine.register(best, label="best"))
    frames["campaign_lists_with_offers"] = _lists(data)
    frames["action_offers"] = pl.concat(
        [data.action_offers(a, 3, {"offer-1": "The first offer"}).with_columns(action=pl.lit(a)) for a in data.actions]
    )
    return frames


def _lists(data: ReportData) -> pl.DataFrame:
    return pl.concat([data.campaign_list(a).pl() for a in data.actions])


@pytest.fixture(scope="module")
def runs(spark_session, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """The churn report on each engine, run once for the module."""
    out = tmp_path_factory.mktemp("reports-parity")
    done = {engine: _report(engine, out / f"churn-{engine}.html") for engine in ENGINES}
    yield done
    for run in done.values():
        run.data.engine.close()  # the views of the shared Spark session, the DuckDB connection


LABELS = (
    "snapshot", "headline", "segments", "rf_grid", "rf_segments", "metric_ranges", "actions", "migration",
    *(f"histogram[{m}]" for m in METRICS), "campaign_lists", "campaign_lists_with_offers", "action_offers",
)


def test_every_aggregate_is_compared(runs):
    assert set(runs["duckdb"].frames) == set(LABELS) == set(runs["spark"].frames)


@pytest.mark.parametrize("label", LABELS)
def test_report_aggregate(runs, label):
    duck, spark = runs["duckdb"].frames[label], runs["spark"].frames[label]
    assert duck.height > 0, f"{label}: no rows to compare"
    assert_same(duck, spark, label=label)


def test_the_aggregates_carry_churn_and_offers(runs):
    """What the comparisons above stand on: churn columns filled, offers attached, cells populated."""
    frames = runs["duckdb"].frames
    snapshot = frames["snapshot"]
    assert snapshot.height == 2357
    assert snapshot["p_alive"].null_count() == 0 and snapshot["clv"].null_count() == 0
    assert snapshot["recent_revenue"].sum() > 0
    headline = frames["headline"]
    assert headline["likely_gone"].min() > 0 and headline["revenue_at_risk"].min() > 0
    assert headline["active_customers"][0] > headline["active_customers"][1]  # 365 days vs 30
    assert frames["segments"]["median_churn_risk"].null_count() == 0
    assert frames["segments"]["likely_gone_share"].is_between(0, 1).all()
    assert frames["rf_grid"].height == runs["duckdb"].data.bins ** 2
    assert frames["rf_segments"]["cell_share"].is_between(0, 1, closed="right").all()
    ranges = frames["metric_ranges"]
    assert (ranges["p01"] < ranges["p99"]).all() and (ranges["p99"] != ranges["p99"].round()).any()  # interpolated
    with_offers = frames["campaign_lists_with_offers"]
    assert 0 < with_offers["next_best_offer"].null_count() < with_offers.height
    assert frames["action_offers"]["offer"].to_list().count("The first offer") > 0
    assert frames["migration"]["from_segment"].n_unique() >= 3 and frames["migration"].height > 10


# --- the backtest ---------------------------------------------------------------------------


def test_backtest_predictions_per_customer(runs):
    duck, spark = runs["duckdb"].backtest, runs["spark"].backtest
    assert duck.predictions is not None and spark.predictions is not None
    assert duck.predictions.height == duck.customers > 2000
    assert duck.predictions["actual_orders"].sum() > 0 and duck.predictions["clv_bgnbd"].null_count() == 0
    assert_same(duck.predictions, spark.predictions, label="backtest predictions")


@pytest.mark.parametrize("table", ["by_frequency", "by_segment"])
def test_backtest_tables(runs, table):
    duck, spark = getattr(runs["duckdb"].backtest, table), getattr(runs["spark"].backtest, table)
    assert duck is not None and duck.height > 3
    assert_same(duck, spark, label=f"backtest {table}")


def test_backtest_summaries(runs):
    duck, spark = runs["duckdb"].backtest, runs["spark"].backtest
    assert (duck.calibration_end, duck.holdout_end, duck.customers) == (
        spark.calibration_end, spark.holdout_end, spark.customers
    )
    assert duck.failures == spark.failures == {}
    assert math.isclose(duck.churn_rate, spark.churn_rate, rel_tol=REL)
    assert set(duck.methods) == set(spark.methods) == {"bgnbd", "recency_ratio"}  # the report: used + baseline
    for method in duck.methods:
        a, b = duck.methods[method], spark.methods[method]
        assert 0.5 < a["auc"] < 1
        for key in ("gains_risk", "gains_clv", "reliability"):
            assert_same(pl.DataFrame(a[key]), pl.DataFrame(b[key]), label=f"backtest {method} {key}")
        scalars = [k for k in a if not k.startswith("gains_") and k != "reliability"]
        assert_same(pl.DataFrame([{k: a[k] for k in scalars}]), pl.DataFrame([{k: b[k] for k in scalars}]),
                    label=f"backtest {method}")


# --- the page -------------------------------------------------------------------------------

_CARD = re.compile(r'<div class="card"><div class="label">(.*?)</div><div class="value">(.*?)</div>'
                   r'<div class="note">(.*?)</div></div>')
_DATASET = re.compile(r"data-[0-9a-f]{32}")
_SPEC = re.compile(r'(<script type="application/json" id="[^"]*">)(.*?)(</script>)', re.DOTALL)


def test_churn_report_headline_on_spark(runs):
    """The Spark report's headline cards read exactly as the DuckDB report's."""
    duck, spark = (_CARD.findall(runs[e].html) for e in ENGINES)
    assert [label for label, _, _ in duck] == [
        "Customers", "Mean churn risk", "Likely gone", "Revenue at risk", "Churn model"
    ]
    assert all(value != "n/a" for _, value, _ in duck)
    assert spark == duck


def test_churn_report_page_on_spark(runs):
    """The whole page: the same text and tables, and chart data equal within the float tolerance."""
    duck, spark = runs["duckdb"].html, runs["spark"].html
    assert "Backtest skipped" not in duck and 'data-chart="migration"' in duck
    duck_specs, spark_specs = _SPEC.findall(duck), _SPEC.findall(spark)
    assert len(duck_specs) == len(spark_specs) > 5
    for (head, a, _), (_, b, _) in zip(duck_specs, spark_specs):
        _same_json(json.loads(_dataset_names(a)), json.loads(_dataset_names(b)), where=head)
    assert _SPEC.sub(r"\1\3", duck) == _SPEC.sub(r"\1\3", spark)


def _dataset_names(spec: str) -> str:
    """Altair names a chart's datasets by a hash of their rows: number them in order instead."""
    names: dict[str, str] = {}
    return _DATASET.sub(lambda m: names.setdefault(m.group(0), f"data-{len(names)}"), spec)


def _same_json(a: Any, b: Any, where: str) -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, (int, float)) and isinstance(b, (int, float)), f"{where}: {a!r} vs {b!r}"
        assert math.isclose(a, b, rel_tol=REL), f"{where}: {a!r} vs {b!r}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {b!r}"
        for key in a:
            _same_json(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: {len(a)} items vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            _same_json(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"
