"""The lead-scoring grid schema: one bad YAML file per rule, the shipped example, YAML round trip."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.leads import EXAMPLE_GRID, LeadGrid, load_grid, score_leads
from tests.conftest import DATA as DATA_ROOT

DATA = DATA_ROOT / "leads"
BAD = DATA / "bad_grids"

CASES = {
    "unknown_key": r'unknown key "fitt" in the top level; did you mean "fit"\?',
    "thresholds_not_increasing": r"grades\.fit: thresholds must be strictly increasing, but 25 follows 40 in "
    r"\[10\.0, 40\.0, 25\.0\]$",
    "engagement_thresholds_count": r"grades\.engagement: give exactly 3 thresholds \(for 4 classes\), got 2",
    "unknown_event_type": r'engagement rule "demo": unknown event type "demo_requst"; did you mean "demo_request"\? '
    r"\(event_types lists: demo_request, page_view\); add it to event_types or fix the name$",
    "bad_regex": r'fit\.criteria\.0: invalid regex "\(vp\|director": regex error: .*unclosed group',
    "in_without_list": r'fit\.criteria\.0: criterion "target": op in needs a non-empty list of values',
    "empty_range": r'fit\.criteria\.0: criterion "mid": range \[1000, 50\] is empty \(low > high\)',
    "unknown_operator": r"fit\.criteria\.0\.op: Input should be 'equals', 'in', 'contains', 'regex', 'range' or "
    r"'missing' \(got 'between'\)",
    "unknown_group": r'fit criterion "mid" names group "firmographic"; did you mean "firmographics"\?; declare it '
    r"under fit\.groups$",
    "duplicate_name": r'rule name "pricing" is used twice; names label explanations, make them unique$',
    "absent_without_window": r'engagement\.rules\.0: rule "no_open": absent: true needs window_days',
    "unknown_cell": r'tiers: unknown cell "A5" in hot \(cells are A1 \.\.\. D4\)',
    "cell_in_two_tiers": r'tiers: cell "A2" is in both tiers\.hot and tiers\.warm; give it one tier',
    "half_life_and_window": r"engagement\.groups\.web: give half_life_days or window_days for a group, not both",
    "bad_timezone": r'timestamps\.timezone: unknown time zone "Europe/Berlim"; use an IANA name',
    "stage_without_previous": r"stages\.sales_qualified requires the previous stage but stages\.marketing_qualified "
    r"is not defined; define marketing_qualified or set requires_previous: false$",
    "floor_above_cap": r"fit: floor 20 is above cap 10; the floor must be the lower bound",
    "count_zero": r"engagement\.rules\.0\.count: count must be first, each, or a whole number N >= 1",
    "invalid_syntax": r"invalid YAML: expected ',' or '}', but got ':'; fix the syntax",
}


def test_every_bad_grid_file_has_a_case() -> None:
    assert sorted(p.stem for p in BAD.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_grid(name: str) -> None:
    path = BAD / f"{name}.yaml"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}" + r"(:\d+)?: " + CASES[name]):
        load_grid(path)


def test_missing_grid_file() -> None:
    with pytest.raises(ConfigError, match=r"^nope\.yaml: file not found; check the path$"):
        load_grid("nope.yaml")


def test_shipped_example_loads_and_every_rule_has_a_reason() -> None:
    grid = load_grid(None)
    assert grid.source == str(EXAMPLE_GRID)
    rules = [*grid.fit.criteria, *grid.engagement.rules]
    assert [r.name for r in rules if not r.reason.strip()] == []
    assert (len(grid.fit.criteria), len(grid.engagement.rules), len(grid.event_types)) == (13, 11, 10)


def test_yaml_round_trip_gives_an_equal_grid(tmp_path: Path) -> None:
    for source in (None, DATA / "grid.yaml"):
        grid = load_grid(source)
        out = tmp_path / "grid.yaml"
        grid.write(out)
        again = load_grid(out)
        assert again.model_dump() == grid.model_dump()
    with pytest.raises(InputError, match=r"grid\.txt: cannot write \.txt; use \.yaml"):
        grid.write(tmp_path / "grid.txt")


def test_grid_from_a_dict_and_the_defaults() -> None:
    grid = load_grid({"event_types": {" Page_View ": "seen"}})
    assert isinstance(grid, LeadGrid)
    # Event types are compared trimmed and ignoring case.
    assert list(grid.event_types) == ["page_view"]
    assert (grid.grades.fit, grid.grades.engagement, grid.tiers.hot) == ([10, 25, 40], [10, 30, 60], ["A1", "A2", "B1"])


def test_grid_field_missing_from_the_data_is_a_config_error(tmp_path: Path) -> None:
    grid = {"event_types": {"x": ""},
            "fit": {"criteria": [{"name": "role", "field": "titel", "op": "contains", "value": "vp", "points": 5}]}}
    leads = tmp_path / "leads.csv"
    leads.write_text("id,title\nA,VP\n")
    events = tmp_path / "events.csv"
    events.write_text("lead_id,event_type,timestamp\nA,x,2024-01-01\n")
    with pytest.raises(ConfigError, match=r'^grid: fit criterion "role" tests field "titel" but .*leads\.csv has no such '
                       r'column; did you mean "title"\? \(fields: lead_id, job_title\)$'):
        score_leads(leads, events, grid)
    # The input's own name of a mapped column works as a field, like the role name.
    grid["fit"]["criteria"][0]["field"] = "title"
    by_raw = score_leads(leads, events, grid).table["fit_score"].to_list()
    grid["fit"]["criteria"][0]["field"] = "job_title"
    assert by_raw == score_leads(leads, events, grid).table["fit_score"].to_list() == [5.0]


def test_role_field_without_a_column_says_how_to_map_it(tmp_path: Path) -> None:
    grid = {"fit": {"criteria": [{"name": "sw", "field": "industry", "op": "equals", "value": "software", "points": 5}]}}
    leads = tmp_path / "leads.csv"
    leads.write_text("id,title\nA,VP\n")
    events = tmp_path / "events.csv"
    events.write_text("lead_id,event_type,timestamp\nA,x,2024-01-01\n")
    with pytest.raises(ConfigError, match=r'fit criterion "sw" tests field "industry" but .* has no industry column '
                       r"\(fields: lead_id, job_title\); set columns\.leads\.industry or drop the criterion"):
        score_leads(leads, events, grid)


def test_detail_rule_needs_a_detail_column(tmp_path: Path) -> None:
    grid = {"event_types": {"page_view": ""},
            "engagement": {"rules": [{"name": "p", "event": "page_view", "detail_contains": "/pricing", "points": 1}]}}
    leads = pl.DataFrame({"lead_id": ["A"]})
    events = pl.DataFrame({"lead_id": ["A"], "event_type": ["page_view"], "timestamp": ["2024-01-01"]})
    with pytest.raises(ConfigError, match=r'engagement rule "p" tests the event detail but events <polars\.DataFrame> has '
                       r"no detail column .*; set columns\.events\.detail"):
        score_leads(leads, events, grid)


def test_mapped_column_that_does_not_exist() -> None:
    grid = {"columns": {"events": {"timestamp": "when"}}}
    leads = pl.DataFrame({"lead_id": ["A"]})
    events = pl.DataFrame({"lead_id": ["A"], "event_type": ["x"], "occurred": ["2024-01-01"]})
    with pytest.raises(ConfigError, match=r'grid: columns\.events\.timestamp is "when" but events <polars\.DataFrame> '
                       r"has no such column \(columns: lead_id, event_type, occurred\)"):
        score_leads(leads, events, grid)


def test_sparse_criterion_is_flagged_against_the_data() -> None:
    """A criterion matching < 1 % of leads because its field is mostly empty."""
    n = 200
    leads = pl.DataFrame({
        "lead_id": [f"L{i:03d}" for i in range(n)],
        "budget": ["yes" if i == 0 else None for i in range(n)],  # filled for 1 of 200
        "industry": ["software" if i % 2 else "retail" for i in range(n)],
    })
    events = pl.DataFrame({"lead_id": ["L000"], "event_type": ["x"], "timestamp": ["2024-01-01"]})
    grid = {
        "event_types": {"x": ""},
        "fit": {"criteria": [
            {"name": "has_budget", "field": "budget", "op": "equals", "value": "yes", "points": 10},
            {"name": "sw", "field": "industry", "op": "equals", "value": "software", "points": 5},
        ]},
    }
    with pytest.warns(RfmWarning) as caught:
        result = score_leads(leads, events, grid)
    assert [str(w.message) for w in caught] == [
        'grid: fit criterion "has_budget" matches 0.5% of leads because field "budget" is empty for 99.5% of them in '
        "leads <polars.DataFrame>; collect the field or drop the criterion"
    ]
    assert result.coverage.row(0) == ("has_budget", "budget", 0.005, 0.005)
