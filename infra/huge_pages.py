"""Transparent huge pages for PyTorch's large CPU tensors (``THP_MEM_ALLOC_ENABLE``).

Why: PyTorch's CPU allocator takes every tensor from ``malloc``, and glibc serves each block
above its ``mmap`` threshold (32 MiB at most) with a fresh mapping that ``free`` hands back
to the kernel. A training step's large activations are therefore faulted in again at every
step, one zeroed 4 KiB page at a time. At 1x128x431 and batch 128 that measured about 4.5
million page faults and half of B0's training step on this suite's CPU machine; a batch-512
evaluation there ran at 37% of its speed (``benchmarks/training_phases.py``).

With ``THP_MEM_ALLOC_ENABLE=1`` (PyTorch 2.2 and later, pytorch/pytorch#115990), PyTorch
aligns allocations of 2 MiB and more to 2 MiB and advises the kernel to back them with huge
pages: one fault per 2 MiB instead of 512. Results are bit for bit the same; peak memory
measured the same or lower (BENCHMARKS.md, "How fast does a network train?"). Where the kernel
offers no huge pages (``/sys/kernel/mm/transparent_hugepage/enabled`` is ``never``) the
setting does nothing.

PyTorch reads the variable once, at its first CPU allocation, so it must be in the
environment before any tensor exists: :mod:`search_space` (which every command that builds
a network imports before it runs) calls :func:`request_huge_pages` on import, and child
processes (workers of a search) inherit it. A user's own ``THP_MEM_ALLOC_ENABLE=0`` wins.
The workers of a Ray cluster started by hand (``ray start``) have that command's environment
and may hold tensors before they import this suite: export the variable before ``ray start``.
"""

from __future__ import annotations

import os

HUGE_PAGES_VARIABLE = "THP_MEM_ALLOC_ENABLE"


def request_huge_pages() -> None:
    """Ask PyTorch for huge-page-backed large CPU tensors, unless the user said otherwise.
    Effective only before the process's first CPU tensor exists."""
    os.environ.setdefault(HUGE_PAGES_VARIABLE, "1")


__all__ = ["HUGE_PAGES_VARIABLE", "request_huge_pages"]
