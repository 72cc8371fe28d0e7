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
    assert [str(c) for c in rs.conditions] == ["frequency <= 1", "tenure_days <= 90", "recency_days <= 365"]
    # bit 0: one order only, bit 1: tenure <= 90, bit 2: recency <= 365; every combination can occur
    assert rs.grid.height == 125 * 8 and rs.grid["feasible"].all()
    assert rs.segment_order == [
        "Champions", "Loyal", "New", "Potential Loyalist", "Promising", "Need Attention",
        "Can't Lose Them", "At Risk", "About to Sleep", "Hibernating", "Lost", "Other",
    ]
    cells = rs.grid.group_by("segment").len().sort("segment")
    # Counted by hand from the rules (first match wins), over 125 cells x 8 condition masks:
    # Champions r4-5 & (f+m)/2 >= 4: 2 * 6 = 12 cells (f,m pairs with mean >= 4: 45,54,55,44,35,53), x 8
    # Loyal r3-5 f3-5, minus Champions: 3*3*5 - 12 = 33, x 8; Potential Loyalist r4-5 f2: 10, x 8
    # Need Attention r3 f2: 5, x 8; Can't Lose r1-2 f4-5 m4-5: 8, x 8; At Risk r1-2 f3-5 minus those: 22, x 8
    # f = 1, r4-5 (10 cells): New when bits 0 and 1 (masks 3, 7): 20; else Promising when bit 2 (4, 5, 6): 30;
    #        else Lost (0, 1, 2): 30.  r3: Promising when bit 2: 20, else Lost: 20.
    #        r2: About to Sleep when bit 2: 20, else Lost: 20.  r1: Lost: 40.  Lost = 30 + 20 + 20 + 40 = 110
    # f = 2: r2 About to Sleep when bit 2: 20, else Hibernating: 20; r1 Hibernating: 40 -> 60
    assert dict(cells.iter_rows()) == {
        "About to Sleep": 40, "At Risk": 176, "Can't Lose Them": 64, "Champions": 96, "Hibernating": 60,
        "Loyal": 264, "Lost": 110, "New": 20, "Need Attention": 40, "Potential Loyalist": 80, "Promising": 50,
    }
    lookup = {(r, f, m, k): seg for r, f, m, k, seg in
              rs.grid.select("r_score", "f_score", "m_score", "mask", "segment").iter_rows()}
    assert [lookup[(5, 1, 3, k)] for k in range(8)] == [
        "Lost", "Lost", "Lost", "New", "Promising", "Promising", "Promising", "New"
    ]
    assert [lookup[(2, 2, 1, k)] for k in range(8)] == ["Hibernating"] * 4 + ["About to Sleep"] * 4


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



def test_metric_bounds_that_cannot_hold_together_are_not_reported():
    """Bounds of one metric split its axis; a mask no value can have (tenure <= 90 and >= 365 at once)
    neither falls through nor makes a rule look reachable."""
    cfg = SegmentsConfig(
        rules=[
            {"name": "Young", "action": "nurture", "tenure_days": {"max": 90}},
            {"name": "Old", "action": "retain", "tenure_days": {"min": 365}},
            {"name": "Middle", "action": "upsell", "tenure_days": {"min": 91, "max": 364}},
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RfmWarning)  # no warning at all
        rs = resolve_rules(cfg, bins=5, actions=ACTIONS)
    # 3 conditions, 8 masks: feasible are "only one holds" (3); none holds is impossible (90 < t < 91
    # has no whole day), and two or three at once are impossible too
    feasible = sorted(set(rs.grid.filter("feasible")["mask"].to_list()))
    assert feasible == [1, 2, 4]
    assert rs.fallthrough == () and rs.unreachable == () and rs.empty == ()


def test_a_cell_left_open_by_a_metric_bound_is_reported():
    cfg = SegmentsConfig(rules=[{"name": "New", "action": "nurture", "tenure_days": {"max": 90}}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        rs = resolve_rules(cfg, bins=5, actions=ACTIONS, source="my.yaml")
    assert len(rs.fallthrough) == 125
    assert str(caught[0].message).startswith(
        'my.yaml: segments.rules: 125 of 125 R-F-M cells match no rule for some customers '
        '(metric bounds: tenure_days <= 90) and go to "Other"'
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"tenure": {"max": 90}}, r'unknown score "tenure"; did you mean "tenure_days"\?'),
        ({"tenure_days": {}}, r"a metric bound needs min, max or both, e\.g\. \{max: 90\}"),
        ({"recency_days": {"min": 400, "max": 365}}, r"a metric bound's min 400 is above its max 365"),
        ({"monetary": {"maximum": 5}}, r"maximum"),
    ],
)
def test_bad_metric_bounds_are_refused(rule, message):
    from rfm.customers import load_config
    from rfm.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        load_config({"segments": {"rules": [{"name": "A", "action": "retain", **rule}]}})


def test_default_preset_bounds_one_time_buyers_in_days_on_cdnow():
    """Every CDNOW customer first bought in 1997 Q1: as of 1998-03-31 nobody is New, and each one-time
    buyer (one order, so tenure = recency > 365 days) is Lost whatever the R score; the SQL's condition
    mask agrees with the rules read by hand from the metrics."""
    from rfm.pipeline import Orders
    from tests.conftest import CDNOW, CDNOW_CONFIG

    with Orders(CDNOW, CDNOW_CONFIG) as orders:
        table = orders.score(as_of="1998-03-31").table
    assert table.filter(pl.col("segment") == "New").height == 0
    once = table.filter(pl.col("frequency") == 1)
    # one-time buyers counted from the raw file: customers with one purchase day up to 1998-03-31
    fields = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()]
    raw = pl.DataFrame({"customer": [f[1] for f in fields], "day": [int(f[2]) for f in fields]})
    days = raw.filter(pl.col("day") <= 19980331).group_by("customer").agg(pl.col("day").n_unique().alias("n"))
    assert once.height == days.filter(pl.col("n") == 1).height
    assert once["recency_days"].min() > 365
    assert set(once["segment"].to_list()) == {"Lost"}
    assert set(once["r_score"].to_list()) == {1, 2, 3}  # relative R alone calls R 2-3 of them recent-ish
