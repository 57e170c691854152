"""Foundation benchmark: analytic count_cost vs fvcore, and the training step vs timm's.

    ../shared/peers/install-timm.sh .peers
    PYTHONPATH=.peers python benchmarks/foundation.py [--repeats 7] [--steps 5]
        [--sizes 32x32:128,64x64:64,128x128:32,128x431:16] [--networks b0,ghost] [--profile 64x64:64]
        [--compile 64x64:64]

Both sides of each comparison are measured in this one run (the machine is noisy);
medians over repeats are printed with their ratio. Each step's share of the machine is
given twice: of the sgemm peak, and of the roofline bound (the larger of its FLOPs over the
sgemm peak and its least memory traffic over the copy bandwidth, both measured here), which
a step that moves more bytes than it computes can reach where the sgemm peak cannot.
Record the output in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from fvcore.nn import FlopCountAnalysis

from runners.data.augmentation import transform_batch
from runners.learning.loop import TrainConfig, make_optimizer, training_step
from search_space import build_model, count_cost, load_spec
from timing import median_seconds  # benchmarks/ is the script's own directory
from search_space.cost_model import stage_cost


def fvcore_macs(spec, model=None):
    return fvcore_macs_of(model or build_model(spec), torch.zeros(1, spec.in_channels, *spec.resolution))


def count_cold(spec):
    stage_cost.cache_clear()  # what a never-seen architecture costs
    return count_cost(spec).macs


def bench_cost(repeats: int) -> None:
    spec = load_spec("efficientnet-b0")
    model = build_model(spec)
    assert fvcore_macs(spec, model) == count_cost(spec).macs == count_cold(spec)
    trace = median_seconds(lambda: fvcore_macs(spec, model), repeats)
    build_and_trace = median_seconds(lambda: fvcore_macs(spec), repeats)
    cold = median_seconds(lambda: count_cold(spec), repeats, inner=200)
    warm = median_seconds(lambda: count_cost(spec), repeats, inner=2000)
    print("count_cost vs fvcore, efficientnet-b0 at 224x224 (median of", repeats, "repeats)")
    print(f"  fvcore trace of a built model   {trace * 1e3:9.1f} ms")
    print(f"  fvcore build + trace            {build_and_trace * 1e3:9.1f} ms")
    print(f"  count_cost, cold stage cache    {cold * 1e6:9.1f} us   "
          f"{trace / cold:8.0f}x vs trace, {build_and_trace / cold:8.0f}x vs build + trace")
    print(f"  count_cost, warm stage cache    {warm * 1e6:9.1f} us   "
          f"{trace / warm:8.0f}x vs trace, {build_and_trace / warm:8.0f}x vs build + trace")


def interleaved_seconds(steps: dict, repeats: int, inner: int) -> dict[str, float]:
    """Each named step's median seconds: two warm-up calls each (allocator, kernels), then
    ``repeats`` rounds of ``inner`` calls of every step in turn, so that drift of the machine
    hits every contender alike."""
    for step in steps.values():
        for _ in range(2):
            step()
    samples = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            samples[name].append(median_seconds(step, 1, inner=inner))
    return {name: statistics.median(values) for name, values in samples.items()}


def sgemm_peak(size: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of a square float32 matrix product on this machine's threads: the compute roof
    a convolution network's training step can at best approach."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = median_seconds(lambda: a @ b, repeats, inner=5)
    return 2 * size**3 / seconds


def memory_bandwidth(megabytes: int = 256, repeats: int = 5) -> float:
    """Bytes/s of a large float32 copy on this machine's threads (one read and one write per
    element, far beyond the caches): the memory roof of a step that streams its tensors."""
    source = torch.randn(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    seconds = median_seconds(lambda: target.copy_(source), repeats, inner=3)
    return 2 * source.numel() * 4 / seconds


def step_traffic(model: torch.nn.Module, images: torch.Tensor) -> int:
    """Bytes a training step must at least move through memory (float32), a lower bound:
    every leaf module's inputs read and outputs written once in the forward pass, twice that
    in the backward pass (the saved input and the output's gradient read, the input's gradient
    written), and per parameter one read forward, a read and a gradient write backward, and
    AdamW's four reads and three writes (parameter, gradient, two moments)."""
    forward = 0

    def count(module, inputs, output):
        nonlocal forward
        tensors = [t for t in (*inputs, output) if isinstance(t, torch.Tensor)]
        forward += sum(t.numel() for t in tensors) * 4

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            model(images)
    finally:
        for hook in hooks:
            hook.remove()
    parameters = sum(p.numel() for p in model.parameters()) * 4
    return 3 * forward + 10 * parameters


