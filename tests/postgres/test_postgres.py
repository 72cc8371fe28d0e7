"""Orders read from a real PostgreSQL server, scores written back: the same numbers as from files,
atomic writes, one error line per failure, and no password in any output."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from rfm.cli import main
from rfm.pipeline import Orders
from rfm.synthetic import generate_frame
from tests.conftest import CDNOW, DATA
from tests.postgres.conftest import PASSWORD

ENC = quote(PASSWORD, safe="")  # as it is written in a URL
from tests.spark.parity import assert_same

CDNOW_COLUMNS = ["master_id", "customer_id", "order_date", "quantity", "amount"]


def load(server, frame: pl.DataFrame, table: str, *, user: str = "analyst") -> None:
    import adbc_driver_postgresql.dbapi as pg

    schema, name = table.split(".")
    with pg.connect(server.url(user)) as con:
        cur = con.cursor()
        cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
        cur.adbc_ingest(name, frame.to_arrow(), mode="create", db_schema_name=schema)
        con.commit()


def query(server, sql: str, user: str = "analyst") -> pl.DataFrame:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(server.url(user)) as con:
        cur = con.cursor()
        cur.execute(sql)
        return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]


def scores(source, config=None, **kw) -> pl.DataFrame:
    with Orders(source, config, table=kw.pop("table", None), query=kw.pop("query", None)) as orders:
        return orders.score(**kw).table


@pytest.fixture(scope="module")
def generated(pg_server, tmp_path_factory) -> Path:
    frame = generate_frame(customers=800, orders=2400, seed=5, lines_per_order=1.7)
    path = tmp_path_factory.mktemp("pg") / "orders.parquet"
    frame.write_parquet(path)
    load(pg_server, frame, "public.orders")
    return path


def test_generated_orders_from_postgres_equal_the_file(pg_server, generated):
    from_file = scores(generated, as_of="2024-06-30", churn="bgnbd")
    from_db = scores(pg_server.url(), table="public.orders", as_of="2024-06-30", churn="bgnbd")
    assert from_file.height > 500 and from_file["clv"].is_not_null().all()
    assert_same(from_file, from_db, label="generated orders")


def test_cdnow_from_a_query_equals_the_file(pg_server):
    words = CDNOW.read_text().split()
    frame = pl.DataFrame([words[i::5] for i in range(5)], schema=CDNOW_COLUMNS, orient="col").with_columns(
        pl.col("order_date").str.to_date("%Y%m%d"), pl.col("amount").cast(pl.Float64), pl.col("quantity").cast(pl.Int32)
    )
    load(pg_server, frame, "public.cdnow")
    cfg = {"input": {"order_id_fallback": "customer_day", "columns": {"customer_id": "customer_id"}}}
    from_db = scores(pg_server.url(), cfg, query="SELECT customer_id, order_date, amount, quantity FROM cdnow",
                     as_of="1997-09-30")
    from_file = scores(CDNOW, DATA / "cdnow" / "cdnow.yaml", as_of="1997-09-30")
    assert from_db.height == 2357
    assert_same(from_file, from_db, label="CDNOW")


def test_postgres_types(pg_server, tmp_path):
    """UUID ids, NUMERIC amounts, TIMESTAMPTZ dates (the UTC day counts), TEXT status."""
    pg_server.psql(
        "DROP TABLE IF EXISTS public.typed; CREATE TABLE public.typed (customer_id uuid, order_id bigint, "
        "order_date timestamptz, amount numeric(12, 2), status text); ALTER TABLE public.typed OWNER TO analyst;"
        "INSERT INTO public.typed VALUES "
        "('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1, '2024-01-05 23:30:00-05', 12.50, 'complete'),"
        "('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 2, '2024-02-01 10:00:00+00', 7.25, 'complete'),"
        "('b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a22', 3, '2024-02-10 01:00:00+03', 100.00, 'cancelled'),"
        "('b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a22', 4, '2024-02-11 12:00:00+00', 99.99, 'complete')"
    )
    got = scores(pg_server.url(), table="public.typed", as_of="2024-03-01")
    assert got.select("customer_id", "first_order_date", "frequency", "monetary").rows() == [
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", date(2024, 1, 6), 2, 19.75),  # 23:30 -05:00 is the 6th in UTC
        ("b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a22", date(2024, 2, 11), 1, 99.99),
    ]


def test_scores_written_back_read_back_equal(pg_server, generated, tmp_path, capsys):
    out = pg_server.url() + "?table=marketing.rfm_scores"
    assert main(["score", str(generated), "--as-of", "2024-06-30", "-q", "-o", str(tmp_path / "s.parquet")]) == 0
    assert main(["score", str(generated), "--as-of", "2024-06-30", "-q", "-o", out, "--if-exists", "replace"]) == 0
    back = query(pg_server, "SELECT * FROM marketing.rfm_scores ORDER BY customer_id")
    assert_same(pl.read_parquet(tmp_path / "s.parquet"), back, label="written back")
    # fail (the default) refuses before any work, and says how to replace or append
    assert main(["score", str(generated), "-q", "-o", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"error: postgresql://analyst@127.0.0.1:{pg_server.port}/shop table marketing.rfm_scores: the table "
        "exists; pass --if-exists replace (swap in the new scores) or --if-exists append-snapshot (add them, "
        "keeping earlier dates)"
    )


def test_append_snapshot_accumulates_as_of_dates(pg_server, generated):
    out = pg_server.url() + "?table=marketing.history"
    pg_server.psql("DROP TABLE IF EXISTS marketing.history")
    for day in ("2024-03-31", "2024-06-30"):
        assert main(["score", str(generated), "--as-of", day, "-q", "-o", out, "--if-exists", "append-snapshot"]) == 0
    counts = query(pg_server, "SELECT as_of, count(*) AS n FROM marketing.history GROUP BY as_of ORDER BY as_of")
    expected = [(date(2024, 3, 31), scores(generated, as_of="2024-03-31").height),
                (date(2024, 6, 30), scores(generated, as_of="2024-06-30").height)]
    assert counts.rows() == expected


def test_a_reader_sees_the_old_table_or_the_new_one(pg_server, generated):
    import adbc_driver_postgresql.dbapi as pg

    out = pg_server.url() + "?table=marketing.swapped"
    assert main(["score", str(generated), "--as-of", "2023-06-30", "-q", "-o", out, "--if-exists", "replace"]) == 0
    sizes = {scores(generated, as_of=d).height for d in ("2023-06-30", "2024-06-30")}
    seen, errors, done = [], [], threading.Event()

    def reader() -> None:
        with pg.connect(pg_server.url("viewer")) as con:
            cur = con.cursor()
            while not done.is_set():
                try:
                    cur.execute("SELECT count(*) FROM marketing.swapped")
                    seen.append(cur.fetchone()[0])
                    con.commit()
                except Exception as exc:  # noqa: BLE001 - recorded, asserted below
                    errors.append(str(exc))
                    con.rollback()

    pg_server.psql("GRANT SELECT ON ALL TABLES IN SCHEMA marketing TO viewer; "
                   "ALTER DEFAULT PRIVILEGES FOR ROLE analyst IN SCHEMA marketing GRANT SELECT ON TABLES TO viewer")
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for day in ("2024-06-30", "2023-06-30", "2024-06-30"):
            assert main(["score", str(generated), "--as-of", day, "-q", "-o", out, "--if-exists", "replace"]) == 0
    finally:
        done.set()
        thread.join()
    assert errors == [] and len(seen) > 3
    assert set(seen) <= sizes and len(sizes) == 2  # never a half-written table


def test_a_failed_load_leaves_the_table_untouched(pg_server):
    import pyarrow as pa

    from rfm.engine import _postgres
    from rfm.errors import EngineError

    load(pg_server, pl.DataFrame({"customer_id": ["A", "B"], "score": [1, 2]}), "marketing.kept")
    schema = pa.schema([("customer_id", pa.string()), ("score", pa.int64())])

    def batches():
        yield pa.record_batch([pa.array(["X"] * 1000), pa.array(range(1000))], schema=schema)
        raise RuntimeError("the run failed mid-load")

    stream = pa.RecordBatchReader.from_batches(schema, batches())
    target = _postgres.parse(pg_server.url() + "?table=marketing.kept")
    with pytest.raises(EngineError, match=r"table marketing.kept: cannot write \(.*\); nothing was changed"):
        _postgres.write(target, stream, if_exists="replace", schema=schema)
    assert query(pg_server, "SELECT * FROM marketing.kept ORDER BY 1").rows() == [("A", 1), ("B", 2)]
    left = query(pg_server, "SELECT tablename FROM pg_tables WHERE schemaname = 'marketing' AND tablename LIKE 'kept%'")
    assert left["tablename"].to_list() == ["kept"]  # no staging table left behind


@pytest.mark.parametrize("case", ["unreachable", "wrong password", "missing table", "missing column",
                                  "query syntax", "no permission to write"])
def test_one_error_line_each_password_redacted(pg_server, generated, tmp_path, capsys, case):
    url, out = pg_server.url(), str(tmp_path / "s.csv")
    port = pg_server.port
    args = {
        "unreachable": ["score", f"postgresql://analyst:{ENC}@127.0.0.1:1/shop", "--table", "public.orders",
                        "-o", out],
        "wrong password": ["score", pg_server.url(password="nope" + PASSWORD), "--table", "public.orders", "-o", out],
        "missing table": ["score", url, "--table", "public.absent", "-o", out],
        "missing column": ["score", url, "--query", "SELECT customer_id, order_id, order_date FROM orders", "-o", out],
        "query syntax": ["score", url, "--query", "SELEC * FROM orders", "-o", out],
        "no permission to write": ["score", str(generated), "-o", pg_server.url("viewer") + "?table=marketing.nope"],
    }[case]
    expected = {
        "unreachable": "error: postgresql://analyst@127.0.0.1:1/shop table public.orders: cannot connect "
                       '(Failed to connect: connection to server at "127.0.0.1", port 1 failed: Connection refused); '
                       "check host and port, and that the server is running",
        "wrong password": f"error: postgresql://analyst@127.0.0.1:{port}/shop table public.orders: authentication "
                          "failed; check the user and password (in the URL, PGPASSWORD or ~/.pgpass)",
        "missing table": f"error: postgresql://analyst@127.0.0.1:{port}/shop table public.absent: no such table "
                         '(relation "public.absent" does not exist); check --table (schema.name)',
        "missing column": f'error: postgresql://analyst@127.0.0.1:{port}/shop query: required column "amount" not '
                          "found (columns: customer_id, order_id, order_date); map it in the config: "
                          "input.columns.amount: <column name>",
        "query syntax": f"error: postgresql://analyst@127.0.0.1:{port}/shop: the query does not run (syntax error "
                        'at or near "FROM"); check --query',
        "no permission to write": f"error: postgresql://viewer@127.0.0.1:{port}/shop table marketing.nope: cannot "
                                  "write (permission denied for schema marketing; ask for CREATE on the schema); "
                                  "nothing was changed",
    }[case]
    code = main(args)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert code != 0 and errors == [expected]
    assert PASSWORD not in captured.err + captured.out and ENC not in captured.err + captured.out
    assert not Path(out).exists()


def test_no_password_in_any_output(pg_server, generated, tmp_path, capsys):
    url = pg_server.url()
    assert main(["score", url, "--table", "public.orders", "--churn", "bgnbd", "--as-of", "2024-06-30",
                 "-o", str(tmp_path / "scores.csv"), "--save-scoring", str(tmp_path / "scoring.json")]) == 0
    assert main(["report", "churn", url, "--table", "public.orders", "--as-of", "2024-06-30",
                 "-o", str(tmp_path / "churn.html")]) == 0
    printed = capsys.readouterr()
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert {"scores.csv", "scores.churn.json", "scoring.json", "churn.html"} <= set(written)
    assert f"postgresql://analyst@127.0.0.1:{pg_server.port}/shop table public.orders" in printed.err
    for name, data in written.items():
        assert PASSWORD.encode() not in data and ENC.encode() not in data, name
    assert PASSWORD not in printed.out + printed.err and ENC not in printed.out + printed.err


@pytest.mark.parametrize("how", ["PGPASSWORD", "pgpass file"])
def test_credentials_from_the_environment(pg_server, generated, tmp_path, monkeypatch, capsys, how):
    if how == "PGPASSWORD":
        monkeypatch.setenv("PGPASSWORD", PASSWORD)
    else:
        pgpass = tmp_path / "pgpass"
        escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")  # pgpass escapes : and \\
        pgpass.write_text(f"127.0.0.1:{pg_server.port}:shop:analyst:{escaped}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
    url = f"postgresql://analyst@127.0.0.1:{pg_server.port}/shop"  # no password in the URL
    out = tmp_path / "s.parquet"
    assert main(["score", url, "--table", "public.orders", "--as-of", "2024-06-30", "-q", "-o", str(out)]) == 0, (
        capsys.readouterr().err
    )
    assert_same(scores(generated, as_of="2024-06-30"), pl.read_parquet(out), label=how)


def test_offers_backtest_report_and_leads_from_postgres(pg_server, generated, tmp_path, capsys):
    """Every command that reads orders takes a table or a query; leads and events come from tables too."""
    from rfm.leads import score_leads

    url = pg_server.url()
    catalogue = Path(__file__).parents[2] / "rfm" / "presets" / "offers_demo.yaml"
    out = url + "?table=marketing.offers"
    pg_server.psql("DROP TABLE IF EXISTS marketing.offers")
    assert main(["offers", url, "--table", "public.orders", "--offers", str(catalogue), "--as-of", "2024-06-30",
                 "-q", "-o", out]) == 0, capsys.readouterr().err
    assert main(["offers", str(generated), "--offers", str(catalogue), "--as-of", "2024-06-30", "-q",
                 "-o", str(tmp_path / "offers.parquet")]) == 0
    back = query(pg_server, "SELECT * FROM marketing.offers ORDER BY customer_id, rank NULLS LAST")
    assert back.height > 500
    assert_same(pl.read_parquet(tmp_path / "offers.parquet"), back, label="offers written back")

    assert main(["backtest", url, "--query", "SELECT * FROM orders WHERE amount IS NOT NULL",
                 "--calibration-end", "2024-03-31", "--horizon", "90d"]) == 0
    from_db = capsys.readouterr().out
    assert main(["backtest", str(generated), "--calibration-end", "2024-03-31", "--horizon", "90d"]) == 0
    from_file = capsys.readouterr().out
    assert from_file.splitlines()[1:] == from_db.splitlines()[1:] and "holdout" in from_file.lower()

    leads_dir = DATA / "leads"
    load(pg_server, pl.read_csv(leads_dir / "leads.csv"), "public.leads")
    load(pg_server, pl.read_csv(leads_dir / "events.csv"), "public.events")
    with pytest.warns(Warning):
        local = score_leads(leads_dir / "leads.csv", leads_dir / "events.csv", leads_dir / "grid.yaml",
                            as_of="2024-06-30").table
    with pytest.warns(Warning):
        remote = score_leads(url + "?table=public.leads", url + "?table=public.events", leads_dir / "grid.yaml",
                             as_of="2024-06-30").table
    assert local.height > 10
    assert_same(local, remote, label="leads from postgres")


def test_without_the_extra_one_line_names_it(tmp_path, capsys, monkeypatch):
    from rfm.engine import _postgres

    monkeypatch.setattr(_postgres, "available", lambda: False)
    code = main(["score", f"postgresql://analyst:{ENC}@127.0.0.1:5432/shop", "--table", "public.orders",
                 "-o", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3
    assert err == ["error: postgresql://analyst@127.0.0.1:5432/shop: reading and writing PostgreSQL needs the "
                   "postgres extra: pip install 'rfm[postgres]'"]


def test_campaign_lists_to_a_table(pg_server, generated, tmp_path, capsys):
    table = pg_server.url() + "?table=marketing.campaign_lists"
    pg_server.psql("DROP TABLE IF EXISTS marketing.campaign_lists")
    args = ["report", "campaign", str(generated), "--as-of", "2024-06-30", "-o", str(tmp_path / "campaign.html")]
    assert main([*args, "--lists-table", table]) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert f"postgresql://analyst@127.0.0.1:{pg_server.port}/shop table marketing.campaign_lists" in err
    back = query(pg_server, "SELECT * FROM marketing.campaign_lists")
    csvs = pl.concat([pl.read_csv(p, infer_schema=False) for p in sorted(tmp_path.glob("campaign.*.csv"))])
    assert back.height == csvs.height == scores(generated, as_of="2024-06-30").height
    assert set(back["as_of"]) == {date(2024, 6, 30)}
    assert sorted(back["customer_id"].cast(pl.String).to_list()) == sorted(csvs["customer_id"].to_list())
    assert main([*args, "--lists-table", table]) == 2  # exists: refused before any work
    assert "the table exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://analyst@127.0.0.1:1/shop?password={enc}",  # the key=value form
        "postgres://analyst:{enc}@127.0.0.1:1/shop",  # the short scheme
        "postgresql://analyst:p%zz{enc}@127.0.0.1:1/shop",  # libpq echoes a malformed password alone
    ],
)
def test_password_forms_never_printed(url, tmp_path, capsys):
    url = url.format(enc=ENC)
    assert main(["score", url, "--table", "public.orders", "-o", str(tmp_path / "s.csv")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: postgres")
    for secret in (PASSWORD, ENC, "p%zz"):
        assert secret not in err


def test_argparse_does_not_echo_a_password(capsys):
    with pytest.raises(SystemExit):  # the report kind forgotten: argparse names the bad choice
        main(["report", f"postgresql://analyst:{ENC}@db/shop", "--table", "t", "-o", "r.html"])
    err = capsys.readouterr().err
    assert "invalid choice" in err and ENC not in err and PASSWORD not in err


def test_replace_keeps_grants_and_views_and_snapshots_replace_their_date(pg_server, generated, capsys):
    out = pg_server.url() + "?table=marketing.kept_scores"
    pg_server.psql("DROP TABLE IF EXISTS marketing.kept_scores CASCADE")
    common = [str(generated), "-q", "-o", out]
    assert main(["score", *common, "--as-of", "2024-03-31"]) == 0
    pg_server.psql("CREATE VIEW marketing.champions AS SELECT customer_id FROM marketing.kept_scores "
                   "WHERE segment = 'Champions'; GRANT SELECT ON marketing.kept_scores, marketing.champions TO viewer")
    assert main(["score", *common, "--as-of", "2024-06-30", "--if-exists", "replace"]) == 0, capsys.readouterr().err
    # the view on it and the reader's grant survive the replace; the rows are the new date's
    assert query(pg_server, "SELECT DISTINCT as_of FROM marketing.kept_scores", user="viewer").rows() == [
        (date(2024, 6, 30),)]
    champions = scores(generated, as_of="2024-06-30").filter(pl.col("segment") == "Champions").height
    assert query(pg_server, "SELECT count(*) AS n FROM marketing.champions", user="viewer").item() == champions > 0
    # append-snapshot: a date written again replaces that date's rows, another date adds its own
    for day in ("2024-06-30", "2024-05-31"):
        assert main(["score", *common, "--as-of", day, "--if-exists", "append-snapshot"]) == 0
    counts = query(pg_server, "SELECT as_of, count(*) AS n FROM marketing.kept_scores GROUP BY 1 ORDER BY 1")
    assert counts.rows() == [(date(2024, 5, 31), scores(generated, as_of="2024-05-31").height),
                             (date(2024, 6, 30), scores(generated, as_of="2024-06-30").height)]


def test_append_snapshot_refuses_rows_without_as_of(pg_server, generated, capsys):
    catalogue = Path(__file__).parents[2] / "rfm" / "presets" / "offers_demo.yaml"
    out = pg_server.url() + "?table=marketing.offer_history"
    pg_server.psql("DROP TABLE IF EXISTS marketing.offer_history")
    args = ["offers", str(generated), "--offers", str(catalogue), "-q", "-o", out, "--if-exists", "append-snapshot"]
    assert main(args) == 0  # a new table: created
    assert main(args) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: postgresql://analyst@127.0.0.1:{pg_server.port}/shop table marketing.offer_history: these rows "
        "have no as_of column to tell snapshots apart; use --if-exists replace"
    )


def test_whole_numeric_ids_stay_whole(pg_server):
    pg_server.psql(
        "DROP TABLE IF EXISTS public.numeric_ids; CREATE TABLE public.numeric_ids (customer_id numeric(12, 0), "
        "order_id bigint, order_date date, amount numeric(10, 2)); ALTER TABLE public.numeric_ids OWNER TO analyst;"
        "INSERT INTO public.numeric_ids VALUES (12345, 1, '2024-01-05', 10.10), (12345, 2, '2024-02-05', 5.05)"
    )
    got = scores(pg_server.url(), table="public.numeric_ids", as_of="2024-03-01")
    assert got.select("customer_id", "frequency", "monetary").rows() == [(12345, 2, 15.15)]
    assert got.schema["customer_id"] == pl.Int64
