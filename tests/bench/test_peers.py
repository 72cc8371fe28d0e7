"""bench/peers.py: the peers' summaries on a tiny hand-made order file.

The lifetimes / pymc-marketing tests skip when those (bench-only) packages are
not installed; the pymc one is also marked slow (importing pymc takes ~4 s).
The lifetimes one runs on a few hundred generated customers, since BG/NBD
does not converge on the four hand-made ones.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import sys
from pathlib import Path

import pytest

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROOT = Path(__file__).resolve().parents[2]


def _load_peers():
    spec = importlib.util.spec_from_file_location("bench_peers", ROOT / "bench" / "peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peers = _load_peers()

D = dt.date
# (customer_id, order_id, order_date, amount, status); every order one or two lines.
LINES = [
    (1, 10, D(2024, 1, 1), 10.0, "complete"),
    (1, 10, D(2024, 1, 1), 5.0, "complete"),  # second line of order 10
    (1, 11, D(2024, 1, 1), 20.0, "complete"),  # another order the same day
    (1, 12, D(2024, 1, 5), 7.5, "complete"),
    (1, 13, D(2024, 1, 9), 100.0, "cancelled"),  # dropped: it must not move as_of either
    (2, 20, D(2024, 1, 3), 40.0, "complete"),
    (2, 21, D(2024, 1, 6), -10.0, "refund"),  # kept, as every peer keeps it
    (3, 30, D(2024, 1, 8), 3.0, "complete"),
    (4, 40, D(2024, 1, 2), 9.0, "cancelled"),  # customer with only cancelled lines: absent
    (5, 50, D(2024, 1, 2), 12.0, "complete"),
    (5, 51, D(2024, 1, 4), 8.0, "complete"),
    (5, 52, D(2024, 1, 7), 1.0, "complete"),
]
AS_OF = D(2024, 1, 9)  # day after the last kept date (2024-01-08)

# pandas peer: distinct orders, net sum, days since last order
PANDAS_EXPECTED = {1: (3, 42.5, 4), 2: (2, 30.0, 3), 3: (1, 3.0, 1), 5: (3, 21.0, 2)}
# lifetimes / pymc rfm_summary: repeat days, first-to-last days, first-to-as_of days, mean repeat-day sum
CLV_EXPECTED = {1: (1, 4, 8, 7.5), 2: (1, 3, 6, -10.0), 3: (0, 0, 1, 0.0), 5: (2, 5, 7, 4.5)}


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    cols = list(zip(*LINES))
    table = pa.table(
        {
            "customer_id": pa.array(cols[0], pa.int64()),
            "order_id": pa.array(cols[1], pa.int64()),
            "order_date": pa.array(cols[2], pa.date32()),
            "amount": pa.array(cols[3], pa.float64()),
            "category": pa.array(["Books"] * len(LINES), pa.string()),
            "status": pa.array(cols[4], pa.string()),
            "quantity": pa.array([1] * len(LINES), pa.int32()),
        }
    )
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path)
    return path


def _run(peer: str, orders: Path, tmp_path: Path, *extra: str):
    out = tmp_path / f"{peer}.parquet"
    assert peers.main([peer, str(orders), str(out), *extra]) == 0
    return pd.read_parquet(out).set_index("customer_id").sort_index()


def test_peer_command(tmp_path: Path):
    cmd = peers.peer_command("pandas", tmp_path / "o.parquet", tmp_path / "x.parquet", as_of=D(2024, 1, 9))
    assert cmd == [sys.executable, str(ROOT / "bench" / "peers.py"), "pandas",
                   str(tmp_path / "o.parquet"), str(tmp_path / "x.parquet"), "--as-of", "2024-01-09"]
    cmd = peers.peer_command("pymc", "a", "b", python="/x/python")
    assert cmd == ["/x/python", str(ROOT / "bench" / "peers.py"), "pymc", "a", "b"]
    with pytest.raises(ValueError, match="unknown peer"):
        peers.peer_command("polars", "a", "b")


def test_pandas_peer_equals_hand_values_and_duckdb(orders: Path, tmp_path: Path):
    duckdb = pytest.importorskip("duckdb")
    got = _run("pandas", orders, tmp_path)
    assert {c: (r.frequency, r.monetary, r.recency_days) for c, r in got.iterrows()} == PANDAS_EXPECTED

    ref = duckdb.sql(
        """SELECT customer_id, count(DISTINCT order_id) AS f, sum(amount) AS m,
                  date_diff('day', max(order_date), DATE '2024-01-09') AS r
           FROM read_parquet($p) WHERE status <> 'cancelled' GROUP BY 1 ORDER BY 1""",
        params={"p": str(orders)},
    ).df().set_index("customer_id")
    assert list(got.index) == list(ref.index)
    assert (got["frequency"] == ref["f"]).all() and (got["recency_days"] == ref["r"]).all()
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got["monetary"], ref["m"]))

    # quintiles of rank(method="first") over 4 customers: 1, 2, 4, 5; the most recent gets R = 5
    assert got.loc[3, "r_score"] == 5 and got.loc[1, "r_score"] == 1
    assert sorted(got["f_score"]) == [1, 2, 4, 5]
    assert got.loc[1, "m_score"] == 5 and got.loc[3, "m_score"] == 1
    assert got.loc[1, "rfm_score"] == f"{got.loc[1, 'r_score']}{got.loc[1, 'f_score']}5"


def test_as_of_truncates(orders: Path, tmp_path: Path):
    got = _run("pandas", orders, tmp_path, "--as-of", "2024-01-04")
    # customer 3 (first order 01-08) is gone; 5 keeps orders 50, 51 only
    assert list(got.index) == [1, 2, 5]
    assert tuple(got.loc[5, ["frequency", "monetary", "recency_days"]]) == (2, 20.0, 0)
    assert tuple(got.loc[1, ["frequency", "monetary", "recency_days"]]) == (2, 35.0, 3)


def _check_clv(got):
    # r["T"], never r.T: that is the transpose
    assert {c: (r["frequency"], r["recency_days"], r["T"], r["monetary"]) for c, r in got.iterrows()} == CLV_EXPECTED


def test_lifetimes_peer(tmp_path: Path):
    # BG/NBD does not converge on the 4 hand-made customers: use a few hundred generated ones
    pytest.importorskip("lifetimes")
    duckdb = pytest.importorskip("duckdb")
    from rfm.synthetic import generate_orders

    orders = tmp_path / "gen.parquet"
    generate_orders(orders, customers=300, orders=1500, seed=1)
    got = _run("lifetimes", orders, tmp_path)
    ref = duckdb.sql(
        """WITH days AS (
               SELECT customer_id, order_date AS d, sum(amount) AS s
               FROM read_parquet($p) WHERE status <> 'cancelled' GROUP BY 1, 2),
           per AS (SELECT *, min(d) OVER (PARTITION BY customer_id) AS first FROM days),
           as_of AS (SELECT max(d) + 1 AS a FROM days)
           SELECT customer_id, count(*) - 1 AS f, date_diff('day', min(d), max(d)) AS r,
                  date_diff('day', min(d), (SELECT a FROM as_of)) AS t,
                  coalesce(avg(s) FILTER (WHERE d > first), 0) AS m
           FROM per GROUP BY 1 ORDER BY 1""",
        params={"p": str(orders)},
    ).df().set_index("customer_id")
    assert list(got.index) == list(ref.index) and len(got) > 250
    assert (got["frequency"] == ref["f"]).all()
    assert (got["recency_days"] == ref["r"]).all() and (got["T"] == ref["t"]).all()
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(got["monetary"], ref["m"]))
    assert (got.loc[got["frequency"] == 0, "p_alive"] == 1.0).all()  # no repeat purchase: alive by assumption
    assert ((got["p_alive"] > 0) & (got["p_alive"] <= 1)).all() and (got["p_alive"] < 0.5).any()


@pytest.mark.slow
def test_pymc_peer_agrees_with_lifetimes(orders: Path, tmp_path: Path):
    pytest.importorskip("pymc_marketing")
    got = _run("pymc", orders, tmp_path)
    _check_clv(got)
    # segmentation form: first purchase included, recency = days since the last purchase day
    assert (got["seg_frequency"] == got["frequency"] + 1).all()
    assert dict(got["seg_recency"]) == {1: 4, 2: 3, 3: 1, 5: 2}
    assert got["rfm_score"].str.fullmatch(r"\d{3}").all() and got["segment"].notna().all()
    if importlib.util.find_spec("lifetimes") is not None:
        from lifetimes.utils import summary_data_from_transaction_data

        kept, as_of = peers.read_orders(orders)
        lt = summary_data_from_transaction_data(
            kept, "customer_id", "order_date", monetary_value_col="amount", observation_period_end=as_of, freq="D"
        )
        lt = lt.rename(columns={"recency": "recency_days", "monetary_value": "monetary"})
        cols = ["frequency", "recency_days", "T", "monetary"]
        assert lt[cols].equals(got[cols])


def test_missing_library_exits_3(orders: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lifetimes", None)  # makes `import lifetimes` fail
    assert peers.main(["lifetimes", str(orders), str(tmp_path / "x.parquet")]) == peers.EXIT_NOT_INSTALLED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lifetimes: not installed")
    assert not (tmp_path / "x.parquet").exists()
