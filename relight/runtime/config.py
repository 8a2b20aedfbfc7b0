"""Strict loading of config dataclasses from TOML / dicts.

Unknown keys, wrong types and out-of-range values become one-line :class:`RelightError`s that
name the file and the key. Dataclasses validate ranges in ``__post_init__`` by raising
``ValueError``; the message is passed through.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from relight.runtime.errors import RelightError

T = TypeVar("T")


def read_toml(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RelightError("file not found", path=path, fix="check the path")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise RelightError(f"invalid TOML: {e}", path=path, fix="fix the TOML syntax") from None
    except RecursionError:
        raise RelightError("TOML nested too deeply to read", path=path,
                           fix="flatten the file (a damaged or hostile file?)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise RelightError(f"cannot read file ({type(e).__name__})", path=path, fix="check the file") from None


def _check(value: Any, tp: Any, key: str, src: Path | None) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _check(value, a, key, src)
            except RelightError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise RelightError(f"'{key}' must be a table", path=src, fix=f"write [{key}] or {key} = {{ ... }}")
        return from_dict(tp, value, src, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise RelightError(f"'{key}' must be a list, got {value!r}", path=src, fix=f"write {key} = [ ... ]")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return origin(_check(v, item, f"{key}[{i}]", src) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise RelightError(f"'{key}' must be a table", path=src, fix=f"write {key} = {{ ... }}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RelightError(f"'{key}' must be a number, got {value!r}", path=src, fix=f"set {key} to a number")
        if not math.isfinite(value):
            raise RelightError(f"'{key}' must be a finite number, got {value!r}", path=src,
                               fix=f"set {key} to a finite number (no nan or inf)")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RelightError(f"'{key}' must be an integer, got {value!r}", path=src, fix=f"set {key} to an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise RelightError(f"'{key}' must be true or false, got {value!r}", path=src, fix=f"set {key} = true/false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise RelightError(f"'{key}' must be a string, got {value!r}", path=src, fix=f'set {key} = "..."')
        return value
    if typing.get_origin(tp) is typing.Literal:
        if value not in typing.get_args(tp):
            raise RelightError(f"'{key}' must be one of {list(typing.get_args(tp))}, got {value!r}",
                               path=src, fix=f"choose one of {list(typing.get_args(tp))}")
        return value
    return value


def from_dict(cls: type[T], data: dict, src: Path | None = None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` strictly (unknown keys and bad types refused)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RelightError(f"unknown key '{prefix}{unknown[0]}'", path=src,
                           fix=f"valid keys: {', '.join(prefix + k for k in fields)}")
    kwargs = {k: _check(v, hints[k], prefix + k, src) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ValueError as e:
        raise RelightError(f"{prefix.rstrip('.') or cls.__name__}: {e}", path=src,
                           fix="use a value in the documented range") from None
    except TypeError as e:
        raise RelightError(f"{prefix.rstrip('.') or cls.__name__}: {e}", path=src,
                           fix="add the missing keys") from None


def load_preset(cls: type[T], presets: dict[str, T], preset: str, toml: str | Path | None = None, **over) -> T:
    """``presets[preset]``, updated by a TOML file's keys and then by keyword overrides (None ignored)."""
    if preset not in presets:
        raise RelightError(f"unknown preset '{preset}'", fix=f"use one of: {', '.join(presets)}")
    data = to_dict(presets[preset])
    if toml is not None:
        data.update(read_toml(Path(toml)))
    cfg = from_dict(cls, data, Path(toml) if toml else None)  # a bad value here is the file's
    over = {k: v for k, v in over.items() if v is not None}
    if not over:
        return cfg
    return from_dict(cls, data | over, COMMAND_LINE)  # ... and here the command line's


COMMAND_LINE = Path("command-line option")
"""What errors name as their source when a value came from an option, not a file."""


def to_dict(obj: Any) -> Any:
    """A dataclass as plain JSON/TOML-compatible data (for manifests)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj
