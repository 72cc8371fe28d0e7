"""Customer scoring and churn: the same tables, row for row, on DuckDB and on Spark.

Every case scores one input on both engines and compares the whole customer
table (tests/spark/parity.py: exact for integers, dates and strings, 1e-9
relative for floats).  The inputs cover what the SQL has to get right: the
CDNOW sample (whitespace text, a date format, no order ids), generated
orders with multi-line orders, returns and cancelled lines, hand-made exact
duplicates, lines without customer, an order spanning two dates, ties, a
lookback window, fixed and saved cut points, every segment preset, both
duplicate routes and both churn methods.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from rfm.customers import Scoring
from rfm.pipeline import Orders
from rfm.synthetic import generate_frame
from tests.conftest import CDNOW, CDNOW_CONFIG
from tests.spark.parity import assert_same


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated orders with quirks added by hand, as CSV and as Parquet."""
    frame = generate_frame(customers=1500, orders=4500, seed=11, lines_per_order=1.8)
    extra = pl.DataFrame(
        {
            "customer_id": [7, 7, None, 9, 9],
            "order_id": [900001, 900001, 900002, 900003, 900003],
            "order_date": [date(2023, 5, 1), date(2023, 5, 1), date(2023, 5, 2), date(2023, 6, 1), date(2023, 6, 9)],
            "amount": [12.5, 12.5, 30.0, 40.0, -15.0],  # an exact duplicate; no customer; an order on two dates
            "category": ["Books", "Books", "Home", "Toys", "Toys"],
            "status": ["complete", "complete", "complete", "complete", "refund"],
            "quantity": [1, 1, 1, 2, 1],
        },
        schema=frame.schema,
    )
    frame = pl.concat([frame, extra])
    out = tmp_path_factory.mktemp("parity")
    paths = {"csv": out / "orders.csv", "parquet": out / "orders.parquet"}
    frame.write_csv(paths["csv"])
    frame.write_parquet(paths["parquet"])
    return paths


def both(source, config, **score) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[str]]:
    tables, notes = [], []
    for engine in ("duckdb", "spark"):
        with Orders(source, config, engine=engine) as orders:
            result = orders.score(**score)
            tables.append(result.table)
            notes.append(list(result.warnings))
    return tables[0], tables[1], notes[0], notes[1]


@pytest.mark.parametrize("method", ["bgnbd", "pnbd"])
def test_cdnow_scores_and_a_customer_base_model(spark_session, method):
    duck, spark, duck_notes, spark_notes = both(CDNOW, CDNOW_CONFIG, as_of="1997-09-30", churn=method)
    assert duck.height == 2357 and duck["p_alive"].is_not_null().all()
    assert set(duck["churn_method"]) == {method}
    assert_same(duck, spark, label=f"CDNOW {method}")
    assert duck_notes == spark_notes


def test_cdnow_recency_ratio_with_a_window(spark_session):
    cfg = {**_yaml(CDNOW_CONFIG), "scoring": {"window_days": 180}}
    duck, spark, _, _ = both(CDNOW, cfg, as_of="1998-03-31", churn="recency_ratio")
    assert duck["churn_risk"].n_unique() > 10
    assert_same(duck, spark, label="CDNOW recency_ratio, 180-day window")


@pytest.mark.parametrize(
    ("fmt", "config"),
    [
        ("csv", {}),  # duplicates keep: the order-table route
        ("parquet", {"input": {"duplicates": "drop"}}),
        ("parquet", {"input": {"duplicates": "unchecked"}}),  # the one-scan route
        ("csv", {"scoring": {"monetary": "aov", "bins": 3}, "segments": {"rules": [
            {"name": "Recent", "action": "retain", "r": 3}, {"name": "Frequent", "action": "upsell", "f": [2, 3]},
        ], "other": {"name": "Rest", "action": "nurture"}}}),
        ("parquet", {"segments": {"preset": "quartile"}, "scoring": {"bins": 4}}),
        ("parquet", {"segments": {"preset": "r_rfm"}}),
        ("parquet", {"scoring": {"cut_points": {"frequency": [1, 2, 3, 5], "monetary": [50, 100, 200, 400]}}}),
    ],
    ids=["csv-keep", "drop-duplicates", "unchecked", "aov-3-bins-own-rules", "quartile", "r_rfm", "fixed-cuts"],
)
def test_generated_orders(spark_session, generated, fmt, config):
    duck, spark, duck_notes, spark_notes = both(generated[fmt], config, as_of="2024-06-30")
    assert duck.height > 1000 and duck["segment"].n_unique() >= 3
    assert_same(duck, spark, label=f"generated {fmt} {config}")
    assert duck_notes == spark_notes  # dropped, duplicate and spanning-order counts agree


def test_saved_cut_points_from_duckdb_apply_on_spark(spark_session, generated, tmp_path):
    with Orders(generated["parquet"], engine="duckdb") as orders:
        fitted = orders.score(as_of="2023-12-31")
        fitted.scoring.save(tmp_path / "scoring.json")
        duck = orders.score(as_of="2024-06-30", scoring=tmp_path / "scoring.json").table
    with Orders(generated["parquet"], engine="spark") as orders:
        spark = orders.score(as_of="2024-06-30", scoring=Scoring.load(tmp_path / "scoring.json")).table
    assert_same(duck, spark, label="saved scoring")


def test_spark_dataframe_in_spark_dataframe_out(spark_session, generated):
    import rfm

    frame = spark_session.read.parquet(str(generated["parquet"]))
    out = rfm.score(frame, as_of="2024-06-30")
    assert type(out).__module__.startswith("pyspark.sql")  # stays where the data is
    duck = rfm.score(generated["parquet"], as_of="2024-06-30")
    assert_same(duck, pl.from_arrow(out.toArrow()), label="rfm.score(spark DataFrame)")


def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_propensity_features_and_predictions(spark_session, generated):
    """The learned propensity reads SQL features: exact sums on both engines, so the same model and the
    same churn columns come out."""
    duck, spark, duck_notes, spark_notes = both(generated["parquet"], {}, as_of="2024-06-30", churn="propensity")
    assert set(duck["churn_method"]) == {"propensity"} and duck["churn_risk"].n_unique() > 50
    assert_same(duck, spark, label="generated propensity")
    assert duck_notes == spark_notes
