"""``python -m runners.evaluate``: see :mod:`runners.evaluate.command`."""

import sys

from runners.evaluate.command import main

sys.exit(main())
