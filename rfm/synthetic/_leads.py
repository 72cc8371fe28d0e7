"""Synthetic leads, events and outcomes with planted conversion effects.

Each lead gets a profile and behaviour flags drawn independently; its
conversion probability is ``BASE_RATE`` times the multiplier of every planted
effect it has (capped at 0.95).  Calibration on this data should find the
effects in the order of :data:`PLANTED`, flag the 1x effects as having no
predictive value and give the below-1x effect negative points.

Events fall in the ``days`` days ending on ``end``; conversions happen 2 to 91
days after ``end``, so scoring as of the default date (the day after the last
event) sees no outcome leak.  Deterministic for a given seed.  Public in
:mod:`rfm.synthetic` as ``generate_leads`` (files) and ``generate_lead_frames``
(frames).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from rfm.errors import InputError
from rfm.synthetic._common import stream, write_atomic

#: Planted multipliers on the conversion probability, with how common each flag is.
#: Names match the rules of the shipped grid (``rfm/presets/leads_grid.yaml``).
PLANTED: dict[str, tuple[float, float, str]] = {
    "demo_request": (6.0, 0.06, "a demo request in the last 60 days"),
    "trial_signup": (4.0, 0.06, "a trial started in the last 60 days"),
    "decision_maker": (3.0, 0.30, "a VP / director / C-level title"),
    "target_industry": (2.0, 0.35, "software, saas or fintech"),
    "pricing_page": (1.5, 0.30, "2-4 pricing page views in the last 30 days"),
    "webinar": (1.0, 0.15, "attended a webinar: no effect"),
    "target_country": (1.0, 0.60, "a country with sales coverage: no effect"),
    "student": (0.2, 0.08, "a student or intern title"),
}
BASE_RATE = 0.02

_DECISION = ["VP Marketing", "Director of IT", "CTO", "Head of Sales", "CEO", "VP Engineering"]
_STUDENT = ["Student", "Intern", "PhD Student"]
_OTHER_TITLES = ["Engineer", "Analyst", "Marketing Manager", "Consultant", "Accountant", "Designer"]
_TARGET_IND = ["software", "saas", "fintech"]
_OTHER_IND = ["manufacturing", "retail", "healthcare", "education", "government"]
_TARGET_COUNTRY = ["US", "GB", "DE", "FR", "NL", "CA"]
_OTHER_COUNTRY = ["IN", "BR", "ES", "IT", "PL", "MX"]
_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com"]
_SOURCES = ["web", "referral", "event", "partner", "paid_search"]
_PAGES = ["/blog/scoring", "/blog/rfm", "/blog/churn", "/product", "/docs", "/about", "/careers"]


@dataclass(frozen=True)
class GeneratedLeads:
    leads: int
    events: int
    conversions: int
    files: tuple[Path, ...]


def _pick(rng: np.random.Generator, names: list[str], n: int) -> np.ndarray:
    return np.asarray(names, dtype=object)[rng.integers(0, len(names), n)]


def generate_lead_frames(
    leads: int = 5000, *, seed: int = 0, events_per_lead: float = 12.0, end: date = date(2024, 6, 29), days: int = 180
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(leads, events, outcomes) frames; see the module docs."""
    if leads < 1:
        raise InputError(f"leads: {leads} is not a number of leads; use a whole number >= 1")
    if events_per_lead < 0 or days < 60:
        raise InputError("events_per_lead must be >= 0 and days >= 60 (planted events use the last 60 days)")
    rng = stream(seed)
    n = leads
    flags = {name: rng.random(n) < share for name, (_, share, _) in PLANTED.items()}
    flags["student"] &= ~flags["decision_maker"]
    title = np.where(
        flags["decision_maker"], _pick(rng, _DECISION, n),
        np.where(flags["student"], _pick(rng, _STUDENT, n), _pick(rng, _OTHER_TITLES, n)),
    )
    ids = np.char.add("L", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    company_no = rng.integers(1, max(2, n // 3), n)
    personal = rng.random(n) < 0.2
    company_domain = np.char.add(np.char.add("co", company_no.astype(str)), ".com")
    email_domain = np.where(personal, _pick(rng, _DOMAINS, n), company_domain).astype(str)
    email = np.char.add(np.char.add(np.char.add("user", np.arange(1, n + 1).astype(str)), "@"), email_domain)
    industry = np.where(flags["target_industry"], _pick(rng, _TARGET_IND, n), _pick(rng, _OTHER_IND, n))
    country = np.where(flags["target_country"], _pick(rng, _TARGET_COUNTRY, n), _pick(rng, _OTHER_COUNTRY, n))
    size = np.round(np.exp(rng.normal(4.5, 1.5, n))).astype(np.int64)
    start = end - timedelta(days=days - 1)
    created = np.datetime64(start) - rng.integers(0, 365, n).astype("timedelta64[D]")
    lead_df = pl.DataFrame(
        {
            "lead_id": ids,
            "email": email,
            "company": np.char.add("Company ", company_no.astype(str)),
            "job_title": title.astype(str),
            "industry": industry.astype(str),
            "company_size": size,
            "country": country.astype(str),
            "source": _pick(rng, _SOURCES, n).astype(str),
            "created_date": created,
        }
    ).with_columns(
        pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise(pl.col("company_size")).alias("company_size"),
        pl.col("created_date").cast(pl.Date),
    )
    # Background events: page views, opens and clicks, unrelated to conversion.
    counts = rng.poisson(events_per_lead, n)
    who = np.repeat(np.arange(n), counts)
    m = who.size
    kind = rng.choice(3, m, p=[0.5, 0.35, 0.15])
    bg_type = np.asarray(["page_view", "email_open", "email_click"], dtype=object)[kind]
    bg_detail = np.where(kind == 0, _pick(rng, _PAGES, m), "Newsletter")
    bg_age = rng.integers(0, days, m)
    parts = [(who, bg_type, bg_age, bg_detail)]

    def planted(flag: str, etype: str, window: int, detail: str, repeats: tuple[int, int] = (1, 1)) -> None:
        idx = np.flatnonzero(flags[flag])
        reps = rng.integers(repeats[0], repeats[1] + 1, idx.size)
        who_p = np.repeat(idx, reps)
        parts.append((who_p, np.full(who_p.size, etype, dtype=object), rng.integers(0, window, who_p.size),
                      np.full(who_p.size, detail, dtype=object)))

    planted("demo_request", "demo_request", 60, "Demo form")
    planted("trial_signup", "trial_signup", 60, "Trial form")
    planted("pricing_page", "page_view", 30, "/pricing", (2, 4))
    planted("webinar", "webinar_attended", days, "Lead scoring webinar")
    lead_i = np.concatenate([p[0] for p in parts])
    age = np.concatenate([p[2] for p in parts])
    seconds = rng.integers(0, 86_400, lead_i.size)
    stamp = (np.datetime64(datetime.combine(end, datetime.min.time()), "s") - age.astype("timedelta64[D]")
             + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
    event_df = (
        pl.DataFrame(
            {
                "lead_id": ids[lead_i],
                "event_type": np.concatenate([p[1] for p in parts]).astype(str),
                "timestamp": stamp,
                "detail": np.concatenate([p[3] for p in parts]).astype(str),
            }
        )
        .with_columns(pl.col("timestamp").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
        .sort("lead_id", "timestamp", "event_type")
    )
    prob = np.full(n, BASE_RATE)
    for name, (mult, _, _) in PLANTED.items():
        prob = np.where(flags[name], prob * mult, prob)
    converted = rng.random(n) < np.minimum(prob, 0.95)
    conv_date = np.datetime64(end) + rng.integers(2, 92, n).astype("timedelta64[D]")
    outcome_df = pl.DataFrame({"lead_id": ids, "converted": converted, "conversion_date": conv_date}).with_columns(
        pl.when(pl.col("converted")).then(pl.col("conversion_date").cast(pl.Date)).alias("conversion_date")
    )
    return lead_df, event_df, outcome_df


def generate_leads(
    out_dir: str | Path,
    *,
    leads: int = 5000,
    seed: int = 0,
    events_per_lead: float = 12.0,
    end: date = date(2024, 6, 29),
    days: int = 180,
    fmt: str = "parquet",
) -> GeneratedLeads:
    """Write ``leads``, ``events`` and ``outcomes`` (.parquet or .csv) into ``out_dir``, atomically each."""
    out = Path(out_dir)
    if fmt not in ("parquet", "csv"):
        raise InputError(f'format "{fmt}" is not supported; use parquet or csv')
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory; choose a directory for the three files")
    out.mkdir(parents=True, exist_ok=True)
    frames = generate_lead_frames(leads, seed=seed, events_per_lead=events_per_lead, end=end, days=days)
    files = []
    for name, frame in zip(("leads", "events", "outcomes"), frames):
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            write_atomic(path, lambda tmp, f=frame: f.write_parquet(tmp))
        else:
            write_atomic(path, lambda tmp, f=frame: f.write_csv(tmp))
        files.append(path)
    lead_df, event_df, outcome_df = frames
    return GeneratedLeads(lead_df.height, event_df.height, int(outcome_df["converted"].sum()), tuple(files))
