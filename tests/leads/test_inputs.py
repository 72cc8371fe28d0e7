"""Bad lead/event input: one clear message naming the file, the column, an example value and the fix."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from rfm.errors import InputError
from rfm.leads import score_leads

GRID = {
    "event_types": {"page_view": "seen", "demo_request": "asked"},
    "fit": {"criteria": [{"name": "mid", "field": "company_size", "op": "range", "value": [50, 999], "points": 10}]},
    "engagement": {"rules": [{"name": "views", "event": "page_view", "points": 1},
                             {"name": "demo", "event": "demo_request", "count": "first", "points": 30}]},
}


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    leads = write(tmp_path / "leads.csv", "lead_id,company_size\nA,100\nB,20\nC,\n")
    events = write(tmp_path / "events.csv", "lead_id,event_type,timestamp\nA,page_view,2024-01-02\nB,demo_request,2024-01-03\n")
    return leads, events


def test_clean_files_score(files) -> None:
    table = score_leads(*files, GRID, as_of="2024-01-31").table
    assert table.select("lead_id", "fit_score", "engagement_score").rows() == [("A", 10.0, 1.0), ("B", 0.0, 30.0), ("C", 0.0, 0.0)]


def test_duplicate_lead_ids(tmp_path: Path, files) -> None:
    leads = write(tmp_path / "dups.csv", "lead_id,company_size\nA,1\nB,2\nA,3\nC,4\nC,5\n")
    with pytest.raises(InputError, match=r'^.*dups\.csv: column "lead_id" has 2 duplicated lead id\(s\) \(first: "A" on 2 rows\); '
                       r"each lead must appear once — merge or remove the duplicates$"):
        score_leads(leads, files[1], GRID)


def test_empty_lead_id(tmp_path: Path, files) -> None:
    leads = write(tmp_path / "noid.csv", "Lead ID,company_size\nA,1\n,2\n")
    with pytest.raises(InputError, match=r'noid\.csv: column "Lead ID" is empty on 1 row\(s\) \(first: line 3\); every lead '
                       r"needs an id — fill or drop those rows$"):
        score_leads(leads, files[1], GRID)


def test_unreadable_timestamp_names_the_value_and_the_fix(tmp_path: Path, files) -> None:
    events = write(tmp_path / "ev.csv", "lead_id,event_type,timestamp\nA,page_view,2024-01-02\nA,page_view,31/01/2024 10:00\n")
    with pytest.raises(InputError, match=r'ev\.csv: column "timestamp" has 1 value\(s\) that are not dates or timestamps '
                       r'\(first: "31/01/2024 10:00" on line 3\); write ISO 8601 such as 2024-01-31 or '
                       r'2024-01-31T09:30:00\+01:00; or set timestamps\.format in the grid \(e\.g\. "%d/%m/%Y %H:%M"\)$'):
        score_leads(files[0], events, GRID)
    grid = {**GRID, "timestamps": {"format": "%d/%m/%Y %H:%M"}}
    table = score_leads(files[0], events, grid, as_of="2024-01-31").table
    assert table["engagement_score"].to_list() == [2.0, 0.0, 0.0]


def test_empty_timestamp(tmp_path: Path, files) -> None:
    events = write(tmp_path / "ev.csv", "lead_id,event_type,occurred_at\nA,page_view,2024-01-02\nA,page_view,\n")
    with pytest.raises(InputError, match=r'ev\.csv: column "occurred_at" is empty on 1 row\(s\) \(first: line 3\); every event '
                       r"needs a timestamp — fill or drop those rows$"):
        score_leads(files[0], events, GRID)


def test_timestamp_of_the_wrong_type() -> None:
    leads = pl.DataFrame({"lead_id": ["A"], "company_size": [100]})
    events = pl.DataFrame({"lead_id": ["A"], "event_type": ["page_view"], "timestamp": [20240101]})
    with pytest.raises(InputError, match=r'events <polars\.DataFrame>: column "timestamp" has type Int64, expected dates '
                       r"or timestamps; export it as ISO text"):
        score_leads(leads, events, GRID)


def test_mixed_formats_and_zones_are_normalised_to_the_grid_zone() -> None:
    """Offsets are converted to the grid's zone, naive times are taken in it; the local date decides as_of."""
    leads = pl.DataFrame({"lead_id": ["A", "B", "C", "D", "E"], "company_size": [1, 1, 1, 1, 1]})
    events = pl.DataFrame({
        "lead_id": ["A", "B", "C", "D", "E"],
        "event_type": ["page_view"] * 5,
        "timestamp": [
            "2024-06-30 23:30",           # naive: Berlin time, 06-30
            "2024-06-30T22:00:00Z",       # = 07-01 00:00 in Berlin: after as_of
            "2024-06-30T23:59:00+02:00",  # = 06-30 23:59 in Berlin
            "2024-06-30",                 # a date
            "2024-07-01T01:00:00+05:00",  # = 06-30 22:00 in Berlin
        ],
    })
    grid = {**GRID, "timestamps": {"timezone": "Europe/Berlin"}}
    table = score_leads(leads, events, grid, as_of="2024-06-30").table
    assert table["engagement_score"].to_list() == [1.0, 0.0, 1.0, 1.0, 1.0]
    # Native timestamps: aware ones are converted, naive ones are local.
    aware = pl.DataFrame({
        "lead_id": ["A", "B"], "event_type": ["page_view"] * 2,
        "timestamp": [datetime(2024, 6, 30, 21, 0, tzinfo=timezone.utc), datetime(2024, 6, 30, 22, 30, tzinfo=timezone.utc)],
    })
    assert score_leads(leads, aware, grid, as_of="2024-06-30").table["engagement_score"].to_list()[:2] == [1.0, 0.0]
    dates = pl.DataFrame({"lead_id": ["A"], "event_type": ["page_view"], "timestamp": [date(2024, 6, 30)]})
    assert score_leads(leads, dates, grid, as_of="2024-06-30").table["engagement_score"].to_list()[0] == 1.0


