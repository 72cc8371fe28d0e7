"""The command line: help, demo, generate, score/segments output."""

from __future__ import annotations

import re

import polars as pl
import pytest

from rfm.cli import build_parser, main
from tests.conftest import ROOT


def commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: rfm {command}")


def test_docs_document_every_command():
    page = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))  # commands.md, leads.md
    for command in commands():
        assert re.search(rf"^## `rfm {command}\b", page, re.M), f"docs/ has no section for rfm {command}"


def test_score_writes_csv_and_saved_scoring(tmp_path, golden_csv, capsys):
    out = tmp_path / "scores.csv"
    saved = tmp_path / "scoring.json"
    code = main(["score", str(golden_csv), "--as-of", "2024-06-30", "--out", str(out), "--save-scoring", str(saved)])
    assert code == 0
    table = pl.read_csv(out)
    assert table.height == 12
    assert table.filter(pl.col("customer_id") == "C13")["segment"].item() == "Can't Lose Them"
    err = capsys.readouterr().err
    assert "read 28 lines, scored 12 customers (duplicate lines not checked); dropped 1 with no customer id, 1 with an excluded status, " \
           "1 after as_of" in err
    assert "warning: " in err
    # Re-applying the saved cut points to the same snapshot gives the same scores.
    again = tmp_path / "again.csv"
    assert main(["score", str(golden_csv), "--as-of", "2024-06-30", "--scoring", str(saved), "-o", str(again), "-q"]) == 0
    assert pl.read_csv(again).equals(table)


def test_segments_table(golden_csv, capsys):
    assert main(["segments", str(golden_csv), "--as-of", "2024-06-30", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Segments as of 2024-06-30 (12 customers, rule set default)"
    assert out[1].split() == ["Segment", "Customers", "Share", "Revenue", "Rev.", "share", "Med.", "recency", "(d)",
                              "Med.", "orders", "Med.", "monetary", "Action"]
    champions = next(line for line in out if line.startswith("Champions"))
    assert champions.split() == ["Champions", "2", "16.7%", "300.00", "18.5%", "2", "2.5", "150.00", "retain"]


def test_segments_csv(golden_csv, capsys):
    assert main(["segments", str(golden_csv), "--as-of", "2024-06-30", "--format", "csv", "-q"]) == 0
    frame = pl.read_csv(capsys.readouterr().out.encode())
    assert frame["customers"].sum() == 12
    assert frame.columns[:3] == ["segment", "action", "customers"]


def test_check_reports_grid(tmp_path, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("segments:\n  rules:\n    - {name: Top, action: retain, r: 5, f: 5}\n    - {name: Also top, action: retain, r: 5, f: 5, m: 5}\n")
    assert main(["check", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:] == [
        "  Top                      retain         5 cells",
        "  Other                    nurture      120 cells",
    ]
    assert "unreachable segment rule(s) 'Also top'" in captured.err


def test_generate_then_score(tmp_path, capsys):
    path = tmp_path / "gen.parquet"
    assert main(["generate", "--customers", "300", "--orders", "900", "--seed", "3", "--out", str(path)]) == 0
    lines = pl.read_parquet(path)
    assert lines["customer_id"].n_unique() == 300
    out = tmp_path / "scores.parquet"
    assert main(["score", str(path), "--out", str(out), "-q"]) == 0
    scores = pl.read_parquet(out)
    # Every customer with a purchase that was not cancelled is scored, no one else.
    buyers = lines.filter((pl.col("status") != "cancelled") & (pl.col("amount") >= 0))["customer_id"].unique()
    assert 280 < buyers.len() < 300  # a few customers' only order was cancelled
    assert sorted(scores["customer_id"]) == sorted(buyers)
    assert scores["segment"].null_count() == 0


def test_demo_writes_results(demo_run):
    demo, out = demo_run
    assert "scored 1,955 customers" in out
    scores = pl.read_parquet(demo / "scores.parquet")
    assert scores.height == 1955
    # no About to Sleep: the demo's R = 2 customers last bought over a year ago, so the default
    # preset's absolute bound sends them to Lost (one order) or Hibernating (two)
    assert set(scores["segment"]) == {
        "Champions", "Loyal", "New", "Potential Loyalist", "Promising", "Need Attention", "Can't Lose Them",
        "At Risk", "Hibernating", "Lost",
    }
    assert scores.filter(pl.col("r_score") == 2)["recency_days"].min() > 365
    assert pl.read_csv(demo / "segments.csv")["customers"].sum() == 1955
    # The demo config turns on churn (auto) and the demo offer catalogue.
    assert "churn: BG/NBD r=" in out
    assert scores["churn_risk"].is_between(0, 100).all() and scores["next_best_offer"].null_count() == 0
    assert (demo / "scores.churn.json").exists()
    offers = pl.read_csv(demo / "offers.csv")
    assert offers["customer_id"].n_unique() == 1955


def test_offers_command_and_score_with_catalogue(tmp_path, capsys):
    from rfm.cli._demo import DEMO_CONFIG, DEMO_ORDERS
    from rfm.offers import PRESET

    out = tmp_path / "offers.csv"
    assert main(["offers", str(DEMO_ORDERS), "-c", str(DEMO_CONFIG), "--offers", str(PRESET), "--top-k", "2",
                 "--out", str(out), "-q"]) == 0
    fits = pl.read_csv(out)
    assert fits.group_by("customer_id").len()["len"].max() == 2
    assert set(fits["rank"].drop_nulls()) == {1, 2}
    scores = tmp_path / "scores.parquet"
    assert main(["score", str(DEMO_ORDERS), "-c", str(DEMO_CONFIG), "--offers", str(PRESET), "--out", str(scores),
                 "-q"]) == 0
    table = pl.read_parquet(scores)
    best = fits.filter(pl.col("rank") == 1).select("customer_id", "offer_id")
    joined = table.join(best, on="customer_id")
    # The score table's next best offer is the offers table's rank 1, customer for customer.
    assert (joined["next_best_offer"] == joined["offer_id"]).all()
    assert table.height == 1955 and table["offer_reason"].null_count() == 0


def test_offers_command_needs_a_catalogue(tmp_path, golden_csv, capsys):
    assert main(["offers", str(golden_csv), "--out", str(tmp_path / "o.csv")]) == 2
    assert "rfm offers: no offer catalogue; pass --offers offers.yaml" in capsys.readouterr().err


def config_keys(model: type, prefix: str = "") -> list[str]:
    """Every key of the config schema, dotted (input.csv.delimiter), from the pydantic models."""
    from pydantic import BaseModel

    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            keys += config_keys(kind, f"{prefix}{name}.")
    return keys


def test_docs_document_every_config_key():
    """The Configuration page's block names every key of the schema under its parent."""
    from rfm.customers import Config

    page = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(r"^# Configuration\n.*?```yaml\n(.*?)```", page, re.M | re.S).group(1)
    keys = config_keys(Config)
    assert {"report.currency", "report.locale", "churn.propensity.calibration", "input.csv.encoding"} <= set(keys)
    for key in keys:
        *parents, leaf = key.split(".")
        start = 0
        for parent in parents:  # each parent's section, then the leaf inside it
            found = re.search(rf"(^|[\s{{]){re.escape(parent)}:", block[start:], re.M)
            assert found, f"docs/configuration.md: no {'.'.join(parents)} section for {key}"
            start += found.end()
        assert re.search(rf"(^|[\s{{]){re.escape(leaf)}:", block[start:], re.M), f"docs/configuration.md: no {key}"
