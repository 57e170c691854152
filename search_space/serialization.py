"""Strict conversion of specs to and from plain dicts, YAML and JSON.

The file format mirrors :class:`~search_space.spec.NetworkSpec` field by field.
Each entry of ``stages`` is either a mapping of :class:`~search_space.spec.StageSpec`
fields or an official block string (``r2_k3_s22_e6_i16_o24_se0.25``), so published
architectures can be pasted in. Unknown keys are errors: a typo must never fall
back silently to a default.

>>> from search_space import load_spec
>>> spec = load_spec("efficientnet-b0")
>>> from_yaml(to_yaml(spec)) == spec
True
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from infra.documents import DocumentError, parse_json, parse_yaml, read_json, read_yaml
from search_space.block_string import decode_stage
from search_space.spec import NetworkSpec, SpecError, StageSpec, format_attention, parse_attention

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _required_names(cls: type) -> tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


def _check_keys(data: Mapping, cls: type, path: str) -> None:
    known = _field_names(cls)
    for key in data:
        if key not in known:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(where, f"unknown key; expected one of {', '.join(known)}")
    for key in _required_names(cls):
        if key not in data:
            raise SpecError(f"{path}.{key}" if path else key, "missing required field")


def stage_to_dict(stage: StageSpec) -> dict[str, Any]:
    data = dataclasses.asdict(stage)
    data["attention"] = format_attention(stage.attention)
    return data


def spec_to_dict(spec: NetworkSpec) -> dict[str, Any]:
    """A plain dict (YAML/JSON-ready); square resolutions are written as one number."""
    data: dict[str, Any] = {"name": spec.name}  # the name first: files read better that way
    for name in _field_names(NetworkSpec):
        value = getattr(spec, name)
        if name == "stages":
            value = [stage_to_dict(stage) for stage in value]
        elif name == "resolution":
            value = value[0] if value[0] == value[1] else list(value)
        data[name] = value
    return data


def _stage_from_entry(entry: Any, index: int, expected_in: int) -> StageSpec:
    path = f"stages[{index}]"
    try:
        if isinstance(entry, str):
            stage, in_channels = decode_stage(entry)
            if in_channels != expected_in:
                raise SpecError("", f"block string {entry!r} has i{in_channels} but the stage input is {expected_in}")
            return stage
        if not isinstance(entry, Mapping):
            raise SpecError("", f"must be a mapping of stage fields or a block string, got {entry!r}")
        _check_keys(entry, StageSpec, "")
        values = dict(entry)
        try:
            values["attention"] = parse_attention(values.get("attention"))
        except SpecError as error:
            raise error.within("attention") from None
        return StageSpec(**values)
    except SpecError as error:
        raise error.within(path) from None


def spec_from_dict(data: Any) -> NetworkSpec:
    """Build and validate a spec from a dict; errors name the field path."""
    if not isinstance(data, Mapping):
        raise SpecError("", f"a spec must be a mapping of fields, got {type(data).__name__}")
    _check_keys(data, NetworkSpec, "")
    values = dict(data)
    entries = values["stages"]
    if not isinstance(entries, list) or not entries:
        raise SpecError("stages", "must be a non-empty list of stages")
    stem = values["stem_channels"]
    stages = []
    expected_in = stem
    for index, entry in enumerate(entries):
        stage = _stage_from_entry(entry, index, expected_in)
        stages.append(stage)
        expected_in = stage.out_channels
    values["stages"] = tuple(stages)
    if isinstance(values.get("resolution"), list):
        values["resolution"] = tuple(values["resolution"])
    return NetworkSpec(**values)


def to_yaml(spec: NetworkSpec) -> str:
    # Flow style for the stage rows keeps each stage on one line, like the paper's table.
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, default_flow_style=None, width=200)


def from_yaml(text: str, source: str = "spec") -> NetworkSpec:
    try:
        data = parse_yaml(text, source)
    except DocumentError as error:
        raise SpecError("", str(error)) from None
    return spec_from_dict(data)


def to_json(spec: NetworkSpec) -> str:
    return json.dumps(spec_to_dict(spec), indent=2)


def from_json(text: str, source: str = "spec") -> NetworkSpec:
    try:
        data = parse_json(text, source)
    except DocumentError as error:
        raise SpecError("", str(error)) from None
    return spec_from_dict(data)


def read_spec_file(path: str | Path) -> NetworkSpec:
    """Load a ``.yaml``/``.yml``/``.json`` spec file; errors start with the file name."""
    path = Path(path)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise SpecError("", f"{path}: a spec file must end in {', '.join(SPEC_SUFFIXES)}")
    try:
        data = read_json(path) if path.suffix.lower() == ".json" else read_yaml(path)
    except DocumentError as error:
        raise SpecError("", str(error)) from None
    try:
        return spec_from_dict(data)
    except SpecError as error:
        raise SpecError("", f"{path}: {error}") from None


def write_spec_file(spec: NetworkSpec, path: str | Path) -> Path:
    """Write ``spec`` as YAML or JSON according to the suffix; returns the path."""
    path = Path(path)
    if path.suffix.lower() not in SPEC_SUFFIXES:
        raise SpecError("", f"{path}: a spec file must end in {', '.join(SPEC_SUFFIXES)}")
    text = to_json(spec) if path.suffix.lower() == ".json" else to_yaml(spec)
    path.write_text(text)
    return path
