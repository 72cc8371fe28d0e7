"""Inputs that read differently on Spark unless the engine takes care: same tables, same errors."""

from __future__ import annotations

import polars as pl
import pytest

from rfm.cli import main
from rfm.pipeline import Orders
from tests.spark.parity import assert_same


def both(source, config=None, **score) -> tuple[pl.DataFrame, pl.DataFrame]:
    out = []
    for engine in ("duckdb", "spark"):
        with Orders(source, config, engine=engine) as orders:
            out.append(orders.score(**score).table)
    return out[0], out[1]


def test_zero_padded_ids_stay_text(spark_session, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount\n00123,1,2024-01-05,10\n123,2,2024-01-06,20\n0042,3,2024-02-01,5\n")
    duck, spark = both(path, as_of="2024-03-01")
    assert duck["customer_id"].to_list() == ["00123", "0042", "123"]  # three customers, zeros kept
    assert_same(duck, spark, label="zero-padded ids")
    assert spark.schema == duck.schema


def test_headerless_csv_with_names_keeps_its_first_line(spark_session, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("A,1,2024-01-05,10\nB,2,2024-01-06,20\n")
    cfg = {"input": {"csv": {"header": False, "names": ["customer_id", "order_id", "order_date", "amount"]}}}
    duck, spark = both(path, cfg, as_of="2024-03-01")
    assert duck["customer_id"].to_list() == ["A", "B"]
    assert_same(duck, spark, label="names, no header")


@pytest.mark.parametrize(
    ("dates", "fmt"),
    [
        (["05/01/85", "17/03/99", "02/02/24"], "%d/%m/%y"),  # 19xx for 69-99, 20xx below (DuckDB's pivot)
        (["2024-01-05T10:00:00", "2024-02-01T23:59:59", "2024-03-01T00:00:00"], "%Y-%m-%dT%H:%M:%S"),
        (["5/1/2024", "17/3/2024", "1/12/2023"], "%d/%m/%Y"),  # one or two digits
        (["20240105", "20240317", "20231201"], "%Y%m%d"),
    ],
)
def test_date_formats_read_the_same(spark_session, tmp_path, dates, fmt):
    path = tmp_path / "orders.csv"
    rows = "".join(f"C{i},{i},{d},{10 + i}\n" for i, d in enumerate(dates))
    path.write_text("customer_id,order_id,order_date,amount\n" + rows)
    duck, spark = both(path, {"input": {"date_format": fmt}}, as_of="2025-01-01")
    assert duck["last_order_date"].is_not_null().all()
    assert_same(duck, spark, label=fmt)
    if fmt == "%d/%m/%y":
        assert sorted(d.year for d in duck["last_order_date"]) == [1985, 1999, 2024]


def test_values_that_look_like_spark_variables_are_values(spark_session, tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount,status\nA,1,2024-01-05,10,${x}\nB,2,2024-01-06,20,done\n")
    cfg = {"input": {"excluded_statuses": ["${x}"]}}
    duck, spark = both(path, cfg, as_of="2024-03-01")
    assert duck["customer_id"].to_list() == ["B"]  # the status "${x}" matched literally, on both engines
    assert_same(duck, spark, label="${x}")


def test_a_file_uri_is_read_by_spark(spark_session, golden_csv):
    with Orders(golden_csv, engine="duckdb") as orders:
        duck = orders.score(as_of="2024-07-01").table
    with Orders(golden_csv.resolve().as_uri(), engine="spark") as orders:
        spark = orders.score(as_of="2024-07-01").table
    assert_same(duck, spark, label="file:// URI")


def test_the_error_line_names_the_right_file_row(spark_session, tmp_path, capsys):
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "a.csv").write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-05,10\nB,2,2024-01-06,20\n")
    (folder / "b.csv").write_text("customer_id,order_id,order_date,amount\nC,3,2024-01-07,x5\nD,4,2024-01-08,y6\n")
    lines = []
    for engine in ("duckdb", "spark"):
        assert main(["score", str(folder), "--out", str(tmp_path / "s.csv"), "--engine", engine, "-q"]) == 2
        lines.append(capsys.readouterr().err.strip())
    assert lines[0] == lines[1]
    assert '(first: "x5" in row 3)' in lines[0]


def test_two_engines_on_one_session_keep_their_own_tables(spark_session, tmp_path):
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-05,10\n")
    two.write_text("customer_id,order_id,order_date,amount\nZ,9,2024-01-05,99\nY,8,2024-01-06,1\n")
    a, b = Orders(one, engine="spark"), Orders(two, engine="spark")
    try:
        assert a.score(as_of="2024-03-01").table["customer_id"].to_list() == ["A"]
        assert b.score(as_of="2024-03-01").table["customer_id"].to_list() == ["Y", "Z"]
        a.close()
        assert b.score(as_of="2024-03-01").table["customer_id"].to_list() == ["Y", "Z"]
    finally:
        b.close()


def test_rfm_score_of_a_spark_frame_restores_the_session(spark_session, golden_csv):
    import rfm

    frame = spark_session.createDataFrame(pl.read_csv(golden_csv, try_parse_dates=True).to_arrow())
    before = {k: spark_session.conf.get(k) for k in ("spark.sql.ansi.doubleQuotedIdentifiers", "spark.sql.caseSensitive")}
    spark_session.conf.set("spark.sql.ansi.enabled", "false")
    try:
        first = rfm.score(frame, as_of="2024-07-01")
        assert spark_session.conf.get("spark.sql.ansi.enabled") == "false"  # the user's setting is back
        assert {k: spark_session.conf.get(k) for k in before} == before
        rfm.score(frame, as_of="2024-03-01")  # a second run does not touch the first result
        duck = rfm.score(golden_csv, as_of="2024-07-01")
        assert_same(duck, pl.from_arrow(first.toArrow()), label="first result after a second run")
    finally:
        spark_session.conf.set("spark.sql.ansi.enabled", "true")


def test_a_pandas_frame_with_missing_ids_on_spark(spark_session, golden_csv):
    """pandas -> Spark directly would turn a missing id into the customer "NaN"."""
    import rfm

    frame = pl.read_csv(golden_csv, try_parse_dates=True).to_pandas()
    assert frame["customer_id"].isna().sum() == 1
    assert_same(rfm.score(frame, as_of="2024-07-01"), rfm.score(frame, as_of="2024-07-01", engine="spark"),
                label="pandas frame")


def test_contacts_join_customer_scores_from_spark(spark_session):
    """Lead scoring stays on polars; it joins customer scores that Spark computed."""
    from rfm.leads import contacts, score_leads
    from tests.conftest import DATA

    leads = DATA / "leads"
    with pytest.warns(Warning):
        lead_scores = score_leads(leads / "leads.csv", leads / "events.csv", leads / "grid.yaml", as_of="2024-06-30")
    scores = pl.read_csv(leads / "customer_scores.csv")
    on_spark = spark_session.createDataFrame(scores.to_arrow())
    with pytest.warns(Warning):
        local = contacts(lead_scores, scores, customers=leads / "customers.csv", match=["customer_id", "email"])
    with pytest.warns(Warning):
        remote = contacts(lead_scores, on_spark, customers=leads / "customers.csv", match=["customer_id", "email"])
    assert local.table.filter(pl.col("customer_id").is_not_null()).height >= 3
    assert_same(local.table, remote.table, label="contacts")


@pytest.mark.parametrize(
    ("dates", "days"),
    [
        # a UTC offset moves the day: the engines date every line in UTC
        (["2024-01-01", "2024-01-05T23:30:00-05:00", "2024-01-05 23:30:00 -0500", "2024-01-05 23:30:00 +0300",
          "2024-01-05T23:30:00Z", "2024/01/07"],
         ["2024-01-01", "2024-01-06", "2024-01-06", "2024-01-05", "2024-01-05", "2024-01-07"]),
        # month-first, settled by a 13 in the day position, read the same way on both engines
        (["01/03/2024", "01/05/2024", "03/13/2024"], ["2024-01-03", "2024-01-05", "2024-03-13"]),
    ],
    ids=["utc-offsets", "month-first-settled"],
)
def test_text_dates_are_dated_alike(spark_session, tmp_path, dates, days):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount\n" + "".join(f"C{i},{i},{d},10\n" for i, d in enumerate(dates)))
    duck, spark = both(path, as_of="2025-01-01")
    assert [str(d) for d in duck.sort("customer_id")["last_order_date"]] == days
    assert_same(duck, spark, label="text dates")


def test_ambiguous_dates_are_refused_on_spark(spark_session, tmp_path, capsys):
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_id,order_date,amount\nA,1,01/03/2024,10\nB,2,02/12/2024,5\n")
    code = main(["score", str(path), "--engine", "spark", "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert f'error: {path}: column "order_date" is ambiguous: every date reads both as %d/%m/%Y and as %m/%d/%Y' in err


def test_encodings_read_alike_and_bad_bytes_are_named_on_spark(spark_session, tmp_path, capsys):
    text = "customer_id,order_id,order_date,amount,category\nZoé,1,2024-01-01,10,Café\nJosé,2,2024-02-01,\"1,250.00\",Thé\n"
    path = tmp_path / "orders.csv"
    path.write_bytes(text.encode("cp1252"))
    cfg = {"input": {"csv": {"encoding": "cp1252", "thousands": ","}}}
    duck, spark = both(path, cfg, as_of="2024-06-01")
    assert duck["customer_id"].to_list() == ["José", "Zoé"] and duck["monetary"].to_list() == [1250.0, 10.0]
    assert_same(duck, spark, label="cp1252")
    # Spark would read the bytes as U+FFFD without a word: rfm checks the file first
    code = main(["score", str(path), "--engine", "spark", "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {path}: not UTF-8 on line 2 (bytes b'\\xe9'); set input.csv.encoding: cp1252 (or latin-1)" in err