def test_range_on_text_that_is_not_a_number(tmp_path: Path, files) -> None:
    leads = write(tmp_path / "sizes.csv", "lead_id,employees\nA,100\nB,51-200\nC,\nD,10 000\n")
    with pytest.raises(InputError, match=r'sizes\.csv: column "employees" has 2 non-numeric value\(s\) \(first: "51-200" '
                       r"on line 3\) but range criteria \(mid\) need numbers; clean the column or use op in on its text$"):
        score_leads(leads, files[1], GRID)


def test_bad_created_date(tmp_path: Path, files) -> None:
    leads = write(tmp_path / "created.csv", "lead_id,company_size,created\nA,1,2024-01-01\nB,1,yesterday\n")
    with pytest.raises(InputError, match=r'created\.csv: column "created" has 1 value\(s\) that are not dates or '
                       r'timestamps \(first: "yesterday" on line 3\)'):
        score_leads(leads, files[1], GRID)


def test_missing_required_column(tmp_path: Path, files) -> None:
    events = write(tmp_path / "ev.csv", "lead_id,kind,timestamp\nA,page_view,2024-01-02\n")
    with pytest.raises(InputError, match=r'ev\.csv: no column for "event_type" \(looked for event_type, eventtype, event, '
                       r"type, activity, activity_type, \.\.\.; columns: lead_id, kind, timestamp\); set "
                       r"columns\.events\.event_type in the grid$"):
        score_leads(files[0], events, GRID)
    grid = {**GRID, "columns": {"events": {"event_type": "kind"}}}
    assert score_leads(files[0], events, grid, as_of="2024-01-31").table["engagement_score"].to_list() == [1.0, 0.0, 0.0]


def test_files_that_cannot_be_read(tmp_path: Path, files) -> None:
    with pytest.raises(InputError, match=r"^nope\.csv: file not found; check the path$"):
        score_leads("nope.csv", files[1], GRID)
    xlsx = write(tmp_path / "leads.xlsx", "x")
    with pytest.raises(InputError, match=r"leads\.xlsx: unknown file type for leads; use \.csv/\.tsv \(optionally \.gz\) "
                       r"or \.parquet$"):
        score_leads(xlsx, files[1], GRID)
    header_only = write(tmp_path / "empty.csv", "lead_id,company_size\n")
    with pytest.raises(InputError, match=r"empty\.csv: no leads \(the input has a header but no rows\); export the leads again"):
        score_leads(header_only, files[1], GRID)
    bad_parquet = write(tmp_path / "events.parquet", "not parquet")
    with pytest.raises(InputError, match=r"events\.parquet: cannot read events \(.*\); check the file is a valid CSV/Parquet"):
        score_leads(files[0], bad_parquet, GRID)
    with pytest.raises(InputError, match=r"leads <builtins\.list>: cannot read this object as leads; pass a polars/pandas "
                       r"DataFrame, a pyarrow Table, or a \.csv/\.parquet path"):
        score_leads([1, 2], files[1], GRID)


def test_frames_arrow_tables_and_mixed_id_types() -> None:
    leads = pa.table({"lead_id": [1, 2], "company_size": [100, 5]})
    events = pl.DataFrame({"lead_id": ["1", "2", "2"], "event_type": ["page_view", "page_view", "Demo_Request "],
                           "timestamp": ["2024-01-01", "2024-01-01", "2024-01-02"]})
    table = score_leads(leads, events, GRID, as_of="2024-01-31").table
    # Integer ids in the leads and text ids in the events are compared as text; types ignore case and spaces.
    assert table.select("lead_id", "fit_score", "engagement_score").rows() == [("1", 10.0, 1.0), ("2", 0.0, 31.0)]


def test_no_events_and_no_as_of() -> None:
    leads = pl.DataFrame({"lead_id": ["A"], "company_size": [100]})
    events = pl.DataFrame(schema={"lead_id": pl.String, "event_type": pl.String, "timestamp": pl.String})
    with pytest.raises(InputError, match=r"events <polars\.DataFrame>: no events, so there is no default as_of; pass "
                       r"--as-of YYYY-MM-DD$"):
        score_leads(leads, events, GRID)
    assert score_leads(leads, events, GRID, as_of="2024-01-01").table["fit_score"].to_list() == [10.0]