class WithoutTarget(torch.nn.Module):
    """timm's forward takes images only; the training step also passes the labels (for the
    project's cosine head)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(images)


@dataclasses.dataclass(frozen=True)
class Network:
    """A network of the comparison: this project's spec and timm's closest model (keyword
    arguments of ``timm.create_model``)."""

    label: str
    spec: str
    width_mult: float
    depth_mult: float
    timm_name: str
    timm_label: str

    def ours(self) -> torch.nn.Module:
        spec = load_spec(self.spec, width_mult=self.width_mult, depth_mult=self.depth_mult)
        return build_model(spec, num_classes=10, in_channels=1)

    def peer(self) -> torch.nn.Module | None:
        """timm's model from a side directory (``../shared/peers/install-timm.sh .peers`` and
        ``PYTHONPATH=.peers``); ``None`` when timm is not importable."""
        try:
            import timm
        except ImportError:
            return None
        multipliers = {} if self.width_mult == self.depth_mult == 1.0 else {
            "channel_multiplier": self.width_mult, "depth_multiplier": self.depth_mult}
        return WithoutTarget(timm.create_model(self.timm_name, num_classes=10, in_chans=1, **multipliers))


# timm has no Ghost EfficientNetV2: the nearest it builds is the plain EfficientNetV2-S at the
# same width and depth multipliers (Fused-MBConv and MBConv where the Ghost network has Ghost
# modules), so that pair compares per-FLOP efficiency (the roofline share), not images/s.
NETWORKS = {
    "b0": Network("efficientnet-b0", "efficientnet-b0", 1.0, 1.0, "efficientnet_b0", "timm efficientnet_b0"),
    "ghost": Network("ghost-efficientnetv2 w0.5 d0.5", "ghost-efficientnetv2", 0.5, 0.5, "efficientnetv2_s",
                     "timm efficientnetv2_s w0.5 d0.5"),
}
SIZES = ((32, 32, 128), (64, 64, 64), (128, 128, 32), (128, 431, 16))  # height, width, batch


@dataclasses.dataclass(frozen=True)
class Roofs:
    """What the machine allows: FLOP/s of sgemm and bytes/s of a streaming copy."""

    flops: float
    bandwidth: float

    @classmethod
    def measure(cls) -> "Roofs":
        return cls(sgemm_peak(), memory_bandwidth())

    def bound_seconds(self, flops: float, traffic: float) -> float:
        """The roofline's lower bound on a step's time: compute or memory, whichever binds."""
        return max(flops / self.flops, traffic / self.bandwidth)


OURS = "this project, channels_last (the training default)"


def measure_steps(network: Network, height: int, width: int, batch: int, repeats: int,
                  steps: int) -> tuple[dict[str, tuple[float, float, int]], float]:
    """Each contender's median step seconds, FLOPs and traffic lower bound, interleaved in
    one run, and the augmentation's seconds per batch at this size (random zoom and shift by
    ``grid_sample``, magnitude 1: the input pipeline's one per-batch computation besides
    indexing)."""
    torch.manual_seed(0)
    config = TrainConfig()
    images, labels = torch.randn(batch, 1, height, width), torch.randint(0, 10, (batch,))

    def contender(model, layout):
        model = model.train().to(memory_format=layout)
        optimizer = make_optimizer(model, config)
        x = images.contiguous(memory_format=layout)
        work = (3 * 2 * fvcore_macs_of(model, images[:1]) * batch, step_traffic(model, x))
        return (lambda: training_step(model, optimizer, x, labels, config.label_smoothing)), work

    contenders = {OURS: contender(network.ours(), torch.channels_last),
                  "this project, contiguous": contender(network.ours(), torch.contiguous_format)}
    peer = network.peer()
    if peer is not None:
        contenders[f"{network.timm_label}, default"] = contender(peer, torch.contiguous_format)
        contenders[f"{network.timm_label}, channels_last"] = contender(network.peer(), torch.channels_last)
    seconds = interleaved_seconds({name: step for name, (step, _) in contenders.items()}, repeats, steps)
    generator = torch.Generator().manual_seed(0)
    augmentation = median_seconds(lambda: transform_batch(images, (height, width), 1.0, generator), repeats, steps)
    return {name: (seconds[name], *work) for name, (_, work) in contenders.items()}, augmentation


def bench_training(network: Network, height: int, width: int, batch: int, repeats: int, steps: int,
                   roofs: Roofs) -> None:
    """The project's training step (multi-tensor AdamW) in channels_last and contiguous
    against timm's closest model with the same optimizer, default and channels_last,
    interleaved in one run; FLOPs (3x the forward's, 2 per MAC) and the traffic lower bound
    of :func:`step_traffic` give each contender's share of the roofline bound."""
    timm_default, timm_last = f"{network.timm_label}, default", f"{network.timm_label}, channels_last"
    rows, augmentation = measure_steps(network, height, width, batch, repeats, steps)
    print(f"training step, {network.label} 1x{height}x{width} 10 classes, batch {batch}, AdamW, "
          f"{torch.get_num_threads()} threads, median of {repeats}x{steps} steps", flush=True)
    for name, (value, flops, traffic) in rows.items():
        ratios = "  ".join(f"{rows[base][0] / value:5.2f}x {label}" for base, label in (
            (timm_default, "timm"), (timm_last, "timm channels_last")) if base in rows)
        print(f"  {name:52s} {value * 1e3:8.1f} ms {batch / value:7.1f} images/s  "
              f"{flops / 1e9:6.1f} GFLOP {traffic / 1e9:5.2f} GB  {flops / value / roofs.flops:6.1%} of sgemm peak "
              f"{roofs.bound_seconds(flops, traffic) / value:6.1%} of roofline  {ratios}", flush=True)
    print(f"  augmentation (grid_sample zoom and shift) {augmentation * 1e3:.1f} ms a batch: "
          f"{augmentation / rows[OURS][0]:.1%} of this project's step", flush=True)
    if timm_last not in rows:
        print("  (timm not importable: ../shared/peers/install-timm.sh .peers, then PYTHONPATH=.peers)")


def fvcore_macs_of(model: torch.nn.Module, image: torch.Tensor) -> int:
    """Convolution and linear MACs of one image through ``model``, as fvcore counts them (one
    count for this project's networks and timm's alike)."""
    training = model.training
    model.eval()
    with torch.no_grad():
        analysis = FlopCountAnalysis(model, (image,))
        ops = analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).by_operator()
    model.train(training)
    return ops.get("conv", 0) + ops.get("linear", 0)


