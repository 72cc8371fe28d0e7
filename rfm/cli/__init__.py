"""``rfm`` command line: a thin layer over the library.

Each command parses arguments (``_parser``), calls library functions, prints
a readable result and returns an exit code.  Library errors
(:class:`rfm.errors.RfmError`) become one ``error: ...`` line on stderr and the
error's exit code; warnings become ``warning: ...`` lines.  Nothing here
computes scores.  Handlers by command group: ``_customers`` (score,
segments, offers, backtest, check), ``_reports`` (report), ``_demo``,
``_generate``, ``_leads`` (leads ..., contacts); plain-text tables in ``_tables``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Sequence

from rfm.cli._parser import build_parser
from rfm.engine import redact
from rfm.errors import RfmError, RfmWarning


def _handler(path: str) -> Callable[..., int]:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        try:
            code = _handler(args.handler)(args)
        except RfmError as exc:
            _flush(caught)
            print(f"error: {redact(str(exc))}", file=sys.stderr)  # no password from a database URL
            return exc.exit_code
        except KeyboardInterrupt:
            print("error: interrupted; no output was written", file=sys.stderr)
            return 130
    _flush(caught)
    return code


def _flush(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        if issubclass(w.category, RfmWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"warning: {redact(str(w.message))}", file=sys.stderr)


def entry() -> None:  # console script
    sys.exit(main())


__all__ = ["build_parser", "entry", "main"]
