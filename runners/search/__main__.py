"""``python -m runners.search``: see :mod:`runners.search.command`."""

import sys

from runners.search.command import main

sys.exit(main())
