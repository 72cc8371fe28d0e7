"""Which engine to open, and with what settings: the one place that picks an engine."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from rfm.engine._duckdb import SIZE, DuckDBEngine
from rfm.errors import ConfigError

if TYPE_CHECKING:
    from rfm.engine._engine import Engine

EngineName = Literal["duckdb", "spark"]
SPARK_EXTRA = "pip install 'rfm[spark]'"


@dataclass(frozen=True)
class EngineSettings:
    """An engine and its settings.

    ``name``: ``duckdb`` (in process, the default) or ``spark``.  DuckDB reads
    ``memory_limit``, ``threads`` and ``temp_directory``; Spark reads
    ``remote`` (a Spark Connect URL such as ``sc://host:15002``; None: a local
    session, or the active one), ``conf`` (extra ``spark.*`` settings) and
    ``session`` (an existing SparkSession, e.g. the one a Spark DataFrame
    input belongs to)."""

    name: EngineName = "duckdb"
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None
    progress: bool = False
    remote: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    session: Any = None

    def __post_init__(self) -> None:
        # checked before any engine starts, in the words of the options that set them
        if self.memory_limit is not None and not SIZE.match(str(self.memory_limit)):
            raise ConfigError(f'--memory-limit: "{self.memory_limit}" is not a size; use e.g. 4GB, 512MB or 50%')
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"--threads: {self.threads} is not a thread count; use a whole number of at least 1")
        cores = os.cpu_count() or 1
        if self.threads is not None and self.threads > max(64, 8 * cores):
            # DuckDB starts every thread it is given: 100,000 of them exhaust the machine
            raise ConfigError(f"--threads: {self.threads} is far more than the {cores} cores here; "
                              f"use at most {max(64, 8 * cores)}")


def spark_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pyspark", "sqlglot"))


def open_engine(settings: EngineSettings | None = None) -> Engine:
    """A new engine as ``settings`` say; ``spark`` without the extra is a :class:`ConfigError` naming it."""
    settings = settings or EngineSettings()
    if settings.name == "duckdb":
        return DuckDBEngine(
            memory_limit=settings.memory_limit,
            threads=settings.threads,
            temp_directory=settings.temp_directory,
            progress=settings.progress,
        )
    if settings.name == "spark":
        if not spark_available():
            raise ConfigError(f"the Spark engine needs pyspark and sqlglot; install them with: {SPARK_EXTRA}")
        from rfm.engine._spark import SparkEngine  # pyspark and sqlglot: only when Spark is asked for

        return SparkEngine(remote=settings.remote, conf=dict(settings.conf), session=settings.session)
    raise ConfigError(f"unknown engine {settings.name!r}; use duckdb or spark")
