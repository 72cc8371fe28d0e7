"""``rfm demo``: the main job on the bundled demo data (``rfm/data``), every output written.

The demo orders are read and scored once -- with churn (``churn.method:
auto``) and the demo offer catalogue, as ``rfm/presets/demo.yaml`` says --
and the scores, the three reports (the campaign report with a leads section
on synthetic leads written to ``<out>/leads/``) and the churn report's
backtest all come from that one load.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from rfm._files import immediate_outputs
from rfm.cli._tables import SEGMENT_COLUMNS, format_table
from rfm.inputs import PRESETS
from rfm.reporting import run_job
from rfm.synthetic import generate_leads

DATA = Path(__file__).parent.parent / "data"
DEMO_ORDERS = DATA / "demo_orders.csv"
DEMO_CONFIG = PRESETS / "demo.yaml"
DEMO_LEADS = 2000  # enough leads for every tier; generated in about a second


def run_demo(out: str | Path) -> Iterator[str]:
    """Score the demo orders and write the results into ``out`` (``rfm run`` on the demo data, with
    synthetic leads); yield lines to print."""
    job = run_job(DEMO_ORDERS, out, config=DEMO_CONFIG, csv=True, leads_files=_synthetic_leads)
    result = job.scores
    yield f"Demo: {DEMO_ORDERS.name}, as of {result.as_of}"
    yield result.stats.summary()
    if result.churn is not None:
        yield f"churn: {result.churn.describe()}"
    yield ""
    yield format_table(job.summary, SEGMENT_COLUMNS)
    yield ""
    yield f"Wrote to {Path(out)}/:"
    for path in job.written:
        yield f"  {path.name}"


def _synthetic_leads(out: Path) -> tuple[Path, Path, Path]:
    with immediate_outputs():  # read back at once by the leads section
        generated = generate_leads(out / "leads", leads=DEMO_LEADS, seed=0)
    leads, events, outcomes = generated.files
    return leads, events, outcomes


def cmd_demo(args: argparse.Namespace) -> int:
    for line in run_demo(args.out):
        print(line)
    return 0
