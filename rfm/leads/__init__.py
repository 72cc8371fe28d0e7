"""Lead scoring: fit and engagement kept apart, explained, calibrated, joined to customers.

>>> from rfm.leads import score_leads                                   # doctest: +SKIP
>>> scores = score_leads("leads.csv", "events.csv", "grid.yaml", as_of="2024-06-30")  # doctest: +SKIP
>>> scores.table.select("lead_id", "priority", "tier", "explanation")   # doctest: +SKIP

* :func:`score_leads` / :func:`lead_history` — :mod:`rfm.leads.scoring`
* :func:`calibrate` — :mod:`rfm.leads.calibrate`
* :func:`contacts` — :mod:`rfm.leads.contacts`
* :func:`generate_leads` — :mod:`rfm.leads.generate`
* the grid schema (:class:`LeadGrid`, :func:`load_grid`) — :mod:`rfm.leads.grid`
* the CLI (``rfm leads ...``, ``rfm contacts``) — :mod:`rfm.leads.cli`
"""

from rfm.leads.calibrate import Calibration, calibrate
from rfm.leads.contacts import Contacts, contacts
from rfm.leads.generate import generate_leads
from rfm.leads.grid import LeadGrid, load_grid
from rfm.leads.scoring import LeadScores, lead_history, score_leads

__all__ = [
    "Calibration",
    "Contacts",
    "LeadGrid",
    "LeadScores",
    "calibrate",
    "contacts",
    "generate_leads",
    "lead_history",
    "load_grid",
    "score_leads",
]
