"""``rfm generate`` and ``rfm leads generate``: synthetic orders, or leads with their events and outcomes."""

from __future__ import annotations

import argparse
import sys
import time

from rfm.errors import InputError
from rfm.synthetic import generate_leads, generate_orders


def cmd_generate(args: argparse.Namespace) -> int:
    if args.leads is not None:
        args.format = "csv" if str(args.out).endswith(".csv") else "parquet"
        return cmd_leads_generate(args)
    if args.customers is None or args.orders is None:
        raise InputError("rfm generate: give --customers and --orders for order lines, or --leads N for leads")
    started = time.perf_counter()
    summary = generate_orders(
        args.out,
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        lines_per_order=args.lines_per_order,
    )
    if not args.quiet:
        print(
            f"wrote {summary.lines:,} order lines ({summary.orders:,} orders, {summary.customers:,} customers) "
            f"to {args.out} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0


def cmd_leads_generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    out = generate_leads(args.out, leads=args.leads, seed=args.seed, events_per_lead=args.events_per_lead,
                         fmt=args.format)
    if not args.quiet:
        print(
            f"wrote {out.leads:,} leads, {out.events:,} events and {out.conversions:,} conversions to "
            f"{', '.join(str(f) for f in out.files)} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0
