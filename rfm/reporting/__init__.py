"""Reports: self-contained HTML pages of Altair charts for marketing and management.

>>> from rfm.reporting import run_report                                # doctest: +SKIP
>>> run_report("segments", "orders.csv", out="segments.html")          # doctest: +SKIP

* :func:`run_report` / :func:`build_report` — :mod:`rfm.reporting.build`
* definitions (``reports/*.yaml``) — :mod:`rfm.reporting.definitions`
* aggregates (SQL in ``queries/reports.sql``) — :mod:`rfm.reporting.data`
* charts, one function each — :mod:`rfm.reporting.charts`
* the named blocks a definition can use — :mod:`rfm.reporting.blocks`
* page assembly and escaping — :mod:`rfm.reporting.html`
"""

from rfm.reporting.build import build_report, run_report, write_report
from rfm.reporting.definitions import KINDS, load_definition

__all__ = ["KINDS", "build_report", "load_definition", "run_report", "write_report"]
