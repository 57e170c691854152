"""The training loop keeps freed memory for reuse (infra.allocator): a large tensor freed
and allocated again is not faulted in afresh from the kernel. Measured by the page faults
the process takes (``ru_minflt``), each case in a fresh interpreter: the setting is the
whole process's."""

from __future__ import annotations

import json
import subprocess
import sys

# Allocates, touches and frees a tensor of 96 MiB twice (a 1x128x431 step's activations are
# of this size) and prints the page faults of each round, after `setup` ran.
ROUNDS = """
import json, resource, torch
{setup}
def faults_of_a_round():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensor = torch.empty(24 * 2**20)  # 96 MiB of float32
    tensor.fill_(1.0)
    del tensor
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps([faults_of_a_round(), faults_of_a_round()]))
"""

GLIBC_DEFAULT = "pass"
TRAINING_LOOP = """
import torch
from runners.data.sources import Splits
from runners.learning.loop import TrainConfig, TrainingLoop
from search_space import build_model, load_spec
x, y = torch.randn(8, 1, 16, 16), torch.randint(0, 2, (8,))
data = Splits(x, y, x, y, None, None, 2, "generated")
spec = load_spec("efficientnet-b0", width_mult=0.25, depth_mult=0.25)
TrainingLoop(build_model(spec, num_classes=2, in_channels=1), data, TrainConfig(epochs=1, device="cpu"), seed=0)
"""


def page_faults(setup: str) -> list[int]:
    done = subprocess.run([sys.executable, "-c", ROUNDS.format(setup=setup)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_training_loop_reuses_freed_memory_instead_of_faulting_it_in_again():
    pages = 96 * 2**20 // 4096
    # With glibc's defaults a freed 96 MiB tensor goes back to the kernel: each round faults
    # in every page again (the behaviour this setting removes; it also shows that the
    # measurement sees it).
    first, second = page_faults(GLIBC_DEFAULT)
    assert first > 0.9 * pages and second > 0.9 * pages, (first, second, pages)
    # Once a training loop exists, the second round reuses the first one's pages.
    first, second = page_faults(TRAINING_LOOP)
    assert first > 0.9 * pages and second < 0.05 * pages, (first, second, pages)
