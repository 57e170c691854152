"""Infrastructure shared by every package of the suite, below all of them.

* :mod:`~search_space.common.errors`: :class:`UserError`, the one-line mistakes of a user.
* :mod:`~search_space.common.cli`: argument parsing where a bad flag is one line and exit 2.
* :mod:`~search_space.common.files`: atomic rewrites and append-only JSON-lines logs.
* :mod:`~search_space.common.units`: MAC counts, resolutions and durations as people type them.

Nothing here knows about specs, training or scaling; an import-linter contract keeps it so.
"""

from search_space.common.errors import USAGE_ERROR, UsageError, UserError
from search_space.common.files import append_json_line, read_json_lines, write_atomically, write_json
from search_space.common.units import format_macs, parse_macs, parse_resolution, parse_seconds

__all__ = ["USAGE_ERROR", "UsageError", "UserError", "append_json_line", "format_macs", "parse_macs",
           "parse_resolution", "parse_seconds", "read_json_lines", "write_atomically", "write_json"]
