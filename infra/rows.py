"""Typed rows from JSON logs: a dataclass instance, or one line saying which field is wrong.

The run directories' logs (``trials.jsonl``, ``evaluations.jsonl``) are read back into
dataclasses. A line of the right JSON syntax but the wrong shape (a damaged or hand-edited
log) must not reach the code that trusts those types, so every field is checked against
its annotation first: ``int`` (never a bool), ``float`` (an int is fine), ``str``, ``bool``,
``dict``, ``list[float]``, ``X | None``, and ``str``-valued enums.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

from infra.errors import UserError
from infra.files import read_json_lines

Row = TypeVar("Row")


class RowError(UserError):
    """A JSON row that does not fit its dataclass."""


def _fits(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return isinstance(value, annotation) or (isinstance(value, str) and value in {m.value for m in annotation})
    if origin is list or annotation is list:
        items = typing.get_args(annotation)
        return isinstance(value, list) and (not items or all(_fits(item, items[0]) for item in value))
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    return True  # an annotation this reader does not know is left to the dataclass


def row_to(cls: type[Row], row: Any) -> Row:
    """``cls(**row)`` after checking every known field's type; unknown keys are ignored."""
    if not isinstance(row, dict):
        raise RowError(f"expected a JSON object, found {type(row).__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in row:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise RowError(f"field {field.name} is missing")
            continue
        value = row[field.name]
        if not _fits(value, hints[field.name]):
            raise RowError(f"field {field.name} is {value!r}, not {getattr(hints[field.name], '__name__', hints[field.name])}")
        values[field.name] = value
    return cls(**values)


def read_rows(path: Path, convert: Callable[[dict], Row]) -> list[Row]:
    """Every row of a JSON-lines log through ``convert`` (e.g. ``lambda row: row_to(cls, row)``);
    one line naming the file, the record and the field when a row does not fit (a torn last
    line is skipped by :func:`read_json_lines`)."""
    rows = []
    for number, row in enumerate(read_json_lines(path), start=1):
        try:
            rows.append(convert(row))
        except RowError as error:
            raise RowError(f"{path}: record {number}: {error}") from None
    return rows


__all__ = ["RowError", "read_rows", "row_to"]