def convolution_kind(operator: str, shapes: list[list[int]]) -> str | None:
    """``depthwise``, ``pointwise`` or ``full`` for a profiled convolution (from its input
    and weight shapes), None for any other operator."""
    if operator == "aten::convolution_backward":
        images, weight = shapes[1], shapes[2]
    elif operator == "aten::mkldnn_convolution":
        images, weight = shapes[0], shapes[1]
    else:
        return None
    if weight[2:] == [1, 1]:
        return "pointwise"
    return "depthwise" if weight[1] == 1 and images[1] > 1 else "full"


def profile_step(network: Network, height: int, width: int, batch: int, rows: int = 15) -> None:
    """Where this project's channels_last training step spends its time: torch.profiler's
    operators by self CPU time over a few steps, and the convolutions' time by kind
    (depthwise, pointwise, full) and direction."""
    from torch.profiler import ProfilerActivity, profile

    config = TrainConfig()
    model = network.ours().train().to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    images = torch.randn(batch, 1, height, width).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    for _ in range(2):
        training_step(model, optimizer, images, labels, config.label_smoothing)
    profiled_steps = 3
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
        for _ in range(profiled_steps):
            training_step(model, optimizer, images, labels, config.label_smoothing)
    print(f"profile: {network.label} 1x{height}x{width}, batch {batch}, channels_last, {profiled_steps} steps")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))
    total = sum(event.self_cpu_time_total for event in profiler.key_averages())
    by_kind: dict[tuple[str, str], float] = {}
    for event in profiler.key_averages(group_by_input_shape=True):
        kind = convolution_kind(event.key, event.input_shapes)
        if kind is not None:
            direction = "backward" if event.key == "aten::convolution_backward" else "forward"
            by_kind[kind, direction] = by_kind.get((kind, direction), 0.0) + event.self_cpu_time_total
    for (kind, direction), micros in sorted(by_kind.items(), key=lambda item: -item[1]):
        print(f"  {kind:9s} convolutions, {direction:8s} {micros / profiled_steps / 1e3:7.1f} ms a step "
              f"({micros / total:5.1%} of the profiled time)")


