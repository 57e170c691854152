"""Infrastructure below every package of the suite: nothing here knows of specs, training,
search or scaling, and nothing here imports torch (import-linter contracts keep it so).

* :mod:`~infra.errors`: :class:`UserError`, the one-line mistakes of a user (exit code 2).
* :mod:`~infra.cli`: argument parsing where a bad flag is one line and exit 2; ``run_main``.
* :mod:`~infra.files`: atomic rewrites and append-only JSON-lines logs.
* :mod:`~infra.documents`: text, YAML and JSON reading where every decoder failure is one line.
* :mod:`~infra.rows`: JSON-lines rows checked against their dataclass's field types.
* :mod:`~infra.units`: MAC counts, resolutions and durations as people type them.
* :mod:`~infra.run_dirs`: run directories: ``config.json``, claiming (resume or refuse).
* :mod:`~infra.progress`: progress bars with an ETA.
* :mod:`~infra.seeds`: every random stream of a run, derived from its one run seed.
* :mod:`~infra.statistics`: intervals, paired differences, rank agreement; one interval level.
* :mod:`~infra.trial_state`: how a trial or an evaluation ended (the logs' vocabulary).
* :mod:`~infra.lazy`: lazy re-exports for packages' ``__init__``.
* :mod:`~infra.huge_pages`: huge pages for PyTorch's large CPU tensors, requested before any exists.
* :mod:`~infra.processes`: naming a process so that another can tell whether it still runs.
* :mod:`~infra.memory`: the memory this process can still allocate.
"""

from infra.errors import USAGE_ERROR, UsageError, UserError
from infra.files import append_json_line, read_json_lines, write_atomically, write_json
from infra.units import format_macs, parse_macs, parse_resolution, parse_seconds

__all__ = ["USAGE_ERROR", "UsageError", "UserError", "append_json_line", "format_macs", "parse_macs",
           "parse_resolution", "parse_seconds", "read_json_lines", "write_atomically", "write_json"]
