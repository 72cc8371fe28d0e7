"""Reports: self-contained HTML pages of Altair charts for marketing and management.

>>> from rfm.reporting import run_report                                # doctest: +SKIP
>>> run_report("segments", "orders.csv", out="segments.html")          # doctest: +SKIP

* :func:`run_report` / :func:`write_report` / :func:`build_report` -- ``_build``;
* :func:`run_job` -- ``rfm run``: scores, churn, offers and the three reports from one read (``_job``);
* definitions (``reports/*.yaml``): schema in ``_definitions``, loaded and
  checked against the block registry by :func:`load_definition` (``_registry``);
* aggregates (SQL in ``queries/reports``) -- ``_data``;
* charts, one function each -- ``_charts`` (segments, campaign, churn),
  ``_backtest_charts``, ``_lead_charts``; the blocks that feed them -- ``_blocks``
  and the same section modules; every name a definition can use -- ``_registry``;
* page assembly and escaping -- ``_html``.
"""

from rfm.reporting._blocks import Leads
from rfm.reporting._build import (
    backtest_for,
    build_report,
    check_out,
    final_spec,
    lead_section,
    run_report,
    write_report,
)
from rfm.reporting._definitions import KINDS, LEADS, ReportDefinition
from rfm.reporting._job import JobResult, run_job
from rfm.reporting._notebook import Charts, report_charts
from rfm.reporting._registry import CHARTS, FIGURES, TABLES, load_definition

__all__ = [
    "Charts",
    "report_charts",
    "CHARTS",
    "FIGURES",
    "KINDS",
    "LEADS",
    "TABLES",
    "JobResult",
    "Leads",
    "ReportDefinition",
    "backtest_for",
    "build_report",
    "check_out",
    "final_spec",
    "lead_section",
    "load_definition",
    "run_job",
    "run_report",
    "write_report",
]
