"""The run configuration: one YAML file, validated by a schema.

Every section is a :class:`~rfm.schema.StrictModel`; unknown keys are errors
with a "did you mean" hint.  Defaults are the documented behaviour (README,
"Configuration"); shipped presets live in ``rfm/presets``.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from rfm.errors import ConfigError
from rfm.schema import StrictModel, read_yaml, validate
from rfm.churn import ChurnConfig
from rfm.segments import SegmentsConfig

PRESETS = Path(__file__).parent / "presets"

#: Column roles an order line can have; the first four are required.
REQUIRED_ROLES = ("customer_id", "order_id", "order_date", "amount")
OPTIONAL_ROLES = ("category", "status", "quantity")

#: strftime-style codes and separators only: a date format is never SQL.
_DATE_FORMAT = re.compile(r"^[%A-Za-z0-9 :/.,_T\-]+$")


class Columns(StrictModel):
    """Which input column plays which role. Unset roles are detected by common names."""

    customer_id: str | None = None
    order_id: str | None = None
    order_date: str | None = None
    amount: str | None = None
    category: str | None = None
    status: str | None = None
    quantity: str | None = None


class CsvOptions(StrictModel):
    """How to read CSV/text files. Unset options are sniffed by DuckDB."""

    delimiter: str | None = Field(None, description='one character, or "whitespace" for runs of spaces/tabs')
    header: bool | None = None
    decimal: Literal[".", ","] = "."
    names: list[str] | None = Field(None, description="column names for a file without a header row")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and value != "whitespace" and len(value) != 1:
            raise ValueError('delimiter must be one character or "whitespace"')
        return value


class InputConfig(StrictModel):
    columns: Columns = Columns()
    csv: CsvOptions = CsvOptions()
    date_format: str | None = Field(None, description='strftime format of text dates, e.g. "%d/%m/%Y"')
    table: str | None = Field(None, description="table name when ORDERS is a DuckDB database file")
    excluded_statuses: list[str] = Field(
        default_factory=lambda: ["cancelled", "canceled", "void", "voided", "failed", "test"],
        description="order lines with one of these statuses (case-insensitive) are dropped and counted",
    )
    duplicates: Literal["unchecked", "keep", "drop"] = Field(
        "unchecked",
        description="exact duplicate lines: unchecked (every line counts; the one-scan fast path), "
        "keep (counted and reported, kept) or drop (counted once, the copies reported)",
    )
    order_id_fallback: Literal["none", "line", "customer_day"] = Field(
        "none", description="when there is no order id column: each line is an order, or each customer-day is"
    )

    @field_validator("date_format")
    @classmethod
    def _safe_format(cls, value: str | None) -> str | None:
        if value is not None and (not _DATE_FORMAT.match(value) or "%" not in value):
            raise ValueError('date_format must be a strftime pattern such as "%Y-%m-%d" or "%d/%m/%Y"')
        return value


class CutPoints(StrictModel):
    """Fixed business cut points per dimension, in the metric's own units.

    Each cut point is the inclusive upper bound of a bin: ``frequency: [1, 2, 4, 8]``
    gives F = 1 for 1 order, 2 for 2, 3 for 3-4, 4 for 5-8, 5 above 8;
    ``recency_days: [30, 90, 180, 365]`` gives R = 5 up to 30 days ... R = 1 past 365.
    """

    recency_days: list[float] | None = None
    frequency: list[float] | None = None
    monetary: list[float] | None = None

    @field_validator("recency_days", "frequency", "monetary")
    @classmethod
    def _increasing(cls, value: list[float] | None, info: Any) -> list[float] | None:
        if value is not None:
            bad = next((i for i in range(1, len(value)) if value[i] <= value[i - 1]), None)
            if bad is not None:
                raise ValueError(
                    f"cut points must be strictly increasing, but {value[bad]:g} follows {value[bad - 1]:g} in {value}"
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


class Config(StrictModel):
    input: InputConfig = InputConfig()
    as_of: date | None = None
    scoring: ScoringConfig = ScoringConfig()
    segments: SegmentsConfig = SegmentsConfig()
    churn: ChurnConfig = ChurnConfig()
    offers: str | None = Field(None, description="offer catalogue (YAML); rfm score then adds next_best_offer")
    actions: list[str] = Field(default_factory=lambda: ["retain", "upsell", "reactivate", "nurture"])

    #: Where the config came from, for messages ("cfg.yaml", "defaults").
    _source: str = PrivateAttr("defaults")

    @property
    def source(self) -> str:
        return self._source


def load_config(config: str | Path | dict[str, Any] | Config | None = None) -> Config:
    """Load and validate a config from a YAML path, a dict, or return defaults.

    The segment rule set is resolved and checked against the score grid here,
    so a bad rule fails before any data is read.
    """
    if isinstance(config, Config):
        return config
    if config is None:
        data: Any = {}
        source = "defaults"
    elif isinstance(config, dict):
        data, source = config, "config"
    else:
        data, source = read_yaml(config), str(config)
    cfg = validate(Config, data, source)
    cfg._source = source
    if source not in ("defaults", "config"):
        # Paths inside a config file are relative to that file.
        base = Path(source).resolve().parent
        if cfg.offers and not Path(cfg.offers).is_absolute():
            cfg.offers = str(base / cfg.offers)
        if cfg.churn.model and not Path(cfg.churn.model).is_absolute():
            cfg.churn.model = str(base / cfg.churn.model)
    # Resolving the rule set checks presets, actions and bins together.
    from rfm.segments import resolve_rules

    resolve_rules(cfg.segments, bins=cfg.scoring.bins, actions=cfg.actions, source=source)
    return cfg


def preset_path(name: str) -> Path:
    """Path of a shipped config preset (``rfm/presets/<name>.yaml``)."""
    path = PRESETS / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS.glob("*.yaml"))
        from rfm.schema import did_you_mean

        raise ConfigError(f'no config preset "{name}"{did_you_mean(name, known)} (shipped: {", ".join(known)})')
    return path
