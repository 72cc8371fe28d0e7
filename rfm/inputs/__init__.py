"""Everything that comes in: order lines, leads, events, outcomes and YAML files.

* order lines (files, globs, DuckDB tables, frames) are read into the engine
  and normalised: :func:`open_orders` -> :class:`OrdersSource`;
* leads, events and outcomes are read as polars lazy frames: :func:`read_frame`;
* both map columns to roles with one mapper (:func:`map_roles`; common names
  per kind in ``rfm/presets/columns.yaml``);
* every YAML file (config, offer catalogue, lead grid, report definition,
  segment rules, saved scorings and models) is validated by one loader
  (:func:`load_model`) against a frozen schema (:class:`StrictModel`), with
  "did you mean" hints for unknown keys.
"""

from rfm.inputs._config import OPTIONAL_ROLES, REQUIRED_ROLES, Columns, CsvOptions, InputConfig
from rfm.inputs._frames import (
    InputFrame,
    boolean,
    check_dates,
    first_bad,
    local_date,
    numeric,
    present,
    read_frame,
    scan,
)
from rfm.inputs._orders import OrdersSource, describe_source, diagnose, open_orders
from rfm.inputs._roles import Roles, aliases, map_roles, norm
from rfm.inputs._values import parse_date
from rfm.inputs._yaml import (
    PRESETS,
    StrictModel,
    YamlModel,
    close_match,
    did_you_mean,
    load_model,
    read_yaml,
    validate,
)

__all__ = [
    "OPTIONAL_ROLES",
    "PRESETS",
    "REQUIRED_ROLES",
    "Columns",
    "CsvOptions",
    "InputConfig",
    "InputFrame",
    "OrdersSource",
    "Roles",
    "StrictModel",
    "YamlModel",
    "aliases",
    "boolean",
    "check_dates",
    "describe_source",
    "diagnose",
    "close_match",
    "did_you_mean",
    "first_bad",
    "load_model",
    "local_date",
    "map_roles",
    "norm",
    "numeric",
    "open_orders",
    "parse_date",
    "present",
    "read_frame",
    "read_yaml",
    "scan",
    "validate",
]
