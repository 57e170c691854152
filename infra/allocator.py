"""Keeping freed memory in the process, so that a training step's large tensors are not
mapped afresh from the kernel every step.

glibc's ``malloc`` serves a request above its mmap threshold (at most 32 MiB, however it is
tuned) with a fresh ``mmap`` and gives it back with ``munmap`` when freed. A training step at
the sizes users train (a 1x128x431 spectrogram, batch 16: activations of 50 to 90 MB) frees
and re-allocates such tensors every step, so each step pays a page fault and a zeroed page
for every 4 KiB it touches. On the benchmark machine that made a depthwise convolution's
input gradient 6x its forward pass, and the whole B0 step at 1x128x431 took 1.25x longer
(BENCHMARKS.md, "Training speed"). Intel's PyTorch tuning guide gives the same diagnosis and
preloads jemalloc or tcmalloc; this does the equivalent with glibc alone: ``mallopt``
switches ``mmap`` off for allocations (``M_MMAP_MAX`` 0) and lets up to
:data:`RETAINED_BYTES` of freed memory stay at the top of the heap (``M_TRIM_THRESHOLD``),
where the next step's tensors reuse it without faulting.

The cost is memory the process keeps after freeing it: its resident size stays near its
peak (plus up to :data:`RETAINED_BYTES`) instead of shrinking between steps. Elsewhere than
glibc (macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
RETAINED_BYTES = 1 << 30  # freed memory the heap keeps before it is returned to the kernel

_retaining = False


def retain_freed_memory() -> bool:
    """Make this process keep freed memory for reuse (see the module docstring); returns
    whether it does. Idempotent and cheap: every training path calls it."""
    global _retaining
    if _retaining:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    # mallopt returns 1 on success; the trim threshold is set first so that no step runs
    # with mmap off and the default 128 KiB trim (which would give the heap's top back at once).
    _retaining = bool(libc.mallopt(M_TRIM_THRESHOLD, RETAINED_BYTES) and libc.mallopt(M_MMAP_MAX, 0))
    return _retaining


__all__ = ["RETAINED_BYTES", "retain_freed_memory"]
