"""Cut points: fitted on one snapshot (tie-safe quantiles), fixed in the config, or reused from a saved scoring."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from rfm._files import write_text
from rfm.customers._config import ScoringConfig
from rfm.engine import Table
from rfm.errors import ConfigError
from rfm.inputs import read_yaml

DIMENSIONS = ("recency_days", "frequency", "monetary")


@dataclass(frozen=True)
class Scoring:
    """Cut points per dimension: fitted on one snapshot, reusable on another."""

    bins: int
    monetary: str
    window_days: int | None
    cut_points: dict[str, list[float]]
    origin: dict[str, str]  # dimension -> "fitted" | "config" | "saved"
    fitted_on: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> Path:
        text = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        return write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> Scoring:
        data = read_yaml(path)  # JSON is YAML
        try:
            scoring = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{path}: not a saved scoring file ({exc}); write one with rfm score --save-scoring") from None
        scoring.check(str(path))
        return scoring

    def check(self, where: str = "scoring") -> None:
        """Cut points fit the bins: bins - 1 of them per dimension, not decreasing."""
        if not isinstance(self.bins, int) or not 2 <= self.bins <= 10:
            raise ConfigError(f"{where}: bins must be a whole number from 2 to 10, got {self.bins!r}")
        for dim in DIMENSIONS:
            cuts = self.cut_points.get(dim)
            if cuts is None or len(cuts) != self.bins - 1:
                raise ConfigError(f"{where}: cut_points.{dim} must list {self.bins - 1} cut points")
            if any(b < a for a, b in zip(cuts, cuts[1:])):
                raise ConfigError(f"{where}: cut_points.{dim} must not decrease: {cuts}")


def resolve_scoring(scoring: Scoring | str | Path | None) -> Scoring | None:
    """A saved scoring given as an object or a file, checked; None to fit new cut points."""
    saved = Scoring.load(scoring) if isinstance(scoring, (str, Path)) else scoring
    if saved is not None:
        saved.check()
    return saved


def cut_points(customers: Table, cfg: ScoringConfig, saved: Scoring | None, *, as_of: date, source: str) -> Scoring:
    """The cut points to score ``customers`` with: per dimension from the config, else the saved scoring, else fitted."""
    if saved is not None:
        if saved.monetary != cfg.monetary or saved.window_days != cfg.window_days:
            raise ConfigError(
                f"saved scoring was fitted with monetary={saved.monetary}, window_days={saved.window_days} but the "
                f"config says monetary={cfg.monetary}, window_days={cfg.window_days}; make them agree"
            )
        bins = saved.bins
    else:
        bins = cfg.bins
    fitted_rows = customers.engine.fetch("customers.fit_cut_points", {"customers": customers}, bins=bins)
    cuts: dict[str, list[float]] = {}
    origin: dict[str, str] = {}
    for dim in DIMENSIONS:
        configured = getattr(cfg.cut_points, dim)
        if configured is not None and bins == cfg.bins:
            cuts[dim], origin[dim] = [float(c) for c in configured], "config"
        elif saved is not None:
            cuts[dim], origin[dim] = list(saved.cut_points[dim]), "saved"
        else:
            values = fitted_rows.filter(pl.col("metric") == dim).sort("k")["cut"].to_list()
            cuts[dim], origin[dim] = sorted(float(v) for v in values), "fitted"
    return Scoring(
        bins=bins,
        monetary=cfg.monetary,
        window_days=cfg.window_days,
        cut_points=cuts,
        origin=origin,
        fitted_on={"as_of": as_of.isoformat(), "customers": customers.count(), "source": source},
    )
