"""Typed exceptions and warnings.

The library raises these; the CLI maps each to a one-line message and an exit
code (see ``rfm.cli``).  Every message names the object (file, column, config
key), what was expected, an example of what was found, and the fix.
"""

from __future__ import annotations


class RfmError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = 1


class InputError(RfmError):
    """The order, lead or event data cannot be used as given."""

    exit_code = 2


class ConfigError(RfmError):
    """A YAML config, preset, rule set or fitted-scoring file is invalid."""

    exit_code = 3


class ModelError(RfmError):
    """A model fit (e.g. BG/NBD) is degenerate or did not converge."""

    exit_code = 4


class RfmWarning(UserWarning):
    """Something was dropped, flagged or fell back; the run still completed."""
