"""How much memory a training needs, counted before it starts, so that a training that
cannot fit is one line instead of the kernel's out-of-memory kill (SIGKILL, no message)
minutes into its first epoch; and the evaluation batch that memory and speed favour.

A training step's count is a lower bound from autograd itself: the tensors a forward pass
saves for the backward pass (activations, batch-norm inputs, dropout masks), which all
coexist when the forward pass ends, counted once per storage at batch 2 and 4 so that the
per-image part is exact; plus the gradients and AdamW's two moments of the parameters (which
exist already when the count is taken, so are not in it, nor in the memory left). A
pass without gradients (evaluation, batch-norm recalibration) is counted exactly by
:class:`LiveTensorBytes`. ``benchmarks/training_memory.py`` measures how far above these
counts a process's resident memory peaks (:data:`PEAK_OVER_BOUND`).
"""

from __future__ import annotations

import copy
import math
import weakref
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from infra.errors import UsageError
from infra.memory import available_memory
from infra.units import format_bytes

PROBE_BATCHES = (2, 4)  # batch norm needs two images a channel; the difference is one image's share
# A training's resident peak over the sum of its step's lower bound and recalibration's count:
# at most 0.95 of that sum (and 1.00-1.20 of the step's bound alone) measured on B0, B3, V2-S
# and Ghost-V2 from 1x64x64 to 1x128x431; 1.3 at 1x32x32, where the whole is 0.4 GiB
# (benchmarks/outputs/training_memory.txt).
PEAK_OVER_BOUND = 1.2
# An evaluation batch's tensors: the fastest batch held 61-206 MiB at every size measured, B0 and
# Ghost-V2 from 1x32x32 to 1x128x431 (benchmarks/outputs/evaluation_batch*.txt); 96 MiB picks it,
# or one within 6% of it, in each case; a batch of 512 ran 30-58% slower.
EVALUATION_BATCH_BYTES = 96 * 2**20
MAX_EVALUATION_BATCH = 256


@dataclass(frozen=True)
class TrainingMemory:
    """Bytes of a training's tensors: a step's at the end of its forward pass (a lower bound
    of its peak), and a pass without gradients' at its peak."""

    per_image: int  # saved for the backward pass, per training image
    fixed: int  # a gradient and AdamW's two moments per trainable parameter (the parameters exist already)
    inference_per_image: int = 0  # peak of a pass without gradients, per image

    def step(self, batch: int) -> int:
        return self.fixed + self.per_image * batch

    def inference(self, batch: int) -> int:
        return self.fixed + self.inference_per_image * batch


def saved_bytes(model: torch.nn.Module, images: torch.Tensor) -> int:
    """Bytes of the distinct storages a forward pass of ``images`` saves for the backward pass
    (and its output), parameters not counted."""
    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output = model(images)
    seen[output.untyped_storage().data_ptr()] = output.untyped_storage().nbytes()
    return sum(seen.values())


class LiveTensorBytes(TorchDispatchMode):
    """Counts the bytes of the distinct storages that every op's outputs hold while Python
    references to them live, and their peak. Exact for a pass without autograd (in
    inference mode nothing but Python references keeps a tensor alive); the allocator's
    slack comes on top."""

    def __init__(self):
        super().__init__()
        # data pointer -> [bytes, references]: one reference per time a tensor on it was
        # returned (an in-place op returns its input again), each released when that tensor dies.
        self.storages: dict[int, list[int]] = {}
        self.current = self.peak = 0

    def track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        entry = self.storages.setdefault(storage.data_ptr(), [storage.nbytes(), 0])
        if entry[1] == 0:
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        weakref.finalize(tensor, self._release, storage.data_ptr())

    def _release(self, pointer: int) -> None:
        entry = self.storages[pointer]
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.storages[pointer]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(output):
            if isinstance(leaf, torch.Tensor):
                self.track(leaf)
        return output


def inference_bytes(model: torch.nn.Module, image_shape: tuple[int, int, int],
                    layout: torch.memory_format = torch.contiguous_format) -> int:
    """Peak bytes of tensors per image of a forward pass without gradients in the model's
    current mode (evaluation, or batch-norm recalibration in training mode), the batch
    itself included: from the peaks at two batches (:data:`PROBE_BATCHES`; the peak is linear
    in the batch). Measured on a copy under forked random streams, like :func:`training_memory`."""
    probe = copy.deepcopy(model)
    device = next(model.parameters()).device
    peaks = []
    with torch.random.fork_rng(), torch.inference_mode():
        for batch in PROBE_BATCHES:
            images = torch.zeros(batch, *image_shape, device=device).contiguous(memory_format=layout)
            counter = LiveTensorBytes()
            with counter:
                counter.track(images)
                probe(images)
            peaks.append(counter.peak)
    return (peaks[1] - peaks[0]) // (PROBE_BATCHES[1] - PROBE_BATCHES[0])


