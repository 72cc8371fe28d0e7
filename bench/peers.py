"""Peers for the benchmark (issue 7): the same order file summarised by other tools.

    python bench/peers.py PEER ORDERS_PARQUET OUT_PARQUET [--as-of YYYY-MM-DD]

PEER is one of ``pandas``, ``lifetimes``, ``pymc``.  Each run is meant to be a
fresh process timed as a whole by the caller (``peer_command`` gives the
argv), so everything it does is the peer's real work: read the Parquet file
with pandas (pyarrow engine), drop excluded statuses, compute the peer's
summary, write one row per customer to OUT_PARQUET.  Nothing else (no checks,
no timing) happens in the child.

Exit codes: 0 success; 3 the peer's library (or pandas) cannot be imported,
with a one-line reason on stderr (``PEER: not installed (...)`` or
``PEER: import failed (...)`` when it is installed but broken), so the caller
can record it; 2 bad arguments (argparse); anything else is an error with a
traceback.  Time limits are the caller's business (e.g. ``timeout 600``).

Input and common rules
----------------------
Columns read: customer_id, order_id, order_date (DATE, read as datetime64),
amount, status (category and quantity are not needed).  Lines whose status is
in ``EXCLUDED_STATUSES`` (just ``cancelled``, exact match, which is what
``rfm generate`` writes and what ``rfm score`` drops by default) are dropped
first.  ``as_of`` defaults to the day after the last kept order date, as in
``rfm score``; lines dated after ``as_of`` are ignored (``order_date <=
as_of``, as ``rfm score`` does, and as the ``observation_period_end``
truncation of lifetimes / pymc-marketing does).  Refund lines (negative
amounts, their own order id) are *kept* as ordinary transactions by every
peer, as a naive analyst would: unlike ``rfm score``, which counts only
purchase orders as visits and nets refunds into monetary.

What each peer writes (columns ``customer_id``, ``frequency``,
``recency_days``, ``monetary`` always; the meanings differ!)
-----------------------------------------------------------------------
``pandas`` - a hand-written analyst RFM:
    frequency    = number of distinct order ids (refund orders included);
    recency_days = days from the customer's last order date to as_of;
    monetary     = sum of amount (net of refunds);
    last_order_date; r_score, f_score, m_score in 1..5 (quintiles with
    ``pd.qcut`` on ``rank(method="first")``, so ties are broken by row order
    and every quintile has the same size; recency scored inversely: recent =
    5); rfm_score = "RFM" digits as a string.
``lifetimes`` - ``summary_data_from_transaction_data(freq="D",
observation_period_end=as_of)`` then ``BetaGeoFitter().fit``:
    frequency    = number of *repeat* purchase days (distinct days with a
                   transaction, minus one; several orders on one day count once);
    recency_days = the customer's age at the last purchase: days from first
                   to last purchase day (0 for one-day buyers) - NOT days since
                   the last purchase;
    T            = days from the first purchase day to as_of;
    monetary     = mean over the repeat purchase days of the day's summed
                   amount (the first day excluded; 0 when there is none);
    p_alive      = the fitted BG/NBD ``conditional_probability_alive``.
    The fitted (r, alpha, a, b) go to ``DataFrame.attrs`` (Parquet metadata).
``pymc`` - pymc-marketing ``pymc_marketing.clv.utils.rfm_summary`` (modelling
form, same definitions as lifetimes: frequency, recency_days = recency, T,
monetary = monetary_value) and ``rfm_segments`` (segmentation form, whose
own summary uses ``include_first_transaction=True``):
    seg_frequency = purchase days including the first;
    seg_recency   = days from the last purchase day to as_of (= T - recency);
    seg_monetary  = mean of the day sums over all purchase days;
    rfm_score     = R, F, M quartile digits (``pd.qcut(q=4)`` on the raw
                    values, duplicates dropped), segment = its named segment.
    (``rfm_segments`` summarises the transactions again: the time includes
    that second pass, as it would for a user calling both.)

Units: all "days" are calendar days (``freq``/``time_unit`` = "D").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PEERS = ("pandas", "lifetimes", "pymc")
EXCLUDED_STATUSES = ("cancelled",)  # `rfm score` default drops these (and other spellings absent from our data)
COLUMNS = ["customer_id", "order_id", "order_date", "amount", "status"]
EXIT_NOT_INSTALLED = 3
SCRIPT = Path(__file__).resolve()


def peer_command(peer: str, orders, out, as_of=None, *, python: str | None = None) -> list[str]:
    """argv that runs PEER on ORDERS into OUT in a fresh process.

    ``python`` is the interpreter (default ``sys.executable``): the peers'
    libraries may live in a separate virtualenv from the caller's.
    """
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; expected one of {', '.join(PEERS)}")
    cmd = [python or sys.executable, str(SCRIPT), peer, str(orders), str(out)]
    if as_of is not None:
        cmd += ["--as-of", str(as_of)]
    return cmd


def read_orders(path, as_of=None):
    """The kept order lines (pandas DataFrame) and as_of (pandas Timestamp)."""
    import pandas as pd

    kwargs = {}
    if int(pd.__version__.split(".")[0]) >= 3:
        # DATE straight to datetime64 instead of millions of datetime.date objects
        kwargs["to_pandas_kwargs"] = {"date_as_object": False}
    orders = pd.read_parquet(path, engine="pyarrow", columns=COLUMNS, **kwargs)
    orders["order_date"] = pd.to_datetime(orders["order_date"])  # no-op when already datetime64
    orders = orders[~orders["status"].isin(EXCLUDED_STATUSES)]
    if as_of is None:
        as_of = orders["order_date"].max() + pd.Timedelta(days=1)
    else:
        as_of = pd.Timestamp(as_of)
        orders = orders[orders["order_date"] <= as_of]
    return orders, as_of


def _quintile(values, higher_is_better: bool = True):
    """Scores 1..5 by quintile of rank(method='first'), the usual analyst recipe."""
    import pandas as pd

    ranks = values.rank(method="first", ascending=higher_is_better)
    return pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5]).astype("int64")


def pandas_summary(orders, as_of):
    """Hand-written RFM: per customer distinct orders, summed amount, days since last order, quintile scores."""
    summary = orders.groupby("customer_id").agg(
        last_order_date=("order_date", "max"),
        frequency=("order_id", "nunique"),
        monetary=("amount", "sum"),
    )
    summary["recency_days"] = (as_of - summary["last_order_date"]).dt.days.astype("int64")
    summary["r_score"] = _quintile(summary["recency_days"], higher_is_better=False)
    summary["f_score"] = _quintile(summary["frequency"])
    summary["m_score"] = _quintile(summary["monetary"])
    summary["rfm_score"] = (
        summary["r_score"].astype(str) + summary["f_score"].astype(str) + summary["m_score"].astype(str)
    )
    summary = summary.reset_index()
    return summary[
        ["customer_id", "frequency", "recency_days", "monetary", "last_order_date",
         "r_score", "f_score", "m_score", "rfm_score"]
    ]


def lifetimes_summary(orders, as_of):
    """lifetimes: repeat-purchase summary (daily periods) and a BG/NBD fit, with P(alive) per customer."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    summary = summary_data_from_transaction_data(
        orders, "customer_id", "order_date", monetary_value_col="amount",
        observation_period_end=as_of, freq="D",
    )
    # summary["T"], never summary.T: that is the transpose
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    summary["p_alive"] = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    summary = summary.reset_index().rename(columns={"recency": "recency_days", "monetary_value": "monetary"})
    summary.attrs["bgnbd_params"] = {k: float(v) for k, v in bgf.params_.items()}
    return summary[["customer_id", "frequency", "recency_days", "T", "monetary", "p_alive"]]


