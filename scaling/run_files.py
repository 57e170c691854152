"""The files of a scaling run directory: their names and readers, defined once.

``python -m scaling.fit --out RUN`` writes them; the dashboard, ``python -m scaling.check``
and the fit itself (when it resumes) read them through this module only.

* ``config.json`` (:mod:`infra.run_dirs`): the flags that define the run, ``kind: scaling``;
* ``base.yaml``: the base network the grid scaled;
* ``evaluations.jsonl``: one JSON line per trained network (the grid, corners, law members);
* ``grid.csv``: the complete grid evaluations as a table (also ``--results`` input);
* ``coefficients.json``, ``laws.json``: the fitted coefficients and power laws;
* ``specs/b<phi>.yaml``, ``specs/ghost-b<phi>.yaml`` and ``family.csv``: the family;
* ``trained/<member>-<spec key>/``: full trainings of members (``python -m scaling.check``),
  keyed by the member's network: a family that changed (a resumed run that chose another
  direction) trains its members anew beside the old ones instead of clashing with them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from infra.errors import UsageError
from infra.run_dirs import read_config
from search_space import NetworkSpec, load_spec, spec_to_dict

KIND = "scaling"  # config.json's "kind" of a scaling run
BASE_FILE = "base.yaml"  # every scaling run keeps its base, and its grid table names it
EVALUATIONS_LOG = "evaluations.jsonl"
GRID_FILE = "grid.csv"
COEFFICIENTS_FILE = "coefficients.json"
LAWS_FILE = "laws.json"
FAMILY_FILE = "family.csv"
SPECS_DIR = "specs"
TRAINED_DIR = "trained"


def is_scaling_run(path: Path) -> bool:
    """True when ``path`` is a scaling run directory (its ``config.json`` says so)."""
    path = Path(path)
    return path.is_dir() and (path / "config.json").exists() and read_config(path).get("kind") == KIND


def member_spec_path(run: Path, member: str) -> Path:
    """Where the spec of ``member`` (``b1``, ``ghost-b2``) of the run's family is."""
    return Path(run) / SPECS_DIR / f"{member}.yaml"


def family_members(run: Path) -> list[str]:
    """The member names whose specs the run wrote."""
    return sorted(path.stem for path in (Path(run) / SPECS_DIR).glob("*.yaml"))


def read_member_spec(run: Path, member: str) -> NetworkSpec:
    """The spec of ``member``; one line naming the members there are when it is missing."""
    path = member_spec_path(run, member)
    if not path.is_file():
        raise UsageError(f"{run}: the family has no member {member} "
                         f"(it has {', '.join(family_members(run)) or 'none'})")
    return load_spec(path)


def trained_member_dir(out: Path, member: str, spec: NetworkSpec) -> Path:
    """The run directory of a full training of ``member`` under ``out``: its name and a key of its
    network (the first 8 hex digits of the SHA-256 of its spec as sorted JSON)."""
    key = hashlib.sha256(json.dumps(spec_to_dict(spec), sort_keys=True).encode()).hexdigest()[:8]
    return Path(out) / f"{member}-{key}"


def read_base(run: Path) -> NetworkSpec:
    """The base network of the run."""
    return load_spec(Path(run) / BASE_FILE)


__all__ = ["BASE_FILE", "COEFFICIENTS_FILE", "EVALUATIONS_LOG", "FAMILY_FILE", "GRID_FILE", "KIND", "LAWS_FILE",
           "SPECS_DIR", "TRAINED_DIR", "family_members", "is_scaling_run", "member_spec_path", "read_base",
           "read_member_spec", "trained_member_dir"]
