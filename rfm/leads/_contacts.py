"""The joined contact view: lead scores next to customer segments, and a routing.

Leads are matched to customers by the methods in ``match``, in order; a lead
matched (or found ambiguous) by one method is not tried by the next:

* ``customer_id``: the lead's customer id equals a customer's;
* ``email``: emails equal ignoring case and all white space;
* ``domain``: company domains equal (the lead's ``domain`` column, else its
  email domain; personal mail domains such as gmail.com never match).

A lead that matches several customers by a method is *ambiguous*: it is
reported, not joined (nothing is picked silently), and routed to review.
Routing: matched customers go to ``<action>:<segment>`` (their customer
action, e.g. ``upsell:Champions``); new leads by tier (hot -> sales, warm ->
nurture, cold -> mass campaign, configurable in the grid's ``contacts``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from rfm._files import write_frame
from rfm.engine import is_spark_frame
from rfm.errors import ConfigError, InputError, RfmWarning
from rfm.inputs import scan
from rfm.leads._grid import ContactsConfig, LeadGrid, load_grid

CUSTOMER_COLUMNS = ("segment", "action", "churn_risk", "next_best_offer")
_LEAD_NEEDS = ("lead_id", "tier")
_SCORE_NEEDS = ("customer_id", "segment", "action")
# What the contact view reads from customer scores (a Spark table is not brought whole to the driver).
_SPARK_COLUMNS = ("customer_id", *CUSTOMER_COLUMNS, "email", "domain", "website")


@dataclass
class Contacts:
    table: pl.DataFrame  # one row per lead (see docs/leads.md, "Joined contact view")
    match_counts: pl.DataFrame  # method, leads
    ambiguous: pl.DataFrame  # lead_id, method, candidates (list of customer ids)
    warnings: list[str] = field(default_factory=list)

    def write(self, path: str | Path) -> Path:
        """Write the joined table to .parquet or .csv, atomically."""
        return write_frame(self.table, path)


def _frame(source: Any, what: str) -> tuple[pl.DataFrame, str]:
    table = getattr(source, "table", None)
    if isinstance(table, pl.DataFrame):
        return table, f"{what} <{type(source).__name__}>"
    if is_spark_frame(source):  # customer scores from the Spark engine: only the columns the join reads
        wanted = [c for c in source.columns if c in _SPARK_COLUMNS]
        return pl.from_arrow(source.select(*wanted).toArrow()), f"{what} <Spark DataFrame>"  # type: ignore[return-value]
    frame, label, _ = scan(source, what, infer=True)
    try:
        return frame.collect(), label
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{label}: cannot read {what} ({str(exc).splitlines()[0]}); check the file") from None


def _require(frame: pl.DataFrame, label: str, columns: tuple[str, ...], fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{label}: missing column(s) {', '.join(missing)} (columns: {', '.join(frame.columns)}); {fix}"
        )


def _unique(frame: pl.DataFrame, label: str, key: str) -> None:
    dups = frame.group_by(key).agg(pl.len().alias("rows")).filter(pl.col("rows") > 1).sort(key)
    if dups.height:
        raise InputError(
            f'{label}: column "{key}" has {dups.height:,} duplicated id(s) (first: "{dups[key][0]}" on '
            f"{dups['rows'][0]} rows); give one row per customer"
        )


def _email(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String).str.to_lowercase().str.replace_all(r"\s+", "")


def _domain(expr: pl.Expr) -> pl.Expr:
    d = expr.cast(pl.String).str.to_lowercase().str.strip_chars()
    d = d.str.replace(r"^[a-z][a-z0-9+.\-]*://", "").str.replace(r"^www\.", "").str.replace(r"[/?#:].*$", "")
    return pl.when(d == "").then(None).otherwise(d)


def _company_domain(frame: pl.DataFrame, personal: list[str]) -> pl.Expr:
    from_email = _domain(_email("email").str.extract(r"@([^@]+)$", 1)) if "email" in frame.columns else None
    given = _domain(pl.col("domain")) if "domain" in frame.columns else None
    parts = [e for e in (given, from_email) if e is not None]
    if not parts:
        return pl.lit(None, dtype=pl.String)
    d = pl.coalesce(parts)
    return pl.when(d.is_in([p.lower() for p in personal])).then(None).otherwise(d)


def _customers(scores: pl.DataFrame, profile: pl.DataFrame | None, label: str, plabel: str) -> pl.DataFrame:
    """customer_id (text), email, domain and the customer columns, one row per customer."""
    cust = scores.with_columns(pl.col("customer_id").cast(pl.String))
    if profile is not None:
        _require(profile, plabel, ("customer_id",), "the profile needs customer_id and email and/or domain")
        _unique(profile, plabel, "customer_id")
        prof = profile.select([pl.col("customer_id").cast(pl.String)] + [
            pl.col(c).cast(pl.String).alias(f"__p_{c}") for c in ("email", "domain", "website") if c in profile.columns
        ])
        cust = cust.join(prof, on="customer_id", how="left")
        for c in ("email", "domain"):
            alt = [f"__p_{c}"] + (["__p_website"] if c == "domain" else [])
            have = [pl.col(c).cast(pl.String)] if c in cust.columns else []
            have += [pl.col(a) for a in alt if a in cust.columns]
            if have:
                cust = cust.with_columns(pl.coalesce(have).alias(c))
    return cust


def contacts(
    lead_scores: Any,
    customer_scores: Any,
    *,
    customers: Any = None,
    match: list[str] | None = None,
    grid: LeadGrid | str | Path | dict[str, Any] | None = None,
) -> Contacts:
    """Join lead scores to customer scores (see module docs).

    ``lead_scores``: a :class:`~rfm.leads.LeadScores`, a frame or a file from
    ``rfm leads score``.  ``customer_scores``: ``rfm score`` output (frame,
    file or result) with ``customer_id, segment, action`` and optionally
    ``email, churn_risk, next_best_offer``.  ``customers``: a profile with
    ``customer_id`` and ``email`` and/or ``domain`` when the scores lack them.
    """
    cfg: ContactsConfig = load_grid(grid).contacts
    methods = list(match) if match is not None else list(cfg.match)
    for m in methods:
        if m not in ("customer_id", "email", "domain"):
            raise ConfigError(f'contacts: unknown match method "{m}"; use customer_id, email and/or domain')
    leads, llabel = _frame(lead_scores, "lead scores")
    _require(leads, llabel, _LEAD_NEEDS, "pass the output of rfm leads score")
    scores, slabel = _frame(customer_scores, "customer scores")
    _require(scores, slabel, _SCORE_NEEDS, "pass the output of rfm score")
    _unique(scores, slabel, "customer_id")
    profile, plabel = (None, "") if customers is None else _frame(customers, "customers")
    cust = _customers(scores, profile, slabel, plabel)
    notes: list[str] = []

    none = pl.lit(None, pl.String)
    keys = {
        "customer_id": (pl.col("customer_id").cast(pl.String) if "customer_id" in leads.columns else none,
                        pl.col("customer_id")),
        "email": (_email("email") if "email" in leads.columns else none,
                  _email("email") if "email" in cust.columns else None),
        "domain": (_company_domain(leads, cfg.personal_domains), _company_domain(cust, cfg.personal_domains)
                   if {"email", "domain"} & set(cust.columns) else None),
    }
    for m in methods:
        if keys[m][1] is None:
            raise InputError(
                f"{slabel}: matching by {m} needs customer {'emails' if m == 'email' else 'domains or emails'}, but "
                f"the customer scores have no {m} column and no customer profile gives one; pass customers= "
                "(--customers FILE with customer_id, email, domain) or drop that match method"
            )
    remaining = leads.select("lead_id", *(keys[m][0].alias(f"__k_{m}") for m in methods))
    found, ambiguous = [], []
    for m in methods:
        cands = (
            remaining.select("lead_id", pl.col(f"__k_{m}").alias("__key")).drop_nulls("__key")
            .join(cust.select("customer_id", keys[m][1].alias("__key")).drop_nulls("__key").unique(), on="__key")
            .group_by("lead_id").agg(pl.col("customer_id").unique().sort().alias("candidates"))
        )
        one = cands.filter(pl.col("candidates").list.len() == 1)
        found.append(one.select("lead_id", pl.col("candidates").list.first().alias("customer_id"),
                                pl.lit(m).alias("match_method")))
        ambiguous.append(cands.filter(pl.col("candidates").list.len() > 1)
                         .select("lead_id", pl.lit(m).alias("method"), "candidates"))
        remaining = remaining.join(cands.select("lead_id"), on="lead_id", how="anti")
    amb = pl.concat(ambiguous).sort("lead_id") if ambiguous else pl.DataFrame(
        schema={"lead_id": leads.schema["lead_id"], "method": pl.String, "candidates": pl.List(pl.String)})
    matched = pl.concat(found) if found else pl.DataFrame(schema={"lead_id": leads.schema["lead_id"],
                                                                   "customer_id": pl.String, "match_method": pl.String})
    if "customer_id" in leads.columns and "customer_id" in methods:
        stray = leads.filter(pl.col("customer_id").is_not_null()).join(
            cust.select(pl.col("customer_id").alias("__c")), left_on=pl.col("customer_id").cast(pl.String),
            right_on="__c", how="anti",
        )
        if stray.height:
            first = stray.sort("lead_id")["customer_id"][0]
            notes.append(
                f'{llabel}: {stray.height:,} lead(s) carry a customer_id not in {slabel} (first: "{first}"); '
                "they were matched by the other methods or not at all"
            )
    if amb.height:
        notes.append(
            f'{amb.height:,} lead(s) match several customers (first: "{amb["lead_id"][0]}" by {amb["method"][0]}: '
            f"{', '.join(amb['candidates'][0].to_list())}); they are not joined and are routed to "
            f'"{cfg.routing.ambiguous}" — see the ambiguous table'
        )
    extra = [pl.col(c) if c in cust.columns else pl.lit(None, dtype=pl.String).alias(c) for c in CUSTOMER_COLUMNS]
    r = cfg.routing
    routing = (
        pl.when(pl.col("match_method") == "ambiguous").then(pl.lit(r.ambiguous))
        .when(pl.col("customer_id").is_not_null())
        .then(pl.concat_str(pl.col("action").cast(pl.String), pl.lit(":"), pl.col("segment").cast(pl.String)))
        .when(pl.col("tier") == "hot").then(pl.lit(r.hot))
        .when(pl.col("tier") == "warm").then(pl.lit(r.warm))
        .otherwise(pl.lit(r.cold))
    )
    table = (
        leads.drop("customer_id", strict=False)
        .join(matched, on="lead_id", how="left")
        .join(amb.select("lead_id", pl.lit("ambiguous").alias("__amb")), on="lead_id", how="left")
        .with_columns(pl.coalesce("match_method", "__amb", pl.lit("none")).alias("match_method"))
        .drop("__amb")
        .join(cust.select("customer_id", *extra), on="customer_id", how="left")
        .with_columns(routing.alias("routing"))
        .sort("lead_id")
    )
    order = [*methods, "ambiguous", "none"]
    counts = (
        pl.DataFrame({"method": order})
        .join(table.group_by("match_method").agg(pl.len().alias("leads")), left_on="method", right_on="match_method",
              how="left")
        .with_columns(pl.col("leads").fill_null(0).cast(pl.Int64))
    )
    for note in notes:
        warnings.warn(note, RfmWarning, stacklevel=2)
    return Contacts(table, counts, amb, notes)
