"""``python -m runners.train``: see :mod:`runners.train.command`."""

import sys

from runners.train.command import main

sys.exit(main())
