"""``python -m runners.search``: see :mod:`runners.search.command`."""

import sys

from infra.stopping import exit_quietly_on_interrupt

exit_quietly_on_interrupt()  # before the command's imports (torch): a Ctrl-C there is no traceback

from runners.search.command import main  # noqa: E402

sys.exit(main())
