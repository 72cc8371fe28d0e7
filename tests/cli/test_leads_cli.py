"""`rfm leads ...` and `rfm contacts` through rfm.cli.main: exit codes, messages, files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rfm.cli
from rfm.leads import load_grid, score_leads
from tests.conftest import DATA as DATA_ROOT

DATA = DATA_ROOT / "leads"
LEADS, EVENTS, GRID = str(DATA / "leads.csv"), str(DATA / "events.csv"), str(DATA / "grid.yaml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = rfm.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_score_writes_the_table_and_reports(tmp_path: Path, capsys) -> None:
    out = tmp_path / "scores.csv"
    code, stdout, err = run(capsys, "leads", "score", LEADS, EVENTS, "--grid", GRID, "--as-of", "2024-06-30", "-o", str(out))
    assert code == 0 and stdout == ""
    # Summary lines first; warnings are printed by rfm.cli.main when the command ends.
    assert err.splitlines()[1:] == [
        f"wrote 19 leads as of 2024-06-30 to {out} (hot 4, warm 2, cold 13)",
        f'warning: {EVENTS}: 1 event(s) have event types the grid does not know: "Page View" (1; did you mean '
        f'"page_view"?); they are ignored — add them to event_types in {GRID} or fix the names',
        f'warning: {EVENTS}: 2 event(s) of 1 lead id(s) not in {LEADS} (first: "L99"); they are ignored — check that '
        "both files come from the same export",
    ]
    assert err.splitlines()[0].startswith(
        f"{LEADS}: scored 19 of 20 leads (1 created after as_of) from 85 events; ignored events: 3 after as_of, "
        "1 of unknown types, 2 of unknown leads ("
    )
    written = pl.read_csv(out, try_parse_dates=True, schema_overrides={"engagement_level": pl.Int32})
    expected = score_leads(LEADS, EVENTS, GRID, as_of="2024-06-30").table
    assert_frame_equal(written, expected)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["leads", "score", LEADS, EVENTS, "--grid", str(DATA / "bad_grids" / "thresholds_not_increasing.yaml"),
          "-o", "x.parquet"], 3,
         "grades.fit: thresholds must be strictly increasing, but 25 follows 40 in [10.0, 40.0, 25.0]"),
        (["leads", "score", LEADS, EVENTS, "-o", "scores.xlsx"], 2, "scores.xlsx: cannot write .xlsx; use .parquet or .csv"),
        (["leads", "score", LEADS, EVENTS, "--as-of", "30/06/2024", "-o", "x.csv"], 2,
         'as_of: "30/06/2024" is not a date; write it as YYYY-MM-DD, e.g. 2024-01-31'),
        (["leads", "calibrate", LEADS, EVENTS, "missing.csv"], 2, "missing.csv: file not found; check the path"),
        (["leads", "check", str(DATA / "bad_grids" / "unknown_key.yaml")], 3, 'unknown key "fitt" in the top level'),
        (["contacts", "a.parquet", "b.parquet", "--match", ",", "-o", "c.csv"], 2,
         "--match: give one or more of customer_id, email, domain separated by commas"),
    ],
)
def test_errors_are_one_line_and_an_exit_code(tmp_path: Path, monkeypatch, capsys, argv, code, message) -> None:
    monkeypatch.chdir(tmp_path)
    got, stdout, err = run(capsys, *argv)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert (got, len(errors)) == (code, 1)
    assert message in errors[0]
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_duplicate_ids_exit_2(tmp_path: Path, capsys) -> None:
    leads = tmp_path / "leads.csv"
    text = Path(LEADS).read_text()
    leads.write_text(text + text.splitlines()[3] + "\n")  # L03 again
    code, _, err = run(capsys, "leads", "score", str(leads), EVENTS, "-g", GRID, "-o", str(tmp_path / "s.csv"))
    assert code == 2
    assert err.splitlines()[-1] == (
        f'error: {leads}: column "lead_id" has 1 duplicated lead id(s) (first: "L03" on 2 rows); each lead must appear '
        "once — merge or remove the duplicates"
    )


def test_history(tmp_path: Path, capsys) -> None:
    out = tmp_path / "history.parquet"
    code, _, err = run(capsys, "leads", "history", LEADS, EVENTS, "-g", GRID, "--start", "2024-06-16", "--end",
                       "2024-06-30", "-o", str(out))
    assert code == 0
    assert f"wrote 53 rows (3 dates from 2024-06-16 to 2024-06-30, every 7 days) to {out}" in err
    assert pl.read_parquet(out).group_by("as_of").len().sort("as_of")["len"].to_list() == [17, 17, 19]


def test_generate_then_calibrate_and_write_the_suggested_grid(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "leads", "generate", "--leads", "3000", "--seed", "2", "-o", str(tmp_path / "gen"))
    assert code == 0 and "wrote 3,000 leads" in err
    suggested = tmp_path / "suggested.yaml"
    g = tmp_path / "gen"
    code, out, err = run(capsys, "leads", "calibrate", str(g / "leads.parquet"), str(g / "events.parquet"),
                         str(g / "outcomes.parquet"), "--write-grid", str(suggested))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Calibration as of 2024-06-30: 3,000 leads, ")
    assert "Rules (lift = conversion rate of the leads a rule applies to / base rate):" in lines
    assert [line.split()[0] for line in lines if line.startswith(("hot ", "warm ", "cold "))] == ["hot", "warm", "cold"]
    assert any(line.startswith("total ") for line in lines)
    assert f"wrote the suggested grid to {suggested}" in err
    assert load_grid(suggested).grades == load_grid(None).grades
    code, out, _ = run(capsys, "leads", "calibrate", str(g / "leads.parquet"), str(g / "events.parquet"),
                       str(g / "outcomes.parquet"), "--format", "csv")
    assert code == 0 and out.splitlines()[0] == "rule,kind,points,leads,conversions,conversion_rate,lift,z,flag,suggested_points"


def test_check_prints_the_grid(capsys) -> None:
    code, out, _ = run(capsys, "leads", "check", GRID)
    assert code == 0
    assert out.splitlines() == [
        f"{GRID}: valid; 7 fit criteria, 7 engagement rules, 7 event types",
        "  fit grades:        D < 10 <= C < 20 <= B < 30 <= A",
        "  engagement levels: 4 < 5 <= 3 < 15 <= 2 < 30 <= 1",
        "  tiers:             hot A1, A2, B1; warm A3, B2, C1, C2; other cells cold",
    ]


def test_contacts(tmp_path: Path, capsys) -> None:
    scores = tmp_path / "leads.parquet"
    assert run(capsys, "leads", "score", LEADS, EVENTS, "-g", GRID, "--as-of", "2024-06-30", "-o", str(scores))[0] == 0
    out, amb = tmp_path / "contacts.parquet", tmp_path / "ambiguous.parquet"
    code, _, err = run(capsys, "contacts", str(scores), str(DATA / "customer_scores.csv"), "--customers",
                       str(DATA / "customers.csv"), "--grid", GRID, "-o", str(out), "--ambiguous-out", str(amb))
    assert code == 0
    assert "matched leads by method: customer_id 2, email 1, domain 1, ambiguous 2, none 13" in err
    assert f"wrote 19 contacts to {out}" in err
    assert pl.read_parquet(out).filter(pl.col("lead_id") == "L04")["routing"].to_list() == ["reactivate:At Risk"]
    assert pl.read_parquet(amb)["lead_id"].to_list() == ["L08", "L09"]


@pytest.mark.parametrize("command", [["leads"], ["leads", "score"], ["leads", "history"], ["leads", "calibrate"],
                                     ["leads", "check"], ["leads", "generate"], ["contacts"]])
def test_every_command_has_help(capsys, command) -> None:
    with pytest.raises(SystemExit) as exc:
        rfm.cli.main([*command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith("usage: rfm ") and len(out.splitlines()) > 3
