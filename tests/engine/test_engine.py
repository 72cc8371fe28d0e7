"""The engine seam: results own their tables, names stay private, errors are typed."""

from __future__ import annotations

import gc
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rfm
from rfm.engine import DuckDBEngine as Engine
from rfm.engine import Table
from rfm.errors import DataError, EngineError
from rfm.inputs import InputConfig, open_orders


def catalog(engine: Engine) -> set[str]:
    """Every table and view on the engine's connection (white-box: the test looks behind the seam)."""
    return {r[0] for r in engine._con.sql("SELECT table_name FROM information_schema.tables").fetchall()}


def totals(engine: Engine) -> Table:
    frame = pl.DataFrame({"customer_id": ["a", "b", None], "return_lines": [0, 2, 1],
                          "first_order_date": [date(2024, 1, 1), None, None], "frequency": [3, 0, 0]})
    return engine.register(frame, label="totals")


def test_a_table_lives_as_long_as_its_handle():
    engine = Engine()
    one = engine.register(
        pl.DataFrame({"customer_id": ["a"], "first_order_date": [date(2024, 1, 1)], "last_order_date": [date(2024, 3, 1)],
                      "frequency": [2], "gross": [30.0], "refunds": [-5.0]}),
        label="totals",
    )
    made = engine.create("customers.build_customers", {"totals": one}, as_of=date(2024, 3, 31), monetary="net")
    name = made._name
    assert name in catalog(engine)
    assert made.pl()["net"].to_list() == [25.0] and made.count() == 1
    assert made.pl()["recency_days"].to_list() == [30]
    del made
    gc.collect()
    engine.rows("customers.refund_only_customers", {"totals": totals(engine)})  # the next statement drops it
    assert name not in catalog(engine)


def test_two_scorings_of_one_history_keep_their_own_tables(golden_csv):
    orders = rfm.Orders(golden_csv)
    june = orders.score(as_of="2024-06-30")
    january = orders.score(as_of="2024-01-31")
    assert june.sql_table._name != january.sql_table._name
    assert june.table["as_of"].unique().to_list() == [date(2024, 6, 30)]
    assert january.table["as_of"].unique().to_list() == [date(2024, 1, 31)]
    assert june.table.height == 12 and january.table.height < 12


def test_rows_come_back_as_counted():
    engine = Engine()
    assert engine.rows("customers.refund_only_customers", {"totals": totals(engine)}) == [(1, 3)]
    assert_frame_equal(
        engine.fetch("customers.refund_only_customers", {"totals": totals(engine)}),
        pl.DataFrame({"refund_only_customers": [1], "purchase_orders": [3]}),
        check_dtypes=False,
    )


def test_a_table_of_another_engine_is_refused():
    one, other = Engine(), Engine()
    with pytest.raises(TypeError, match=r"table 'totals' is not a table of this engine"):
        one.rows("customers.refund_only_customers", {"totals": totals(other)})


def test_a_statement_block_cannot_be_materialised_and_a_view_takes_no_params():
    engine = Engine()
    with pytest.raises(TypeError, match=r"query customers.line_class_type .* is a statement, not a query; use run\(\)"):
        engine.create("customers.line_class_type")
    with pytest.raises(TypeError, match=r"query customers.build_customers takes parameters; a view cannot bind them"):
        engine.view("customers.build_customers", {"totals": totals(engine)})


def test_bad_values_raise_data_errors_and_other_failures_engine_errors(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01,10\nB,2,2024-01-02,\n")
    engine = Engine()
    src = open_orders(engine, path, InputConfig())
    with pytest.raises(DataError, match=r"rfm:null:amount"):
        engine.create("customers.build_customer_totals", {"lines": src.lines}, as_of=None, window_start=None)
    with pytest.raises(EngineError, match=r"memory_limit|Memory|memory"):
        Engine(memory_limit="not a size")


def test_spreadsheet_safe_writes_prefix_formulas_only(tmp_path):
    engine = Engine()
    table = engine.register(pl.DataFrame({"id": ["=1+1", "+x", "-3", "@a", "ok", "\tq"], "n": [1, 2, 3, 4, 5, 6]}),
                            label="list")
    table.write(tmp_path / "safe.csv", spreadsheet_safe=True)
    table.write(tmp_path / "raw.csv")
    assert pl.read_csv(tmp_path / "safe.csv")["id"].to_list() == ["'=1+1", "'+x", "'-3", "'@a", "ok", "'\tq"]
    assert pl.read_csv(tmp_path / "raw.csv")["id"].to_list() == ["=1+1", "+x", "-3", "@a", "ok", "\tq"]


def test_views_and_lazy_queries_keep_the_tables_they_read_alive():
    engine = Engine()
    rows = engine.query("customers.refund_only_customers", {"totals": totals(engine)})
    view = engine.view("customers.line_groups_unchecked", {"lines": engine.register(
        pl.DataFrame({"customer_id": ["a"], "order_id": ["o"], "line_hash": [1], "order_date": [date(2024, 1, 1)],
                      "amount": [1.0], "status": [None], "excluded": [False], "bad_date": [False]}), label="lines")})
    gc.collect()
    engine.rows("customers.refund_only_customers", {"totals": totals(engine)})  # drops whatever was released
    assert rows.pl().row(0) == (1, 3)
    assert view.pl()["copies"].to_list() == [1]


def test_memory_budget_leaves_room_outside_duckdb():
    """--memory-limit is the run's budget (default half the machine): DuckDB gets 85 % of it."""
    import duckdb

    from rfm.engine._duckdb import duckdb_share

    def limit(con) -> str:
        return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]

    def duck(value: str) -> str:
        con = duckdb.connect()
        con.execute("SET memory_limit = $m", {"m": value})
        return limit(con)

    assert duckdb_share("6GB") == "5100000000B" and duckdb_share("4GiB") == f"{int(4 * 2**30 * 0.85)}B"
    assert duckdb_share("50%") == "42.5%" and duckdb_share("512 mb") == "435200000B"
    assert limit(Engine()._con) == duck("42.5%") != limit(duckdb.connect())  # not DuckDB's 80 %
    assert limit(Engine(memory_limit="6GB")._con) == duck("5.1GB") == "4.7 GiB"
