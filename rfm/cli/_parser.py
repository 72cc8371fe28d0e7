"""Every ``rfm`` command's arguments, and where its handler lives.

A command's handler is named as ``"module:function"`` and imported only when
the command runs (:func:`rfm.cli.main`), so ``rfm score`` never loads the
report renderer and ``rfm report`` never loads the lead pipelines it does
not use.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from rfm.engine import redact

CHURN_METHODS = ("none", "auto", "best", "bgnbd", "pnbd", "recency_ratio", "propensity")
TABLE_HELP = ("table to read: one of a DuckDB database file ORDERS, of a postgresql:// ORDERS database "
              "(schema.table), or with --engine spark a catalog table (catalog.schema.table; ORDERS then omitted)")
GRID_HELP = "lead-scoring grid YAML (default: the shipped example rfm/presets/leads_grid.yaml)"


def _version() -> str:
    try:
        return version("rfm")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


class _Parser(argparse.ArgumentParser):
    """argparse echoes a bad argument in its message: a database URL's password must not show."""

    def error(self, message: str) -> NoReturn:
        super().error(redact(message))


def _query_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--query", help="with a postgresql:// ORDERS URL: read the order lines of this query instead of --table")


def _if_exists_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--if-exists", choices=("fail", "replace", "append-snapshot"), default="fail",
                   help=f"when {what} names a database table that exists: fail (default), replace its rows, or "
                        "append-snapshot (add rows; as_of tells the runs apart)")


def _lead_section_options(p: argparse.ArgumentParser, section: str) -> None:
    p.add_argument("--leads", help=f"leads file: adds {section} (needs --events)")
    p.add_argument("--events", help="engagement events of the leads")
    p.add_argument("--outcomes", help="lead outcomes: adds conversion by tier")
    p.add_argument("--grid", "-g", help="lead-scoring grid YAML (default: the shipped example)")


def _duckdb_options(p: argparse.ArgumentParser, *, threads: bool = True) -> None:
    p.add_argument("--memory-limit", help="memory budget of the run, e.g. 4GB (default 50%% of the machine); "
                                          "DuckDB gets 85%% of it and spills to disk beyond")
    if threads:
        p.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    p.add_argument("--temp-directory", help="where DuckDB spills beyond --memory-limit (default: rfm-spill-<uid> "
                                             "in the system temp directory)")


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("duckdb", "spark"),
                   help="where the SQL runs: duckdb in process (default) or spark (needs rfm[spark] and Java, "
                        "or --spark-remote); overrides engine.name")
    p.add_argument("--spark-remote", metavar="URL",
                   help="Spark Connect endpoint, e.g. sc://host:15002 (default: a local Spark session)")


