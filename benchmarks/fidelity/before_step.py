"""The default proxy on the fidelity panel with the code before the faster step: check out c5c09a8 into /tmp/old, then run this (it puts /tmp/old first on sys.path)."""
import json
import sys

sys.path.insert(0, "/tmp/old")
from runners.data.sources import DataOptions, prepare
from runners.learning.loop import TrainConfig, train_and_evaluate
from search_space import spec_from_dict

panel = json.load(open("/work/main/benchmarks/fidelity/panel.json"))
data = prepare(DataOptions(None, (32, 32), max_train_samples=2048, max_val_samples=1024, seed=0))
config = TrainConfig(epochs=2, batch_size=64, learning_rate=1e-2)
with open("/work/main/benchmarks/fidelity/before.jsonl", "a") as out:
    for row in panel:
        result = train_and_evaluate(spec_from_dict(row["spec"]), data, config, seed=7)
        out.write(json.dumps({"recipe": "default, before the faster step (c5c09a8)", "candidate": row["candidate"], "seed": 0,
                              "accuracy": result.accuracy, "seconds": result.seconds}) + "\n")
        out.flush()
        print(row["candidate"], result.accuracy, round(result.seconds, 1), flush=True)
