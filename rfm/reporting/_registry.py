"""Every named block a report definition can use, collected in one place.

Each module of blocks exports its own ``CHARTS``, ``TABLES`` (and
``FIGURES``) dicts; this module imports them explicitly and merges them, so
the registry is what you read here -- no block registers itself on import.
To add a chart: write the chart function (``_charts.py`` or a section's
module), a block function that feeds it aggregated rows, add the block to its
module's dict, and name it in a ``reports/*.yaml`` definition.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from rfm.errors import ConfigError
from rfm.inputs import did_you_mean, load_model
from rfm.reporting import _backtest_charts, _blocks, _lead_charts
from rfm.reporting._blocks import BlockFn, FigureFn
from rfm.reporting._definitions import KINDS, LEADS, ReportDefinition, check_names, reports_dir


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        clash = sorted(set(merged) & set(part))
        if clash:
            raise RuntimeError(f"report block names defined twice: {clash}")
        merged.update(part)
    return merged


CHARTS: dict[str, BlockFn] = _merge(_blocks.CHARTS, _backtest_charts.CHARTS, _lead_charts.CHARTS)
TABLES: dict[str, BlockFn] = _merge(_blocks.TABLES, _backtest_charts.TABLES, _lead_charts.TABLES)
FIGURES: dict[str, FigureFn] = _merge(_blocks.FIGURES, _lead_charts.FIGURES)


def load_definition(kind_or_path: str | Path) -> ReportDefinition:
    """A shipped definition by kind (``segments``, ``campaign``, ``churn``, ``leads``) or a YAML path."""
    path = Path(kind_or_path)
    if path.suffix not in (".yaml", ".yml"):
        known = (*KINDS, LEADS)
        if str(kind_or_path) not in known:
            raise ConfigError(
                f'report "{kind_or_path}": no such report{did_you_mean(str(kind_or_path), known)}; '
                f"choose one of {', '.join(KINDS)}"
            )
        path = reports_dir() / f"{kind_or_path}.yaml"
    return _load(path)


@cache
def _load(path: Path) -> ReportDefinition:
    defn = load_model(ReportDefinition, path)
    check_names(defn, set(CHARTS), set(TABLES), set(FIGURES))
    return defn