def training_memory(model: torch.nn.Module, image_shape: tuple[int, int, int],
                    layout: torch.memory_format = torch.contiguous_format) -> TrainingMemory:
    """:class:`TrainingMemory` of training ``model`` on images of ``image_shape`` (C, H, W)
    in ``layout``, measured on a copy of it under forked random streams (nothing of the
    training it precedes changes)."""
    # A copy: the model's statistics and mode stay as they were.
    probe = copy.deepcopy(model).train().to(memory_format=layout)
    device = next(model.parameters()).device
    with torch.random.fork_rng():  # dropout and stochastic depth draw: the training's streams stay as they were
        small, large = (saved_bytes(probe, torch.zeros(batch, *image_shape, device=device).contiguous(
            memory_format=layout)) for batch in PROBE_BATCHES)
    per_image = (large - small) // (PROBE_BATCHES[1] - PROBE_BATCHES[0])
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return TrainingMemory(per_image=per_image, fixed=3 * trainable,
                          inference_per_image=inference_bytes(probe, image_shape, layout))


def evaluation_batch(inference_per_image: int) -> int:
    """The evaluation batch of :data:`EVALUATION_BATCH_BYTES` of tensors: the power of two
    nearest to it (geometrically), between 1 and :data:`MAX_EVALUATION_BATCH`. Evaluation's
    results do not depend on it beyond the order of floating-point sums."""
    ideal = EVALUATION_BATCH_BYTES / max(1, inference_per_image)
    return int(min(MAX_EVALUATION_BATCH, max(1, 2 ** round(math.log2(ideal)))))


def fitting_calibration_batch(memory: TrainingMemory, wanted: int, available: int | None) -> int:
    """``wanted`` when its recalibration pass fits in ``available`` bytes (``None``: unknown),
    else the largest power of two below it that does (at least 2: batch norm needs two images)."""
    batch = wanted
    while available is not None and batch > 2 and memory.inference(batch) > available:
        batch = 2 ** (math.ceil(math.log2(batch)) - 1)
    return batch


def device_memory(device: str) -> int | None:
    """Bytes still free where ``device`` trains: a CUDA device's free memory, else the
    process's (:func:`infra.memory.available_memory`)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.mem_get_info(torch.device(device))[0]
    return available_memory()


def largest_fitting_batch(memory: TrainingMemory, available: int) -> int:
    """The largest training batch whose lower bound fits in ``available`` bytes (0 when none does)."""
    return max(0, (available - memory.fixed) // max(1, memory.per_image))


def likely_peak(memory: TrainingMemory, batch: int, calibration: int) -> int:
    """An upper estimate of a training's resident peak: :data:`PEAK_OVER_BOUND` times its
    step's bound and its recalibration pass together (the allocator keeps much of the step's
    memory when recalibration starts, so measured peaks lay between the larger of the two
    and their sum)."""
    return int(PEAK_OVER_BOUND * (memory.step(batch) + memory.inference(calibration) - memory.fixed))


def check_fits(memory: TrainingMemory, batch: int, available: int | None, what: str) -> None:
    """One line (exit 2) when even the lower bound of ``what`` at ``batch`` exceeds the
    ``available`` bytes (``None``: unknown, nothing checked)."""
    if available is None or memory.step(batch) <= available:
        return
    fitting = largest_fitting_batch(memory, available)
    advice = (f"lower --batch-size to {fitting} or less" if fitting >= 2 else
              "lower --proxy-resolution or train a smaller network")
    raise UsageError(f"{what} at batch {batch} needs more than {format_bytes(memory.step(batch))} "
                     f"({format_bytes(memory.per_image)} of activations an image), more than the "
                     f"{format_bytes(available)} this machine has available: {advice}")


__all__ = ["EVALUATION_BATCH_BYTES", "LiveTensorBytes", "PEAK_OVER_BOUND", "TrainingMemory", "check_fits",
           "device_memory", "evaluation_batch", "fitting_calibration_batch", "inference_bytes", "largest_fitting_batch",
           "likely_peak", "saved_bytes", "training_memory"]
