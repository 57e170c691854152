"""Command line: ``python -m search_space describe SPEC [--json]``, ``sample``,
``export SPEC|CHECKPOINT --format onnx|torchscript`` and ``latency SPEC [--predict]``.

SPEC is a preset name (``efficientnet-b0``), a YAML/JSON spec file or a run
directory holding ``best.yaml``. A user mistake prints one line and exits 2.
"""

from __future__ import annotations

if __name__ == "__main__":  # before the imports (torch): a Ctrl-C while starting exits 130, no traceback
    from infra.stopping import exit_quietly_on_interrupt

    exit_quietly_on_interrupt()

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

from infra.cli import ArgumentParser, checked, integer, integer_between, positive_int, run_main
from infra.errors import UsageError
from infra.files import make_directory
from infra.units import format_macs, parse_resolution
from search_space.block_string import encode_stage
from search_space.cost_model import CostReport, count_cost
from search_space.presets import PRESETS, load_spec
from search_space.serialization import to_json, to_yaml
from search_space.space import load_space
from search_space.spec import NetworkSpec, format_attention


def format_table(spec: NetworkSpec, report: CostReport) -> str:
    """A readable per-part table of ``spec``'s cost (what ``describe`` prints)."""
    header = ("part", "block", "r", "k", "s", "e", "out", "attention", "output", "params", "MACs", "MAC %")
    rows = []
    stage_rows = {part.name: stage for part, stage in zip(report.stages, spec.stages)}
    for part in report.parts:
        stage = stage_rows.get(part.name)
        described = (
            (stage.block, stage.repeats, stage.kernel, stage.stride, stage.expansion, stage.out_channels,
             format_attention(stage.attention))
            if stage else ("", "", "", "", "", "", "")
        )
        output = "x".join(map(str, part.output_resolution))
        share = f"{100 * part.macs / report.macs:.1f}" if report.macs else "0"
        rows.append((part.name, *described, output, f"{part.params:,}", f"{part.macs:,}", share))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    lines = ["  ".join(str(cell).rjust(width) for cell, width in zip(row, widths)) for row in [header] + rows]
    height, width = spec.resolution
    summary = [
        f"{spec.name}: {spec.in_channels}x{height}x{width} input, {spec.num_classes} classes, {spec.classifier} classifier",
        *lines,
        f"total: params {report.params:,} ({format_macs(report.params)}), MACs {report.macs:,} ({format_macs(report.macs)}: "
        f"conv {report.macs_by_op['conv']:,} + linear {report.macs_by_op['linear']:,}), "
        f"activations {report.activations:,}",
    ]
    return "\n".join(summary)


def _describe(args: argparse.Namespace) -> None:
    spec = load_spec(args.spec)
    changes = {key: value for key, value in (
        ("resolution", args.resolution), ("in_channels", args.in_channels), ("num_classes", args.num_classes))
        if value is not None}
    if changes:
        spec = dataclasses.replace(spec, **changes)
    report = count_cost(spec)
    if args.json:
        payload = report.to_dict()
        payload["name"] = spec.name
        payload["stages"] = [encode_stage(stage, width) for stage, width in zip(spec.stages, spec.stage_inputs)]
        print(json.dumps(payload, indent=2))
    else:
        print(format_table(spec, report))


def _sample(args: argparse.Namespace) -> None:
    spec = load_space(args.space).sample(args.seed)
    print(to_json(spec) if args.format == "json" else to_yaml(spec), end="" if args.format == "yaml" else "\n")


def _export(args: argparse.Namespace) -> None:
    from search_space.export import EXPORT_FORMATS, export_model, load_network

    spec, model, trained = load_network(args.network)
    out = args.out or Path(f"{spec.name or 'network'}{EXPORT_FORMATS[args.format]}")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; name the file to write")
    make_directory(out.parent, "--out")
    try:  # a folder this process may not write in (e.g. under /proc) fails here, not after the export
        tempfile.TemporaryFile(dir=out.parent).close()
    except OSError as error:
        raise UsageError(f"--out {out}: cannot write in {out.parent} ({error.strerror or error})") from None
    export_model(model, spec, out, args.format)
    height, width = spec.resolution
    print(f"wrote {out}: {spec.name} fused for inference, {args.format}, input N x {spec.in_channels} x {height} x "
          f"{width} (N free), {spec.num_classes} logits"
          + ("" if trained else "; initial weights (a spec has no trained ones: export a checkpoint for those)"))


def _latency(args: argparse.Namespace) -> None:
    from search_space.export import load_network
    from search_space.latency import LatencyTable, measure_latency

    spec, _, _ = load_network(args.network)
    measured = measure_latency(spec, args.threads, repeats=args.repeats)
    height, width = spec.resolution
    print(f"{spec.name} at {spec.in_channels}x{height}x{width}, fused eval model: {measured.describe()}")
    if args.predict:
        table = LatencyTable(threads=measured.threads)
        predicted = table.predict(spec)
        print(f"predicted from the per-block table: {predicted:.3f} ms ({100 * (predicted / measured.median_ms - 1):+.1f}%; "
              f"{table.measured} part(s) measured now, table {table.path}, calibration {table.calibration:.3f})")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m search_space", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    describe = commands.add_parser("describe", help="params and MACs per stage and by op")
    describe.add_argument("spec", help=f"preset ({', '.join(PRESETS)}), YAML/JSON file or run directory")
    describe.add_argument("--json", action="store_true", help="print a JSON object instead of a table")
    describe.add_argument("--resolution", type=checked(parse_resolution), help="override the input size: N or HxW")
    describe.add_argument("--in-channels", type=positive_int, help="override the input channels")
    describe.add_argument("--num-classes", type=positive_int, help="override the number of classes")
    describe.set_defaults(run=_describe)
    sample = commands.add_parser("sample", help="print a random spec from a search space")
    sample.add_argument("space", nargs="?", default="default", help="'default' or a space YAML file")
    sample.add_argument("--seed", type=integer, default=0)
    sample.add_argument("--format", choices=("yaml", "json"), default="yaml")
    sample.set_defaults(run=_sample)
    export = commands.add_parser("export", help="the fused eval model as ONNX or TorchScript")
    export.add_argument("network", help="preset, YAML/JSON spec, run directory, or a checkpoint (.pt, .pth, .ckpt)")
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    export.add_argument("--out", type=Path, default=None, help="the file to write; when not given, NAME.onnx or NAME.pt")
    export.set_defaults(run=_export)
    latency = commands.add_parser("latency", help="batch-1 CPU latency of the fused eval model")
    latency.add_argument("network", help="preset, YAML/JSON spec, run directory, or a checkpoint")
    latency.add_argument("--threads", type=integer_between(1, 1024), default=None,
                         help="intra-op threads; when not given, torch's default for this machine")
    latency.add_argument("--repeats", type=integer_between(5, 100_000), default=50, help="timed runs after the warm-up")
    latency.add_argument("--predict", action="store_true",
                         help="also predict it from the per-block lookup table (built on first use, cached)")
    latency.set_defaults(run=_latency)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
