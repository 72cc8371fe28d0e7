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


class EngineError(RfmError):
    """The SQL engine failed (out of memory, an unreadable file, a broken statement).

    Raised by :mod:`rfm.engine` with the engine's own first message line; the
    layers above turn the ones they can explain into an :class:`InputError`."""

    exit_code = 1


class DataError(EngineError):
    """A value in the data could not be converted (a bad date or number, or a required value missing).

    The reader that started the scan catches it and finds the column, an example
    value and the fix (see ``rfm.inputs``)."""

    exit_code = 2


class RfmWarning(UserWarning):
    """Something was dropped, flagged or fell back; the run still completed."""
