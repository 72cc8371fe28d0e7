"""The one YAML loader: every YAML (and saved JSON) file the package reads comes in here.

A file kind is a pydantic model deriving from :class:`StrictModel`: an unknown
key is rejected (never silently ignored), values are validated, and the
model is frozen, so nothing changes a loaded config in place (derive a
changed copy with ``model_copy(update=...)``).  :func:`load_model` reads a
path, a dict or an already built model, validates it and records where it
came from; a problem is one :class:`~rfm.errors.ConfigError` line naming the
file, the key path, what was expected and the closest known key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from rfm.errors import ConfigError

#: Shipped YAML: segment rule sets, column name aliases, the demo config and catalogue, the example lead grid.
PRESETS = Path(__file__).resolve().parent.parent / "presets"


class StrictModel(BaseModel):
    """Base model: unknown keys are errors; instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class YamlModel(StrictModel):
    """A whole YAML file: remembers where it came from, for messages (``source``)."""

    _source: str = PrivateAttr("defaults")

    @property
    def source(self) -> str:
        return self._source


M = TypeVar("M", bound=StrictModel)


def close_match(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """The choice closest to ``word``, or an empty string when nothing is close."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else ""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A ``; did you mean "x"?`` suffix, or an empty string when nothing is close."""
    close = close_match(word, choices)
    return f'; did you mean "{close}"?' if close else ""


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model that ``loc`` points into, best effort."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = _unwrap_model(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _unwrap_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def format_validation_error(error: ValidationError, model: type[BaseModel], source: str) -> str:
    """One line: ``source: key.path: problem (got X); fix``."""
    problems = error.errors()
    first = problems[0]
    loc = tuple(first.get("loc", ()))
    path = ".".join(str(p) for p in loc) or "(top level)"
    got = first.get("input")
    if first["type"] == "extra_forbidden":
        key = str(loc[-1])
        where = ".".join(str(p) for p in loc[:-1]) or "the top level"
        known = _known_keys(model, loc)
        hint = did_you_mean(key, known)
        known_txt = f" (known keys: {', '.join(known)})" if known else ""
        msg = f'{source}: unknown key "{key}" in {where}{hint}{known_txt}'
    else:
        text = first.get("msg", "invalid value")
        text = text.removeprefix("Value error, ")
        msg = f"{source}: {path}: {text}"
        if got is not None and not isinstance(got, (dict, list)):
            msg += f" (got {got!r})"
    if len(problems) > 1:
        msg += f" [and {len(problems) - 1} more problem(s)]"
    return msg


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a syntax error names the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8"
        ) from None
    except PermissionError:
        raise ConfigError(f"{path}: not readable (permission denied)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}; fix the syntax") from None


def validate(model: type[BaseModel], data: Any, source: str) -> Any:
    """Validate ``data`` against ``model``; raise :class:`ConfigError` with one clear line."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, source)) from None


def load_model(
    model: type[M], value: M | str | Path | dict[str, Any] | None, *, default: Path | None = None, what: str = "config"
) -> M:
    """A validated ``model`` from a YAML/JSON path, a dict (named ``what`` in messages) or an instance.

    ``None`` loads ``default`` when given, else the model's defaults."""
    if isinstance(value, model):
        return value
    if value is None and default is not None:
        value = default
    if value is None:
        data: Any = {}
        source = "defaults"
    elif isinstance(value, dict):
        data, source = value, what
    else:
        data, source = read_yaml(value), str(value)
    loaded = validate(model, data, source)
    if isinstance(loaded, YamlModel):
        loaded._source = source
    return loaded
