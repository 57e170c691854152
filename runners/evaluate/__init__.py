"""``python -m runners.evaluate`` (:mod:`~runners.evaluate.command`): given specs scored with the
search's proxy at paired seeds, each with its interval and the best one's separation."""
