"""``rfm demo``: the main job on the bundled demo data (rfm/data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rfm.cli import SEGMENT_COLUMNS, format_table
from rfm.customers import Orders
from rfm.io import write_frame

DATA = Path(__file__).parent / "data"
DEMO_ORDERS = DATA / "demo_orders.csv"
DEMO_CONFIG = Path(__file__).parent / "presets" / "demo.yaml"


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
    from rfm.reporting.demo import write_demo_reports

    written += write_demo_reports(out)
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