def compile_gain(network: Network, height: int, width: int, batch: int, repeats: int, steps: int) -> None:
    """Whether ``torch.compile`` (Inductor) pays for this project's channels_last step: the
    first compiled step's time (the warm-up: tracing, code generation and compilation; a
    second run of this script finds Inductor's on-disk caches and measures the warm cache),
    the steady compiled step against the eager one (interleaved), and the images a training
    must see before the warm-up is paid back."""
    config = TrainConfig()
    images = torch.randn(batch, 1, height, width).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch,))
    torch.manual_seed(0)
    eager = network.ours().train().to(memory_format=torch.channels_last)
    compiled_model = network.ours().train().to(memory_format=torch.channels_last)
    eager_optimizer, compiled_optimizer = make_optimizer(eager, config), make_optimizer(compiled_model, config)
    compiled = torch.compile(compiled_model)
    start = time.perf_counter()
    training_step(compiled, compiled_optimizer, images, labels, config.label_smoothing)
    warm_up = time.perf_counter() - start
    contenders = {"eager": lambda: training_step(eager, eager_optimizer, images, labels, config.label_smoothing),
                  "compiled": lambda: training_step(compiled, compiled_optimizer, images, labels, config.label_smoothing)}
    seconds = interleaved_seconds(contenders, repeats, steps)
    eager_seconds, compiled_seconds = seconds["eager"], seconds["compiled"]
    saving = eager_seconds - compiled_seconds
    payback = (f"pays back after {warm_up / saving * batch:,.0f} images" if saving > 0
               else "never pays back (no faster per step)")
    print(f"torch.compile, {network.label} 1x{height}x{width}, batch {batch}, channels_last: first step "
          f"{warm_up:.1f} s; steady step {compiled_seconds * 1e3:.1f} ms compiled against {eager_seconds * 1e3:.1f} ms "
          f"eager ({eager_seconds / compiled_seconds:.2f}x); {payback}", flush=True)


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """``HxW:BATCH,...`` as (height, width, batch) triples."""
    sizes = []
    for item in text.split(","):
        shape, batch = item.split(":")
        height, width = shape.split("x")
        sizes.append((int(height), int(width), int(batch)))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sizes", type=parse_sizes, default=list(SIZES), help="HxW:BATCH,... (default: %(default)s)")
    parser.add_argument("--networks", default=",".join(NETWORKS), help=f"some of {', '.join(NETWORKS)}, or '' for none")
    parser.add_argument("--profile", type=parse_sizes, default=[],
                        help="HxW:BATCH,...: also profile this project's step at these sizes")
    parser.add_argument("--compile", type=parse_sizes, default=[],
                        help="HxW:BATCH,...: measure torch.compile's warm-up and gain at these sizes (B0)")
    parser.add_argument("--skip-cost", action="store_true", help="no count_cost vs fvcore comparison")
    args = parser.parse_args()
    if not args.skip_cost:
        bench_cost(args.repeats)
    roofs = Roofs.measure()
    print(f"machine: sgemm peak {roofs.flops / 1e9:.1f} GFLOP/s, copy bandwidth {roofs.bandwidth / 1e9:.1f} GB/s, "
          f"{torch.get_num_threads()} threads", flush=True)
    networks = [NETWORKS[key] for key in filter(None, args.networks.split(","))]  # "": no step (--compile alone)
    for network in networks:
        for height, width, batch in args.sizes:
            bench_training(network, height, width, batch, args.repeats, args.steps, roofs)
    for height, width, batch in args.profile:
        profile_step(NETWORKS["b0"], height, width, batch)
    for height, width, batch in args.compile:
        compile_gain(NETWORKS["b0"], height, width, batch, args.repeats, args.steps)


if __name__ == "__main__":
    main()