def pymc_summary(orders, as_of):
    """pymc-marketing: rfm_summary (modelling form) joined with rfm_segments (segmentation form)."""
    from pymc_marketing.clv.utils import rfm_segments, rfm_summary

    model = rfm_summary(
        orders, customer_id_col="customer_id", datetime_col="order_date", monetary_value_col="amount",
        observation_period_end=as_of, time_unit="D",
    )
    segments = rfm_segments(
        orders, customer_id_col="customer_id", datetime_col="order_date", monetary_value_col="amount",
        observation_period_end=as_of, time_unit="D",
    )
    model = model.rename(columns={"recency": "recency_days", "monetary_value": "monetary"})
    segments = segments.rename(
        columns={"frequency": "seg_frequency", "recency": "seg_recency", "monetary_value": "seg_monetary"}
    )
    out = model.merge(segments, on="customer_id", how="left", validate="one_to_one")
    return out[
        ["customer_id", "frequency", "recency_days", "T", "monetary",
         "seg_frequency", "seg_recency", "seg_monetary", "rfm_score", "segment"]
    ]


SUMMARIES = {"pandas": pandas_summary, "lifetimes": lifetimes_summary, "pymc": pymc_summary}
IMPORTS = {"pandas": ("pandas",), "lifetimes": ("pandas", "lifetimes"), "pymc": ("pandas", "pymc_marketing.clv.utils")}


def run(peer: str, orders_path, out_path, as_of=None) -> None:
    orders, as_of_ts = read_orders(orders_path, as_of)
    summary = SUMMARIES[peer](orders, as_of_ts)
    summary.to_parquet(out_path, engine="pyarrow", index=False)


def _import_reason(peer: str) -> str | None:
    """None when the peer's libraries import, else a one-line reason."""
    import importlib

    for module in IMPORTS[peer]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            top = module.split(".")[0]
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == top:
                return f"{peer}: not installed ({exc})"
            return f"{peer}: import failed ({type(exc).__name__}: {exc})".replace("\n", " ")
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=PEERS)
    ap.add_argument("orders", help="orders Parquet file (rfm generate layout)")
    ap.add_argument("out", help="output Parquet file, one row per customer")
    ap.add_argument("--as-of", help="YYYY-MM-DD, inclusive; default: day after the last kept order date")
    args = ap.parse_args(argv)
    reason = _import_reason(args.peer)
    if reason is not None:
        print(reason, file=sys.stderr)
        return EXIT_NOT_INSTALLED
    run(args.peer, args.orders, args.out, args.as_of)
    return 0


if __name__ == "__main__":
    sys.exit(main())
