"""Every report on the bundled demo data (called by ``rfm demo``).

The demo orders are scored once, with churn (``churn.method: auto``) and the
demo offer catalogue, and the three reports are built from that scoring.  The
campaign report also carries a leads section on synthetic leads
(``rfm.leads.generate``, written to ``<out>/leads/``).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

from rfm.reporting.build import backtest_for, lead_section, write_report

DEMO_LEADS = 2000  # enough leads for every tier; generated in about a second


def write_demo_reports(out: str | Path) -> list[Path]:
    """Write segments.html, campaign.html (+ CSV lists) and churn.html into ``out``; return the files."""
    from rfm.config import load_config
    from rfm.customers import Orders
    from rfm.demo import DEMO_CONFIG, DEMO_ORDERS

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(load_config(DEMO_CONFIG))
    cfg.churn.method = "auto"
    catalogue = Path(__file__).resolve().parent.parent / "presets" / "offers_demo.yaml"
    if cfg.offers is None and catalogue.exists():
        cfg.offers = str(catalogue)
    orders = Orders(DEMO_ORDERS, cfg)
    orders.build_order_table()  # every report reads it: one scan for all of them
    scores = orders.score()
    written = write_report("segments", orders, scores, out=out / "segments.html")

    leads = None
    try:
        from rfm.leads import generate_leads

        generated = generate_leads(out / "leads", leads=DEMO_LEADS, seed=0)
        leads_file, events_file, outcomes_file = generated.files
        leads = lead_section(leads_file, events_file, outcomes_file, None)
        written += list(generated.files)
    except ImportError:  # lead scoring not in this build
        pass
    written += write_report("campaign", orders, scores, out=out / "campaign.html", leads=leads)

    calibration_end = scores.as_of - timedelta(days=cfg.churn.horizon_days)
    backtest, note = backtest_for(DEMO_ORDERS, cfg, calibration_end, None)
    written += write_report("churn", orders, scores, out=out / "churn.html", backtest=backtest, backtest_note=note)
    return written
