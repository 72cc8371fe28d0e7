"""rfm run: the whole job from one read of the orders, every file landing together (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from rfm.cli import main
from rfm.pipeline import Orders

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORDERS = ROOT / "rfm" / "data" / "demo_orders.csv"
OFFERS = ROOT / "rfm" / "presets" / "offers_demo.yaml"
FILES = ["campaign.html", "campaign.nurture.csv", "campaign.reactivate.csv", "campaign.retain.csv",
         "campaign.upsell.csv", "churn.html", "offers.csv", "rfm-run.json", "scores.churn.json", "scores.parquet",
         "scoring.json", "segments.csv", "segments.html"]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("job") / "weekly"
    code = main(["run", str(DEMO_ORDERS), "--out", str(out), "--offers", str(OFFERS), "-q"])
    return code, out


def test_run_writes_every_output_from_one_scoring(job):
    code, out = job
    assert code == 0 and sorted(p.name for p in out.iterdir()) == FILES
    scores = pl.read_parquet(out / "scores.parquet")
    # the same table rfm score gives with churn auto and the same catalogue
    with Orders(DEMO_ORDERS) as orders:
        alone = orders.score(churn="auto", offers=str(OFFERS)).table
    assert scores.equals(alone)
    model = json.loads((out / "scores.churn.json").read_text())
    assert model["method"] == "bgnbd" and set(scores["churn_method"]) == {"bgnbd"}
    # the campaign lists hold the customers of each action, as the scores say
    reactivate = pl.read_csv(out / "campaign.reactivate.csv", infer_schema_length=0)
    assert reactivate.height == scores.filter(pl.col("action") == "reactivate").height
    page = (out / "churn.html").read_text()
    assert "Churn: the config sets churn.method none, so this run scored with churn.method auto" in page
    # the churn report's backtest: the method that scored beside the baseline only
    assert '"series":"bgnbd"' in page.replace(" ", "") and '"series":"recency_ratio"' in page.replace(" ", "")
    assert '"series":"pnbd"' not in page.replace(" ", "")


def test_a_failed_run_writes_nothing(tmp_path, capsys):
    out = tmp_path / "weekly"
    bad = tmp_path / "orders.csv"
    bad.write_text("customer_id,order_id,order_date,amount\nA,1,2024-01-01,ten\n")
    assert main(["run", str(bad), "--out", str(out), "-q"]) != 0
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not out.exists()  # nothing landed, and the folder it made is gone again
    (tmp_path / "file").write_text("x")
    assert main(["run", str(DEMO_ORDERS), "--out", str(tmp_path / "file"), "-q"]) == 2
    assert "error: --out " in capsys.readouterr().err and (tmp_path / "file").read_text() == "x"


def test_backtest_methods_are_chosen(capsys, cdnow_path):
    from tests.conftest import CDNOW_CONFIG

    args = ["backtest", str(cdnow_path), "-c", str(CDNOW_CONFIG), "--calibration-end", "1997-12-31",
            "--horizon", "90d"]
    assert main([*args, "--methods", "pnbd,recency_ratio"]) == 0
    printed = capsys.readouterr().out
    rows = [line.split()[0] for line in printed.splitlines()[3:5]]
    assert rows == ["pnbd", "recency_ratio"] and "propensity" not in printed
    assert main([*args, "--methods", "pnbd,bogus"]) == 2
    assert "error: --methods: bogus; choose from bgnbd, pnbd, recency_ratio, propensity" in capsys.readouterr().err


def test_a_second_run_replaces_the_first_and_leaves_nothing_of_it(tmp_path):
    """A folder never mixes two runs: files of the first run that the second does not write go."""
    from rfm.reporting import run_job

    out = tmp_path / "w.48"  # a dot in the name: still a folder
    first = run_job(DEMO_ORDERS, out, offers=OFFERS, csv=True)
    assert {"scores.csv", "offers.csv"} <= {p.name for p in out.iterdir()}
    assert first.scores.table.height == 1955  # read after the job, its engine closed
    second = run_job(DEMO_ORDERS, out, as_of="2024-06-30")
    names = sorted(p.name for p in out.iterdir())
    assert "scores.csv" not in names and "offers.csv" not in names
    manifest = json.loads((out / "rfm-run.json").read_text())
    assert manifest["as_of"] == "2024-06-30" and sorted([*manifest["files"], "rfm-run.json"]) == names
    assert pl.read_parquet(out / "scores.parquet")["as_of"].unique().to_list() == [second.scores.as_of]
    assert main(["run", str(DEMO_ORDERS), "--out", str(out), "-q", "--no-backtest"]) == 0  # the CLI agrees


def test_run_refuses_what_it_cannot_do_well(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    pl.read_csv(DEMO_ORDERS).write_parquet(folder / "part-0.parquet")
    cases = [
        (["--out", str(folder)], f"error: --out {folder}: holds the input orders {folder}; the outputs would be "
                                 "read as orders by the next run; choose another folder"),
        (["--out", "postgresql://u:secret@h/db"], "error: --out postgresql://u:***@h/db: rfm run writes files into "
                                                  "a local folder"),
        (["--out", str(tmp_path / "w"), "--churn", "none"], "error: rfm run writes the campaign and churn reports, "
                                                            "which need churn scores: drop --churn none"),
    ]
    for extra, message in cases:
        assert main(["run", str(folder), "-q", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith(message) and "secret" not in err
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"] and not (tmp_path / "w").exists()
