"""Every command asks PyTorch for huge-page-backed large tensors before its first tensor
exists (infra.huge_pages): a large allocation then faults in 2 MiB at a time, not 4 KiB."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.huge_pages import HUGE_PAGES_VARIABLE

# The modules each command's ``python -m`` imports before it runs.
COMMAND_MODULES = ["search_space", "runners.search.command", "runners.train.command", "runners.evaluate.command",
                   "scaling.fit", "scaling.check", "analysis.dashboard"]
ALLOCATIONS, ELEMENTS = 8, 16 * 2**20  # 64 MiB each: above glibc's largest mmap threshold, a fresh mapping every time
SMALL_PAGES = ALLOCATIONS * ELEMENTS * 4 // 4096  # the page faults of 4 KiB pages alone
PROBE = f"""
import importlib, os, resource, sys
importlib.import_module(sys.argv[1])
import torch
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range({ALLOCATIONS}):
    torch.ones({ELEMENTS})
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, os.environ.get("{HUGE_PAGES_VARIABLE}"))
"""
KERNEL_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")
KERNEL_OFFERS_HUGE_PAGES = KERNEL_SETTING.exists() and "[never]" not in KERNEL_SETTING.read_text()

# Two training steps of B0 at 1x64x64, batch 32: its largest activations (4 MiB and more) take
# the huge-page path.
STEPS = """
import dataclasses, torch
from runners.learning.loop import TrainConfig, make_optimizer, training_step
from search_space import build_model, load_spec
torch.manual_seed(0)
model = build_model(dataclasses.replace(load_spec("efficientnet-b0"), in_channels=1, num_classes=10)).train()
model = model.to(memory_format=torch.channels_last)
optimizer = make_optimizer(model, TrainConfig())
images = torch.randn(32, 1, 64, 64).contiguous(memory_format=torch.channels_last)
labels = torch.randint(0, 10, (32,))
losses = [training_step(model, optimizer, images, labels).item() for _ in range(2)]
print(*losses, sum(p.double().sum().item() for p in model.parameters()))
"""


def run_probe(code: str, args: list[str], setting: str | None) -> list[str]:
    """``code``'s printed words in a fresh interpreter; ``setting`` is the user's own
    value of the variable (None: unset, as in a shell that never heard of it)."""
    env = {key: value for key, value in os.environ.items() if key != HUGE_PAGES_VARIABLE}
    if setting is not None:
        env[HUGE_PAGES_VARIABLE] = setting
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def page_faults(module: str, setting: str | None) -> tuple[int, str]:
    """Minor page faults of 8 fresh 64 MiB tensors after importing ``module``, and the
    variable as the process saw it."""
    faults, seen = run_probe(PROBE, [module], setting)
    return int(faults), seen


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_requests_huge_pages_before_its_first_tensor(module):
    faults, seen = page_faults(module, None)
    assert seen == "1"
    if KERNEL_OFFERS_HUGE_PAGES:  # else the kernel ignores the request: nothing more to see
        assert faults < SMALL_PAGES / 8


def test_a_user_who_turned_huge_pages_off_keeps_small_pages():
    faults, seen = page_faults("runners.train.command", "0")
    assert seen == "0" and faults >= 0.9 * SMALL_PAGES  # 4 KiB faults: the probe sees them when they happen


def test_training_steps_give_the_same_numbers_with_and_without_huge_pages():
    with_huge_pages = [float(word) for word in run_probe(STEPS, [], None)]
    without = [float(word) for word in run_probe(STEPS, [], "0")]
    assert with_huge_pages == without  # the same kernels on the same numbers: bit for bit
