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
from datetime import timedelta
from pathlib import Path

from rfm._files import immediate_outputs, write_frame
from rfm.cli._tables import SEGMENT_COLUMNS, format_table
from rfm.customers import CustomerScores
from rfm.inputs import PRESETS
from rfm.pipeline import Orders
from rfm.reporting import backtest_for, lead_section, write_report
from rfm.synthetic import generate_leads

DATA = Path(__file__).parent.parent / "data"
DEMO_ORDERS = DATA / "demo_orders.csv"
DEMO_CONFIG = PRESETS / "demo.yaml"
DEMO_LEADS = 2000  # enough leads for every tier; generated in about a second


def run_demo(out: str | Path) -> Iterator[str]:
    """Score the demo orders and write the results into ``out``; yield lines to print."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    orders = Orders(DEMO_ORDERS, DEMO_CONFIG)
    result = orders.score()
    written = [
        result.write(out / "scores.parquet"),
        result.write(out / "scores.csv"),
        result.scoring.save(out / "scoring.json"),
    ]
    if result.churn is not None:
        written.append(result.churn.save(out / "scores.churn.json"))
    if result.offers is not None:
        written.append(result.offers.write(out / "offers.csv"))
    written += _reports(orders, result, out)
    summary = result.segment_summary()
    written.append(write_frame(summary, out / "segments.csv"))
    yield f"Demo: {DEMO_ORDERS.name}, as of {result.as_of}"
    yield result.stats.summary()
    if result.churn is not None:
        yield f"churn: {result.churn.describe()}"
    yield ""
    yield format_table(summary, SEGMENT_COLUMNS)
    yield ""
    yield f"Wrote to {out}/:"
    for path in written:
        yield f"  {path.name}"


def _reports(orders: Orders, scores: CustomerScores, out: Path) -> list[Path]:
    """segments.html, campaign.html (+ CSV lists, synthetic leads) and churn.html from the one scoring."""
    written = write_report("segments", orders, scores, out=out / "segments.html")
    with immediate_outputs():  # read back at once by the leads section
        generated = generate_leads(out / "leads", leads=DEMO_LEADS, seed=0)
    leads = lead_section(*generated.files, None)
    written += list(generated.files)
    written += write_report("campaign", orders, scores, out=out / "campaign.html", leads=leads)
    calibration_end = scores.as_of - timedelta(days=orders.config.churn.horizon_days)
    backtest, note = backtest_for(orders, calibration_end)
    written += write_report("churn", orders, scores, out=out / "churn.html", backtest=backtest, backtest_note=note)
    return written


def cmd_demo(args: argparse.Namespace) -> int:
    for line in run_demo(args.out):
        print(line)
    return 0
