"""Customer scoring: RFM metrics, tie-safe 1..N scores, segments and actions.

* :class:`OrderHistory` -- the order lines loaded once (``rfm.inputs``), the
  order table built when needed; ``score(as_of)`` -> :class:`CustomerScores`;
* :class:`CustomerScores` -- an immutable result that owns its table in the
  engine; steps (``rfm.churn``, ``rfm.offers``) return extended copies;
* :class:`Scoring` -- cut points, fitted or saved and reused;
* :class:`Config` / :func:`load_config` -- the run configuration (one YAML file);
* segment rule sets (:func:`resolve_rules`, presets in ``rfm/presets/segments``).

The SQL is in ``queries/customers``.
"""

from rfm.customers._config import ChurnConfig, ClvConfig, Config, CutPoints, ScoringConfig, load_config, preset_path
from rfm.customers._orders import OrderHistory
from rfm.customers._result import CustomerScores, RunStats
from rfm.customers._scoring import DIMENSIONS, Scoring
from rfm.customers._segments import (
    SCORES,
    OtherSegment,
    RuleSet,
    SegmentPreset,
    SegmentRule,
    SegmentsConfig,
    grid_warnings,
    list_presets,
    load_preset,
    resolve_rules,
)

__all__ = [
    "DIMENSIONS",
    "SCORES",
    "ChurnConfig",
    "ClvConfig",
    "Config",
    "CustomerScores",
    "CutPoints",
    "OrderHistory",
    "OtherSegment",
    "RuleSet",
    "RunStats",
    "Scoring",
    "ScoringConfig",
    "SegmentPreset",
    "SegmentRule",
    "SegmentsConfig",
    "grid_warnings",
    "list_presets",
    "load_config",
    "load_preset",
    "preset_path",
    "resolve_rules",
]
