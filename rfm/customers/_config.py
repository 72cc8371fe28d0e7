"""The run configuration: one YAML file, validated by a schema, frozen once loaded.

Every section is a :class:`~rfm.inputs.StrictModel`: unknown keys are errors
with a "did you mean" hint, and nothing changes a loaded config in place (a
caller that needs a variant derives one with ``model_copy(update=...)``).
Defaults are the documented behaviour (docs/configuration.md); shipped
presets live in ``rfm/presets``.  The ``churn`` section's schema lives here
with the rest of the file; the churn step (``rfm.churn``) reads it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rfm.customers._segments import SegmentsConfig, resolve_rules
from rfm.errors import ConfigError
from rfm.inputs import PRESETS, InputConfig, StrictModel, YamlModel, did_you_mean, load_model


class CutPoints(StrictModel):
    """Fixed business cut points per dimension, in the metric's own units.

    Each cut point is the inclusive upper bound of a bin: ``frequency: [1, 2, 4, 8]``
    gives F = 1 for 1 order, 2 for 2, 3 for 3-4, 4 for 5-8, 5 above 8;
    ``recency_days: [30, 90, 180, 365]`` gives R = 5 up to 30 days ... R = 1 past 365.
    """

    recency_days: tuple[float, ...] | None = None
    frequency: tuple[float, ...] | None = None
    monetary: tuple[float, ...] | None = None

    @field_validator("recency_days", "frequency", "monetary")
    @classmethod
    def _increasing(cls, value: tuple[float, ...] | None, info: Any) -> tuple[float, ...] | None:
        if value is not None:
            bad = next((i for i in range(1, len(value)) if value[i] <= value[i - 1]), None)
            if bad is not None:
                raise ValueError(
                    f"cut points must be strictly increasing, but {value[bad]:g} follows {value[bad - 1]:g} in {list(value)}"
                )
        return value


class ScoringConfig(StrictModel):
    bins: int = Field(5, ge=2, le=10, description="scores run 1..bins; higher is better")
    monetary: Literal["net", "gross", "aov"] = "net"
    window_days: int | None = Field(None, gt=0, description="frequency and monetary over the last N days only")
    cut_points: CutPoints = CutPoints()

    @model_validator(mode="after")
    def _cut_count(self) -> ScoringConfig:
        for dim in ("recency_days", "frequency", "monetary"):
            cuts = getattr(self.cut_points, dim)
            if cuts is not None and len(cuts) != self.bins - 1:
                raise ValueError(
                    f"cut_points.{dim} has {len(cuts)} cut points but bins is {self.bins}; "
                    f"give exactly {self.bins - 1} (one fewer than the number of bins)"
                )
        return self


class ClvConfig(StrictModel):
    horizon_months: int = Field(12, ge=0, le=120, description="CLV horizon in months")
    monthly_discount: float = Field(0.01, ge=0, lt=1, description="discount rate per month")


class PropensityConfig(StrictModel):
    """churn.method propensity: the gradient-boosted classifier and its calibration."""

    seed: int = Field(0, ge=0, description="seed of the training/calibration split and the booster")
    calibration: Literal["sigmoid", "isotonic"] = Field(
        "sigmoid", description="how the held-out slice calibrates the probabilities (Platt or isotonic)"
    )
    calibration_share: float = Field(0.2, ge=0.05, le=0.5, description="share of training customers held out")


class ChurnConfig(StrictModel):
    method: Literal["none", "auto", "best", "bgnbd", "pnbd", "recency_ratio", "propensity"] = "none"
    horizon_days: int = Field(90, gt=0, description="expected_orders counts the next N days")
    time_unit_days: float = Field(7.0, gt=0, description="BG/NBD time unit (7 = weeks, as in the literature)")
    clv: ClvConfig = ClvConfig()
    propensity: PropensityConfig = PropensityConfig()
    model: str | None = Field(None, description="a saved churn model (JSON) to apply instead of fitting")


class EngineConfig(StrictModel):
    """Where the SQL runs: DuckDB in process (default) or Apache Spark (extra ``rfm[spark]``)."""

    name: Literal["duckdb", "spark"] = "duckdb"
    remote: str | None = Field(None, description="Spark Connect URL (sc://host:15002); null: a local Spark session")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="extra spark.* settings for the session, e.g. spark.driver.memory: 16g"
    )


class ReportConfig(StrictModel):
    """How the HTML reports present the numbers (codes are checked against CLDR when a report is built)."""

    title: str | None = Field(
        None, description="shown before each report's own title, e.g. the company: 'ACME Ltd · Customer segments'"
    )
    currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the order amounts, e.g. EUR or USD; money then shows its symbol"
    )
    locale: str = Field(
        "en", pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?$",
        description="how numbers are written: en 1,234.50, fr 1 234,50, de 1.234,50 (a CLDR locale code)",
    )


class Config(YamlModel):
    input: InputConfig = InputConfig()
    engine: EngineConfig = EngineConfig()
    as_of: date | None = None
    scoring: ScoringConfig = ScoringConfig()
    segments: SegmentsConfig = SegmentsConfig()
    churn: ChurnConfig = ChurnConfig()
    offers: str | None = Field(None, description="offer catalogue (YAML); rfm score then adds next_best_offer")
    actions: tuple[str, ...] = ("retain", "upsell", "reactivate", "nurture")
    report: ReportConfig = ReportConfig()


def load_config(config: str | Path | dict[str, Any] | Config | None = None) -> Config:
    """Load and validate a config from a YAML path, a dict, or return defaults.

    The segment rule set is resolved and checked against the score grid here,
    so a bad rule fails before any data is read.
    """
    if isinstance(config, Config):
        return config
    cfg = load_model(Config, config, what="config")
    if cfg.source not in ("defaults", "config"):
        # Paths inside a config file are relative to that file.
        base = Path(cfg.source).resolve().parent
        update: dict[str, Any] = {}
        if cfg.offers and not Path(cfg.offers).is_absolute():
            update["offers"] = str(base / cfg.offers)
        if cfg.churn.model and not Path(cfg.churn.model).is_absolute():
            update["churn"] = cfg.churn.model_copy(update={"model": str(base / cfg.churn.model)})
        if update:
            cfg = cfg.model_copy(update=update)
    # Resolving the rule set checks presets, actions and bins together.
    resolve_rules(cfg.segments, bins=cfg.scoring.bins, actions=cfg.actions, source=cfg.source)
    return cfg


def preset_path(name: str) -> Path:
    """Path of a shipped config preset (``rfm/presets/<name>.yaml``)."""
    path = PRESETS / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        raise ConfigError(f'no config preset "{name}"{did_you_mean(name, known)} (shipped: {", ".join(known)})')
    return path
