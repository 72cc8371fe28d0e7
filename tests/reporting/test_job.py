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
         "campaign.upsell.csv", "churn.html", "offers.csv", "scores.churn.json", "scores.parquet", "scoring.json",
         "segments.csv", "segments.html"]


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
    assert "Churn: the config sets no churn model, so this run scored with churn.method auto" in page
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
    assert list(out.iterdir()) == []  # the folder is made before the scan; no file lands in it
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
