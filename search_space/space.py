"""Declared search spaces: per-stage choice lists that decode to :class:`NetworkSpec`.

A space file mirrors a spec, but every field may list choices::

    name: default
    resolution: 224
    stem_channels: [24, 32]          # a list is a choice, a scalar is fixed
    head_channels: 1280
    defaults:                        # apply to every stage unless the stage overrides
      block: [MBConv, FusedMBConv, GhostMBConv, GhostFusedMBConv]
      kernel: [3, 5, 7]
      expansion: [1, 3, 4, 6]
      attention: [none, se0.25, eca]
    stages:
      - {stride: 1, repeats: {low: 1, high: 2}, out_channels: [16, 24]}

``repeats`` is an inclusive integer range (``{low, high}``) or a fixed integer.
Every choice is validated with the spec's own rules when the space is loaded, so
every decoded spec is valid. :meth:`SearchSpace.sample` and
:meth:`SearchSpace.suggest` share one decoder, so a seed and an Optuna trial see
the same parameter names (``stage3.kernel``) and ranges.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from infra.documents import DocumentError, parse_yaml, read_text
from search_space.spec import MAX_REPEATS, MAX_STAGES, NetworkSpec, SpecError, StageSpec, parse_attention


@dataclass(frozen=True)
class IntRange:
    """Inclusive integer range, searched as an ordered integer (TPE can exploit the order)."""

    low: int
    high: int

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.low, self.high + 1))



STAGE_CHOICE_FIELDS = ("block", "kernel", "expansion", "attention", "repeats", "out_channels", "activation")
NETWORK_CHOICE_FIELDS = ("stem_channels", "head_channels")
NETWORK_FIXED_FIELDS = ("resolution", "in_channels", "num_classes", "stem_stride", "dropout", "drop_path_rate")


@dataclass(frozen=True)
class StageChoices:
    """The choices of one stage; ``stride`` is fixed so resolutions stay comparable."""

    stride: int
    block: tuple[str, ...]
    kernel: tuple[int, ...]
    expansion: tuple[int, ...]
    attention: tuple[str, ...]
    repeats: IntRange
    out_channels: tuple[int, ...]
    activation: tuple[str, ...] = ("silu",)


@dataclass(frozen=True)
class SearchSpace:
    """A declared space of networks. Build one with :func:`load_space`."""

    name: str
    stages: tuple[StageChoices, ...]
    stem_channels: tuple[int, ...]
    head_channels: tuple[int, ...]
    fixed: tuple[tuple[str, Any], ...] = ()

    def parameters(self) -> dict[str, tuple[Any, ...] | IntRange]:
        """Every free parameter (more than one value) by name, in decoding order."""
        domains: dict[str, tuple[Any, ...] | IntRange] = {}
        for name in NETWORK_CHOICE_FIELDS:
            domains[name] = getattr(self, name)
        for index, stage in enumerate(self.stages, start=1):
            for name in STAGE_CHOICE_FIELDS:
                domains[f"stage{index}.{name}"] = getattr(stage, name)
        return {name: domain for name, domain in domains.items() if len(domain_values(domain)) > 1}

    def decode(self, choose: Callable[[str, tuple[Any, ...] | IntRange], Any]) -> NetworkSpec:
        """Build a spec, asking ``choose(name, domain)`` for each free parameter."""

        def pick(name: str, domain: tuple[Any, ...] | IntRange) -> Any:
            values = domain_values(domain)
            return values[0] if len(values) == 1 else choose(name, domain)

        network = {name: pick(name, getattr(self, name)) for name in NETWORK_CHOICE_FIELDS}
        stages = []
        for index, stage in enumerate(self.stages, start=1):
            values = {name: pick(f"stage{index}.{name}", getattr(stage, name)) for name in STAGE_CHOICE_FIELDS}
            values["attention"] = parse_attention(values["attention"])
            stages.append(StageSpec(stride=stage.stride, **values))
        return NetworkSpec(name=self.name, stages=tuple(stages), **network, **dict(self.fixed))

    def sample(self, seed: int | None = None) -> NetworkSpec:
        """A uniformly random spec; the same seed gives the same spec.

        >>> space = load_space("default")
        >>> space.sample(0) == space.sample(0)
        True
        """
        rng = random.Random(seed)
        return self.decode(lambda name, domain: rng.choice(domain_values(domain)))

    def suggest(self, trial: Any) -> NetworkSpec:
        """A spec from an Optuna trial (``suggest_int`` for ranges, categorical otherwise)."""

        def ask(name: str, domain: tuple[Any, ...] | IntRange) -> Any:
            if isinstance(domain, IntRange):
                return trial.suggest_int(name, domain.low, domain.high)
            return trial.suggest_categorical(name, list(domain))

        return self.decode(ask)

    def from_params(self, params: Mapping[str, Any]) -> NetworkSpec:
        """The spec of a finished trial's ``params`` (e.g. ``study.best_params``)."""

        def lookup(name: str, domain: tuple[Any, ...] | IntRange) -> Any:
            if name not in params:
                raise SpecError(name, "missing from the trial parameters")
            if params[name] not in domain_values(domain):
                raise SpecError(name, f"{params[name]!r} is not one of the space's choices")
            return params[name]

        return self.decode(lookup)

    @property
    def size(self) -> int:
        """Number of distinct networks in the space."""
        total = 1
        for domain in self.parameters().values():
            total *= len(domain_values(domain))
        return total

    def grid(self) -> Iterator[NetworkSpec]:
        """Every network of the space (use only on small spaces; see :attr:`size`)."""
        names = list(self.parameters())
        domains = [domain_values(self.parameters()[name]) for name in names]
        for combination in itertools.product(*domains):
            chosen = dict(zip(names, combination))
            yield self.decode(lambda name, domain: chosen[name])


