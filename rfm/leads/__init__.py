"""Lead scoring: fit and engagement kept apart, explained, calibrated, joined to customers.

>>> from rfm.leads import score_leads                                   # doctest: +SKIP
>>> scores = score_leads("leads.csv", "events.csv", "grid.yaml", as_of="2024-06-30")  # doctest: +SKIP
>>> scores.table.select("lead_id", "priority", "tier", "explanation")   # doctest: +SKIP

* :func:`score_leads` / :func:`lead_history` / :func:`history_window` -- polars pipelines
  over the leads and their events (``_scoring``, rules as expressions in ``_rules``);
* :func:`calibrate` -- conversion and lift per rule, suggested points (``_calibrate``);
* :func:`calibrate_logistic` -- a points grid learned by logistic regression, validated out of
  sample against the current and the lift grid (``_logistic``, scikit-learn);
* :func:`contacts` -- leads joined to customer scores and routed (``_contacts``);
* the grid schema (:class:`LeadGrid`, :func:`load_grid`; example ``rfm/presets/leads_grid.yaml``).

Inputs are read by ``rfm.inputs`` (one role mapper for every input kind); the
synthetic leads generator lives in ``rfm.synthetic``.
"""

from rfm.leads._calibrate import SUGGESTED_TAG, Calibration, calibrate
from rfm.leads._contacts import Contacts, contacts
from rfm.leads._grid import CELLS, EXAMPLE_GRID, GRADES, LEVELS, STAGES, TIERS, LeadGrid, load_grid
from rfm.leads._logistic import Scorecard, calibrate_logistic
from rfm.leads._scoring import (
    OUTPUT_COLUMNS,
    LeadScores,
    history_dates,
    history_window,
    lead_history,
    score_leads,
)

__all__ = [
    "CELLS",
    "EXAMPLE_GRID",
    "GRADES",
    "LEVELS",
    "OUTPUT_COLUMNS",
    "STAGES",
    "SUGGESTED_TAG",
    "TIERS",
    "Calibration",
    "Contacts",
    "Scorecard",
    "LeadGrid",
    "LeadScores",
    "calibrate",
    "calibrate_logistic",
    "contacts",
    "history_dates",
    "history_window",
    "lead_history",
    "load_grid",
    "score_leads",
]
