"""The files of a training run directory (``python -m runners.train``): their names, defined
once for the writer (:mod:`runners.train.full_run`) and every reader (the dashboard)."""

LAST_CHECKPOINT = "last.pt"  # after every epoch: weights, optimizer, schedule, random streams, curves
FINAL_MODEL = "model.pt"  # the trained network, once finished (read by ``search_space export``)
RESULT = "result.json"  # the final validation and test-split scores
CURVES = "curves.csv"  # one row per epoch
SPEC = "spec.yaml"  # the network as trained

__all__ = ["CURVES", "FINAL_MODEL", "LAST_CHECKPOINT", "RESULT", "SPEC"]
