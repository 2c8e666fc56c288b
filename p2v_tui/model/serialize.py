"""Model dataclasses to JSON-compatible data and back.

Used for the report (plan.json, machine.json), the built-in demo machine and
comparing plans across runs. Field types drive the conversion, so the model
stays plain dataclasses with no serialisation code of their own.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, frozenset | set):
        return sorted(to_jsonable(v) for v in obj)
    if isinstance(obj, tuple | list):
        return [to_jsonable(v) for v in obj]
    return obj


def from_jsonable(cls: type[T], data: Any) -> T:
    """Build ``cls`` from :func:`to_jsonable` output; missing keys take the
    dataclass defaults, unknown keys are an error."""
    return typing.cast(T, _convert(cls, data, cls.__name__))


def _convert(tp: Any, data: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return data
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object")
        hints = get_type_hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
        kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
        return tp(**kwargs)
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, data, where)
            except (ValueError, TypeError) as e:
                errors.append(str(e))
        raise ValueError(f"{where}: {data!r} matches none of {args}: {errors}")
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise ValueError(f"{where}: {data!r} not one of {get_args(tp)}")
        return data
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(data, list | tuple):
            raise ValueError(f"{where}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin is frozenset:
        (arg,) = get_args(tp)
        return frozenset(_convert(arg, v, where) for v in data)
    if origin in (Mapping, dict) or tp in (Mapping, dict):
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected an object")
        args = get_args(tp) or (str, Any)
        return types.MappingProxyType({k: _convert(args[1], v, f"{where}.{k}") for k, v in data.items()})
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if isinstance(tp, type):
        if tp is int and isinstance(data, bool):
            raise ValueError(f"{where}: expected int")
        if not isinstance(data, tp):
            raise ValueError(f"{where}: expected {tp.__name__}, got {type(data).__name__}")
        return data
    raise TypeError(f"{where}: cannot convert to {tp!r}")