def domain_values(domain: tuple[Any, ...] | IntRange) -> tuple[Any, ...]:
    return domain.values if isinstance(domain, IntRange) else domain


# --- parsing --------------------------------------------------------------------------------------


def _as_choices(value: Any, path: str) -> tuple[Any, ...]:
    choices = tuple(value) if isinstance(value, list) else (value,)
    if not choices:
        raise SpecError(path, "must list at least one choice")
    if len(set(map(repr, choices))) != len(choices):
        raise SpecError(path, f"lists a choice twice: {list(choices)}")
    return choices


def _as_range(value: Any, path: str) -> IntRange:
    """A repeats range, bounded before it is materialised (a typo of 10**9 allocates nothing)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= MAX_REPEATS:
            raise SpecError(path, f"must be between 1 and {MAX_REPEATS}, got {value}")
        return IntRange(value, value)
    if isinstance(value, Mapping) and set(value) == {"low", "high"}:
        low, high = value["low"], value["high"]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) and 1 <= low <= high:
            if high > MAX_REPEATS:
                raise SpecError(path, f"high must be at most {MAX_REPEATS}, got {high}")
            return IntRange(low, high)
        raise SpecError(path, f"needs integers 1 <= low <= high, got low={low!r}, high={high!r}")
    raise SpecError(path, f"must be an integer or {{low: L, high: H}}, got {value!r}")


def _validate_stage(index: int, choices: StageChoices) -> None:
    """Every choice must make a valid stage; errors name the choice (``stages[2].kernel[1]``).

    Each value is tried with the other fields at their first choice, and an error is
    reported only for the field it concerns (another field's bad value is reported on
    that field's own turn), so the path always points at the culprit.
    """
    path = f"stages[{index}]"
    for position, text in enumerate(choices.attention):
        try:
            parse_attention(text)
        except SpecError as error:
            raise SpecError(f"{path}.attention[{position}]", error.rule) from None
    first = {name: domain_values(getattr(choices, name))[0] for name in STAGE_CHOICE_FIELDS}
    first["attention"] = parse_attention(first["attention"])
    for name in ("stride",) + STAGE_CHOICE_FIELDS:
        values = (choices.stride,) if name == "stride" else domain_values(getattr(choices, name))
        for position, value in enumerate(values):
            candidate = {**first, "stride": choices.stride, name: value}
            if name == "attention":
                candidate[name] = parse_attention(value)
            try:
                StageSpec(**candidate)
            except SpecError as error:
                if error.path != name:
                    continue
                indexed = name not in ("stride", "repeats")
                raise SpecError(f"{path}.{name}" + (f"[{position}]" if indexed else ""), error.rule) from None


def space_from_dict(data: Any) -> SearchSpace:
    """Build and validate a space from a dict; errors name the field path."""
    if not isinstance(data, Mapping):
        raise SpecError("", f"a search space must be a mapping of fields, got {type(data).__name__}")
    known = ("name", "stages", "defaults") + NETWORK_CHOICE_FIELDS + NETWORK_FIXED_FIELDS
    for key in data:
        if key not in known:
            raise SpecError(str(key), f"unknown key; expected one of {', '.join(known)}")
    for key in ("stages", "stem_channels", "head_channels"):
        if key not in data:
            raise SpecError(key, "missing required field")
    defaults = data.get("defaults") or {}
    stage_keys = ("stride",) + STAGE_CHOICE_FIELDS
    if not isinstance(defaults, Mapping):
        raise SpecError("defaults", "must be a mapping of stage fields")
    for key in defaults:
        if key not in stage_keys:
            raise SpecError(f"defaults.{key}", f"unknown key; expected one of {', '.join(stage_keys)}")
    entries = data["stages"]
    if not isinstance(entries, list) or not entries:
        raise SpecError("stages", "must be a non-empty list of stage choices")
    if len(entries) > MAX_STAGES:
        raise SpecError("stages", f"must list at most {MAX_STAGES} stages, got {len(entries)}")

    stages = []
    for index, entry in enumerate(entries):
        path = f"stages[{index}]"
        if not isinstance(entry, Mapping):
            raise SpecError(path, f"must be a mapping of stage fields, got {entry!r}")
        merged = {"activation": "silu", **defaults, **entry}
        for key in entry:
            if key not in stage_keys:
                raise SpecError(f"{path}.{key}", f"unknown key; expected one of {', '.join(stage_keys)}")
        for key in stage_keys:
            if key not in merged:
                raise SpecError(f"{path}.{key}", "missing (give it in the stage or in defaults)")
        fields = {
            name: _as_range(merged[name], f"{path}.{name}") if name == "repeats"
            else _as_choices(merged[name], f"{path}.{name}")
            for name in STAGE_CHOICE_FIELDS
        }
        choices = StageChoices(stride=merged["stride"], **fields)
        _validate_stage(index, choices)
        stages.append(choices)

    fixed = tuple((name, data[name]) for name in NETWORK_FIXED_FIELDS if name in data)
    if isinstance(dict(fixed).get("resolution"), list):
        fixed = tuple((n, tuple(v) if n == "resolution" else v) for n, v in fixed)
    space = SearchSpace(
        name=str(data.get("name", "space")),
        stages=tuple(stages),
        stem_channels=_as_choices(data["stem_channels"], "stem_channels"),
        head_channels=_as_choices(data["head_channels"], "head_channels"),
        fixed=fixed,
    )
    # Network-level fields: each choice must make a valid network with the rest at first choice.
    for name in NETWORK_CHOICE_FIELDS:
        for position, value in enumerate(getattr(space, name)):
            try:
                space.decode(lambda n, d: value if n == name else domain_values(d)[0])
            except SpecError as error:
                where = error.path if error.path != name else f"{name}[{position}]"
                raise SpecError(where, error.rule) from None
    return space


DEFAULT_SPACE = "default"


def load_space(ref: str | Path = DEFAULT_SPACE) -> SearchSpace:
    """``"default"`` (the packaged B0-like 7-stage space) or a YAML file.

    >>> load_space("default").sample(seed=1).stages[0].stride
    1
    """
    if str(ref) == DEFAULT_SPACE:
        text = resources.files("search_space").joinpath("spaces/default.yaml").read_text()
        source = "default"
    else:
        path = Path(ref)
        if not path.exists():
            raise SpecError("", f"{ref!s}: not the default space and no such file")
        try:
            text = read_text(path)
        except DocumentError as error:
            raise SpecError("", str(error)) from None
        source = str(path)
    try:
        data = parse_yaml(text, source)
    except DocumentError as error:
        raise SpecError("", str(error)) from None
    try:
        return space_from_dict(data)
    except SpecError as error:
        raise SpecError("", f"{source}: {error}") from None


def replace_fixed(space: SearchSpace, **changes: Any) -> SearchSpace:
    """A copy of ``space`` with fixed network fields changed (e.g. ``num_classes=10``)."""
    for name in changes:
        if name not in NETWORK_FIXED_FIELDS:
            raise SpecError(name, f"not a fixed network field; expected one of {', '.join(NETWORK_FIXED_FIELDS)}")
    fixed = {**dict(space.fixed), **changes}
    return dataclasses.replace(space, fixed=tuple(fixed.items()))
