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

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from rfm._files import check_writable, output_group, refuse_inputs_as_outputs
from rfm.cli._parser import build_parser
from rfm.engine import redact
from rfm.errors import InputError, RfmError, RfmWarning


def _handler(path: str) -> Callable[..., int]:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RfmWarning)
        try:
            _check_paths(args)
            with output_group():  # every output of the run lands at the end, together, or none does
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


# Arguments that name outputs; every other path argument is an input that no output may replace.
_OUTPUTS = ("out", "save_scoring")


def _check_paths(args: argparse.Namespace) -> None:
    values = {k: v for k, v in vars(args).items() if isinstance(v, str) and k != "handler"}
    outputs = {f"--{k.replace('_', '-')}": v for k, v in values.items() if k in _OUTPUTS}
    inputs = {("orders" if k == "orders" else f"--{k.replace('_', '-')}"): v for k, v in values.items()
              if k not in _OUTPUTS}
    out = values.get("out")
    if out and args.command == "score" and not out.startswith("postgres"):
        outputs["the churn model (beside --out)"] = str(Path(out).with_suffix(".churn.json"))
    refuse_inputs_as_outputs(inputs, outputs)
    if args.command in ("run", "demo"):  # --out is a folder, whatever its name (rfm.reporting.run_job checks it)
        return
    files = {k: v for k, v in outputs.items() if not v.startswith("postgres") and Path(v).suffix}
    seen: dict[Path, str] = {}
    for name, value in files.items():  # a file output: a writable directory, not a directory itself
        check_writable(value)
        if Path(value).resolve() in seen:
            raise InputError(f"{value}: {seen[Path(value).resolve()]} and {name} would both be written here; "
                             "give each its own path")
        seen[Path(value).resolve()] = name


def _flush(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        if issubclass(w.category, RfmWarning) and str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"warning: {redact(str(w.message))}", file=sys.stderr)


def entry() -> None:  # console script
    sys.exit(main())


__all__ = ["build_parser", "entry", "main"]