def _orders_options(p: argparse.ArgumentParser, *, out: bool) -> None:
    p.add_argument("orders", nargs="?",
                   help="order lines: .csv/.tsv/.txt(.gz), .parquet (file, glob or directory), a DuckDB file; "
                        "with --engine spark also s3://, hdfs:// ... paths and Delta tables")
    _engine_options(p)
    p.add_argument("--config", "-c", help="YAML config (columns, scoring, segments, ...); defaults when omitted")
    p.add_argument("--as-of", help="score as of this date, YYYY-MM-DD (inclusive); default: day after the last order")
    p.add_argument("--table", help=TABLE_HELP)
    _query_option(p)
    p.add_argument("--scoring", help="apply cut points saved by --save-scoring instead of fitting new ones")
    _duckdb_options(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress or summary line (warnings still print)")
    p.add_argument("--churn", choices=CHURN_METHODS,
                   help="add churn risk, expected orders and CLV (overrides churn.method; default none)")
    p.add_argument("--churn-model", help="apply a churn model saved by an earlier run instead of fitting")
    p.add_argument("--offers", help="offer catalogue (YAML): add next_best_offer, offer_fit, offer_reason")
    if out:
        p.add_argument("--out", "-o", help="output file: .parquet or .csv (written atomically), or a table: "
                                            "postgresql://user@host/db?table=schema.name; optional with --out-table")
        _if_exists_option(p, "--out")
        p.add_argument("--save-scoring", help="also save the cut points used (JSON) to reuse on another snapshot")
        p.add_argument("--out-table", help="with --engine spark: also write the scores to this catalog table "
                                           "(catalog.schema.table), replacing it")


def _lead_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("leads", help="leads: .csv/.tsv(.gz) or .parquet, one row per lead")
    p.add_argument("events", help="engagement events: .csv/.tsv(.gz) or .parquet, one row per event")
    p.add_argument("--grid", "-g", help=GRID_HELP)
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line (warnings still print)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rfm",
        description="Customer-value analytics: RFM scores, segments and actions from order history.",
    )
    parser.add_argument("--version", action="version", version=f"rfm {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("score", help="score every customer: metrics, R/F/M scores, segment, action")
    _orders_options(p, out=True)
    p.set_defaults(handler="rfm.cli._customers:cmd_score")

    p = sub.add_parser("segments", help="print a per-segment summary table")
    _orders_options(p, out=False)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    p.set_defaults(handler="rfm.cli._customers:cmd_segments")

    p = sub.add_parser("offers", help="offer fit per customer and offer, and the next best offer")
    _orders_options(p, out=False)
    p.add_argument("--top-k", type=int, help="offers per customer (default: the catalogue's top_k, 3)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically), or a "
                                                      "table: postgresql://user@host/db?table=schema.name")
    _if_exists_option(p, "--out")
    p.set_defaults(handler="rfm.cli._customers:cmd_offers")

    p = sub.add_parser("backtest", help="score as of a calibration end and compare churn/CLV with the holdout")
    p.add_argument("orders", nargs="?", help="order lines (as for rfm score)")
    _engine_options(p)
    p.add_argument("--calibration-end", required=True, help="last day of the calibration period, YYYY-MM-DD")
    _query_option(p)
    p.add_argument("--horizon", help="holdout length: 90d, 13w, 6m (default churn.horizon_days)")
    p.add_argument("--config", "-c", help="YAML config")
    p.add_argument("--table", help=TABLE_HELP)
    p.add_argument("--offers", help="offer catalogue: also report the top offer's hit rate")
    p.add_argument("--methods", help="churn methods to compare, comma-separated (default: all of bgnbd, pnbd, "
                                      "recency_ratio, propensity)")
    p.add_argument("--out", "-o", help="also write every figure as JSON (for reports)")
    _duckdb_options(p)
    p.set_defaults(handler="rfm.cli._customers:cmd_backtest")

    p = sub.add_parser("report", help="write a self-contained HTML report (segments, campaign or churn)")
    p.add_argument("kind", choices=("segments", "campaign", "churn"), help="which report")
    p.add_argument("orders", nargs="?", help="order lines (as for rfm score)")
    _engine_options(p)
    p.add_argument("--out", "-o", required=True,
                   help="output .html; campaign CSV lists and --png/--svg charts go beside it")
    p.add_argument("--config", "-c", help="YAML config")
    p.add_argument("--as-of", help="report as of this date, YYYY-MM-DD (default: day after the last order)")
    p.add_argument("--table", help=TABLE_HELP)
    _query_option(p)
    p.add_argument("--churn", choices=CHURN_METHODS, help="churn model (churn report default: auto)")
    p.add_argument("--compare-as-of", help="churn: earlier date of the segment migration matrix (default: as-of - 90 days)")
    p.add_argument("--calibration-end", help="churn: backtest calibration end (default: as-of minus the horizon)")
    p.add_argument("--horizon", help="churn horizon and backtest holdout: 90d, 13w, 6m (default churn.horizon_days)")
    p.add_argument("--no-backtest", action="store_true",
                   help="churn: leave the backtest out (it fits the churn model at the calibration end)")
    p.add_argument("--offers", help="campaign: offer catalogue YAML (default: offers: in the config)")
    _lead_section_options(p, "the leads section")
    p.add_argument("--lists-table", help="campaign: also write every campaign list (with action and as_of) to a "
                                         "table: postgresql://user@host/db?table=schema.name")
    _if_exists_option(p, "--lists-table")
    p.add_argument("--title", help="a title shown before the report's own, e.g. the company (default: report.title)")
    p.add_argument("--png", action="store_true", help="also write every chart as PNG beside the report")
    p.add_argument("--svg", action="store_true", help="also write every chart as SVG beside the report")
    _duckdb_options(p, threads=False)
    p.add_argument("--quiet", "-q", action="store_true", help="do not list the files written")
    p.set_defaults(handler="rfm.cli._reports:cmd_report")

    p = sub.add_parser("run", help="the whole job in one process: scores, churn, offers, the three reports and "
                                   "campaign lists from one read of the orders")
    p.add_argument("orders", nargs="?", help="order lines (as for rfm score)")
    _engine_options(p)
    p.add_argument("--out", "-o", required=True, help="output directory (created; files in it are replaced)")
    p.add_argument("--config", "-c", help="YAML config")
    p.add_argument("--as-of", help="score as of this date, YYYY-MM-DD (default: day after the last order)")
    p.add_argument("--table", help=TABLE_HELP)
    _query_option(p)
    p.add_argument("--churn", choices=CHURN_METHODS, help="churn model (default: churn.method, auto when none)")
    p.add_argument("--offers", help="offer catalogue YAML (default: offers: in the config)")
    _lead_section_options(p, "the campaign report's leads section")
    p.add_argument("--no-backtest", action="store_true", help="leave the churn report's backtest out")
    p.add_argument("--csv", action="store_true", help="also write scores.csv")
    p.add_argument("--title", help="a title shown before each report's own, e.g. the company (default: report.title)")
    _duckdb_options(p)
    p.add_argument("--quiet", "-q", action="store_true", help="no summary and no list of the files written")
    p.set_defaults(handler="rfm.cli._reports:cmd_run")

    p = sub.add_parser("check", help="validate a config and show how its segment rules cover the score grid")
    p.add_argument("config", nargs="?", help="YAML config (default: built-in defaults)")
    p.set_defaults(handler="rfm.cli._customers:cmd_check")

    p = sub.add_parser("generate", help="write deterministic synthetic order lines, or leads with --leads")
    p.add_argument("--customers", type=int, help="number of customers")
    p.add_argument("--orders", type=int, help="number of purchase orders (>= customers)")
    p.add_argument("--leads", type=int, help="leads mode: N synthetic leads, their events and outcomes, into the "
                   "directory --out (planted conversion effects, see rfm leads generate)")
    p.add_argument("--events-per-lead", type=float, default=12.0, help="leads mode: mean events per lead")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--lines-per-order", type=float, default=1.5, help="mean lines per order (1 = one line each)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (leads mode: a directory)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    p.set_defaults(handler="rfm.cli._generate:cmd_generate")

    _add_leads(sub)

    p = sub.add_parser("demo", help="run the main job on the bundled demo data and write the results")
    p.add_argument("--out", "-o", default="rfm-demo", help="output directory (default: ./rfm-demo)")
    p.set_defaults(handler="rfm.cli._demo:cmd_demo")
    return parser


def _add_leads(sub: argparse._SubParsersAction) -> None:
    """``leads`` (score, history, calibrate, check, generate) and ``contacts``."""
    leads = sub.add_parser("leads", help="lead scoring: fit and engagement scores, history, calibration")
    lsub = leads.add_subparsers(dest="leads_command", metavar="LEADS_COMMAND", required=True)

    p = lsub.add_parser("score", help="score every lead: fit, engagement, grade, level, tier, stage, explanation")
    _lead_inputs(p)
    p.add_argument("--as-of", help="score as of this date, YYYY-MM-DD (inclusive); default: day after the last event")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
    p.add_argument("--contributions", action="store_true", help="add a points_<rule> column per rule")
    p.set_defaults(handler="rfm.cli._leads:cmd_leads_score")

    p = lsub.add_parser("history", help="scores at a series of dates (e.g. weekly) for trend charts")
    _lead_inputs(p)
    p.add_argument("--start", help="first date, YYYY-MM-DD (default: 12 weeks before --end)")
    p.add_argument("--end", help="last date, YYYY-MM-DD (default: day after the last event)")
    p.add_argument("--every", type=int, default=7, help="days between dates (default 7)")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (one row per lead and date)")
    p.set_defaults(handler="rfm.cli._leads:cmd_leads_history")

    p = lsub.add_parser("calibrate", help="check the grid against conversions; suggest points by lift or learn them")
    _lead_inputs(p)
    p.add_argument("outcomes", help="outcomes: lead id, converted (true/false), optional conversion date")
    p.add_argument("--as-of", help="score as of this date (before the conversions); default: day after the last event")
    p.add_argument("--min-leads", type=int, default=30, help="rules applying to fewer leads are flagged (default 30)")
    p.add_argument("--method", choices=("lift", "logistic"), default="lift",
                   help="lift: points proportional to lift (in sample); logistic: a scorecard learned by "
                        "regularised logistic regression, compared out of sample")
    p.add_argument("--pdo", type=float, default=20.0,
                   help="logistic: points that double the odds of conversion (default 20)")
    p.add_argument("--split-date", help="logistic: leads created before this date train, later ones test "
                                        "(default: the date by which 70%% of leads were created)")
    p.add_argument("--folds", type=int, help="logistic: k-fold cross-validation instead of a time split "
                                             "(the default without creation dates: 5)")
    p.add_argument("--write-grid", help="write the suggested (or learned) grid to this .yaml file (atomically)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table: the full report; csv/json: the per-rule table only")
    p.set_defaults(handler="rfm.cli._leads:cmd_leads_calibrate")

    p = lsub.add_parser("check", help="validate a grid and show its grades and tiers")
    p.add_argument("grid", nargs="?", help=GRID_HELP)
    p.set_defaults(handler="rfm.cli._leads:cmd_leads_check")

    p = lsub.add_parser("generate", help="write synthetic leads, events and outcomes with planted conversion effects")
    p.add_argument("--leads", type=int, required=True, help="number of leads")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--events-per-lead", type=float, default=12.0, help="mean background events per lead (default 12)")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="file format (default parquet)")
    p.add_argument("--out", "-o", required=True, help="output directory (leads.*, events.*, outcomes.*)")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    p.set_defaults(handler="rfm.cli._generate:cmd_leads_generate")

    p = sub.add_parser("contacts", help="join lead scores to customer scores and route every contact")
    p.add_argument("lead_scores", help="output of rfm leads score (.parquet or .csv)")
    p.add_argument("customer_scores", help="output of rfm score (.parquet or .csv): customer_id, segment, action, ...")
    p.add_argument("--customers", help="customer profile (customer_id, email, domain) when the scores have no email")
    p.add_argument("--match", help="match methods in order, e.g. customer_id,email,domain (default: the grid's)")
    p.add_argument("--grid", "-g", help=GRID_HELP + "; its contacts section sets match and routing")
    p.add_argument("--out", "-o", required=True, help="output file: .parquet or .csv (written atomically)")
    p.add_argument("--ambiguous-out", help="also write the ambiguous matches (lead_id, method, candidates) to .parquet")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary lines")
    p.set_defaults(handler="rfm.cli._leads:cmd_contacts")
