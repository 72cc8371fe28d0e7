"""Segment rule sets: grid coverage, shadowing, presets."""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from rfm.customers import SegmentsConfig, list_presets, resolve_rules
from rfm.errors import RfmWarning

ACTIONS = ["retain", "upsell", "reactivate", "nurture"]


def test_default_preset_covers_every_cell_and_every_rule_wins():
    rs = resolve_rules(SegmentsConfig(), bins=5, actions=ACTIONS)
    assert rs.fallthrough == ()
    assert rs.unreachable == ()
    assert rs.grid.height == 125
    assert rs.segment_order == [
        "Champions", "Loyal", "New", "Potential Loyalist", "Promising", "Need Attention",
        "Can't Lose Them", "At Risk", "About to Sleep", "Hibernating", "Lost", "Other",
    ]
    cells = rs.grid.group_by("segment").len().sort("segment")
    # Counted by hand from the rules (first match wins):
    # Champions r4-5 & (f+m)/2 >= 4: 2 * 6 = 12 (f,m pairs with mean >= 4: 45,54,55,44,35,53)
    # Loyal r3-5 f3-5, minus Champions: 3*3*5 - 12 = 33; New r4-5 f1: 10; Potential Loyalist r4-5 f2: 10
    # Promising r3 f1: 5; Need Attention r3 f2: 5; Can't Lose r1-2 f4-5 m4-5: 8
    # At Risk r1-2 f3-5 minus Can't Lose: 30 - 8 = 22; About to Sleep r2 f1-2: 10; Hibernating r1 f2: 5; Lost r1 f1: 5
    assert dict(cells.iter_rows()) == {
        "About to Sleep": 10, "At Risk": 22, "Can't Lose Them": 8, "Champions": 12, "Hibernating": 5, "Loyal": 33,
        "Lost": 5, "New": 10, "Need Attention": 5, "Potential Loyalist": 10, "Promising": 5,
    }


def test_r_rfm_preset_matches_r_package_table():
    rs = resolve_rules(SegmentsConfig(preset="r_rfm"), bins=5, actions=ACTIONS, warn=False)
    lookup = {(r, f, m): s for r, f, m, s in rs.grid.select("r_score", "f_score", "m_score", "segment").iter_rows()}
    # Cells checked against rfm::rfm_segment's documented bounds, first match wins.
    assert lookup[(5, 5, 5)] == "Champions"
    assert lookup[(2, 3, 3)] == "Loyal Customers"
    assert lookup[(5, 1, 1)] == "Potential Loyalist"  # New Customers (4-5,1,1) is shadowed by it
    assert lookup[(2, 2, 2)] == "Need Attention"
    assert lookup[(1, 5, 5)] == "At Risk"  # Can't Lose Them (1,4-5,4-5) comes after At Risk
    assert lookup[(1, 1, 1)] == "Lost"
    assert lookup[(5, 1, 5)] == "Others"
    assert set(rs.unreachable) == {"New Customers", "Promising", "Can't Lose Them"}
    assert len(rs.fallthrough) == 125 - rs.grid.filter(pl.col("segment") != "Others").height


def test_shadowed_rule_and_fallthrough_are_reported():
    cfg = SegmentsConfig(
        rules=[
            {"name": "Recent", "action": "retain", "r": [4, 5]},
            {"name": "Very recent", "action": "upsell", "r": 5},
        ]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        rs = resolve_rules(cfg, bins=5, actions=ACTIONS, source="my.yaml")
    assert rs.unreachable == ("Very recent",)
    assert len(rs.fallthrough) == 75
    messages = [str(w.message) for w in caught]
    assert messages[0].startswith("my.yaml: segments.rules: unreachable segment rule(s) 'Very recent'")
    assert messages[1].startswith('my.yaml: segments.rules: 75 of 125 R-F-M cells match no rule and go to "Other" '
                                  "(cells 111, 112, 113, 114, 115, 121, 122, 123, ...)")


def test_quartile_preset_on_four_bins():
    rs = resolve_rules(SegmentsConfig(preset="quartile"), bins=4, actions=ACTIONS, warn=False)
    lookup = {(r, f, m): s for r, f, m, s in rs.grid.select("r_score", "f_score", "m_score", "segment").iter_rows()}
    assert lookup[(4, 4, 4)] == "Best Customers"
    assert lookup[(2, 4, 4)] == "Almost Lost"
    assert lookup[(3, 4, 1)] == "Loyal Customers"
    assert lookup[(3, 1, 4)] == "Big Spenders"
    assert lookup[(3, 2, 2)] == "Other"
    assert rs.unreachable == ()


def test_presets_listed():
    assert list_presets() == ["default", "quartile", "r_rfm"]


@pytest.mark.parametrize("preset", ["default", "r_rfm", "quartile"])
def test_preset_grids_have_one_row_per_cell(preset):
    bins = 4 if preset == "quartile" else 5
    rs = resolve_rules(SegmentsConfig(preset=preset), bins=bins, actions=ACTIONS, warn=False)
    assert rs.grid.select("r_score", "f_score", "m_score").unique().height == bins**3


def test_rule_matching_no_cell_is_not_called_shadowed():
    cfg = SegmentsConfig(rules=[{"name": "Odd", "action": "retain", "fm": [3.2, 3.4]},
                                {"name": "All", "action": "nurture"}])
    rs = resolve_rules(cfg, bins=5, actions=ACTIONS, warn=False)
    assert (rs.empty, rs.unreachable) == (("Odd",), ())


def test_same_segment_with_two_actions_is_an_error():
    from rfm.errors import ConfigError

    cfg = SegmentsConfig(rules=[{"name": "VIP", "action": "retain", "r": 5},
                                {"name": "VIP", "action": "reactivate", "r": 1}])
    with pytest.raises(ConfigError, match=r'segment "VIP" appears with actions "retain" and "reactivate"'):
        resolve_rules(cfg, bins=5, actions=ACTIONS)


def test_fractional_r_bound_is_an_error():
    from rfm.errors import ConfigError

    with pytest.raises(ConfigError, match=r'segment rule "Odd": r bound 2.5 is not a whole score'):
        import rfm

        rfm.load_config({"segments": {"rules": [{"name": "Odd", "action": "retain", "r": 2.5}]}})
