"""Bad-input sweep: every CLI fed nonsense, as a new user would, counted by outcome.

    python benchmarks/bad_inputs.py [--jobs 2] [--only search,fit] [--show-all]

Each case runs ``python -m MODULE ARGS`` in a fresh interpreter, in a temporary directory of
generated damaged files (specs, spaces, .npz, IDX, image folders, result tables, run
directories). The promise (README, "Bad input") is one line on stderr and exit code 2; the
sweep counts per CLI how many cases keep it and lists the ones that do not: a traceback, an
exit 0 for nonsense, more than one line, or work started (still running after ``--timeout``).
A few good inputs run first as controls, so a broken harness cannot pass as a kept promise.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODULES = {"search_space": "search_space", "search": "runners.search", "evaluate": "runners.evaluate",
           "train": "runners.train", "fit": "scaling.fit", "check": "scaling.check", "dashboard": "analysis.dashboard"}
# Appended to commands that would train, so that accepted nonsense finishes in seconds.
QUICK_TRAIN = ["--epochs", "1", "--max-train-samples", "64", "--max-val-samples", "32", "--quiet"]


@dataclass(frozen=True)
class Case:
    cli: str
    args: tuple[str, ...]


KEPT = "one line, exit 2"
KEPT_AS_NOTE = "a note on the page and a warning line"


@dataclass(frozen=True)
class Outcome:
    case: Case
    verdict: str  # KEPT | KEPT_AS_NOTE | "traceback" | "accepted" | "several lines" | "exit N" | "still running"
    last_line: str


# --- the damaged files ------------------------------------------------------------------------------


def _npz(path: Path, **arrays) -> None:
    np.savez(path, **arrays)


def _idx(images: np.ndarray | None, labels: np.ndarray | None, folder: Path, *, image_header=None,
         label_header=None) -> None:
    folder.mkdir()
    if images is not None:
        header = image_header or bytes([0, 0, 8, 3]) + struct.pack(">3I", *images.shape)
        (folder / "train-images-idx3-ubyte").write_bytes(header + images.astype(np.uint8).tobytes())
    if labels is not None:
        header = label_header or bytes([0, 0, 8, 1]) + struct.pack(">I", len(labels))
        (folder / "train-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())


def _png(path: Path, size=(12, 12)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, size).astype(np.uint8), mode="L").save(path)


def _checkpoints(root: Path) -> None:
    """Checkpoints damaged every way a file can be: empty, text, random, truncated, foreign,
    with a bad spec, with weights of another network."""
    import torch

    from search_space import build_model, load_spec, save_checkpoint, to_json

    spec = load_spec("efficientnet-b0")
    good = save_checkpoint(root / "ckpt_good_for_damage.pt", spec, build_model(spec))
    data = good.read_bytes()
    (root / "ckpt_empty.pt").write_bytes(b"")
    (root / "ckpt_text.pt").write_text("weights: yes\n")
    (root / "ckpt_random.pt").write_bytes(np.random.default_rng(1).bytes(4096))
    (root / "ckpt_truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"weights": [1, 2, 3]}, root / "ckpt_not_suite.pt")
    torch.save({"format": 1, "spec": "{", "state_dict": {}}, root / "ckpt_bad_spec.pt")
    other = save_checkpoint(root / "ckpt_other.pt", load_spec("efficientnet-b1"), build_model(load_spec("efficientnet-b1")))
    payload = torch.load(other, weights_only=True)
    torch.save({**payload, "spec": to_json(spec)}, root / "ckpt_wrong_weights.pt")
    other.unlink()
    good.unlink()


def make_files(root: Path) -> None:
    _checkpoints(root)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 16, 16)).astype(np.float32), np.arange(40) % 2
    _npz(root / "good.npz", x=x, y=y)
    _npz(root / "x1d.npz", x=np.zeros(40, np.float32), y=y)
    _npz(root / "x5d.npz", x=np.zeros((40, 1, 1, 16, 16), np.float32), y=y)
    _npz(root / "y2d.npz", x=x, y=np.zeros((40, 2)))
    _npz(root / "yfloat.npz", x=x, y=np.linspace(0, 1, 40))
    _npz(root / "ynegative.npz", x=x, y=-(np.arange(40) % 2) - 1)
    _npz(root / "mismatch.npz", x=x, y=y[:30])
    _npz(root / "xnan.npz", x=np.full_like(x, np.nan), y=y)
    _npz(root / "xinf.npz", x=np.where(x > 0, np.inf, x), y=y)
    _npz(root / "xstr.npz", x=np.array(["a"] * 40), y=y)
    _npz(root / "ystr.npz", x=x, y=np.array(["cat", "dog"] * 20))
    np.savez(root / "xobject.npz", x=np.array([None] * 40, dtype=object), y=y, allow_pickle=True)
    _npz(root / "noy.npz", x=x)
    _npz(root / "otherkeys.npz", images=x, labels=y)
    _npz(root / "empty.npz", x=np.zeros((0, 16, 16), np.float32), y=np.zeros(0, np.int64))
    _npz(root / "oneclass.npz", x=x, y=np.zeros(40, np.int64))
    _npz(root / "onesample.npz", x=x[:1], y=y[:1])
    _npz(root / "huge_side.npz", x=np.zeros((2, 1, 200_000), np.float32), y=np.array([0, 1]))
    _npz(root / "xbool.npz", x=x > 0, y=y)
    _npz(root / "ycomplex.npz", x=x, y=y.astype(np.complex64))
    np.save(root / "array.npy", x)
    (root / "array.npy").rename(root / "renamed.npz")
    with zipfile.ZipFile(root / "notnpy.npz", "w") as archive:
        archive.writestr("x.npy", b"this is not an npy payload")
        archive.writestr("y.npy", b"nor this")
    (root / "text.npz").write_text("x,y\n1,2\n")
    (root / "gzip.npz").write_bytes(gzip.compress(b"\x00" * 100))
    (root / "empty.bin.npz").write_bytes(b"")

    _idx(None, y, root / "idx_no_images")
    _idx((x * 40 + 100).clip(0, 255), y[:20], root / "idx_count_mismatch")
    _idx(np.zeros((4, 8, 8)), np.arange(4) % 2, root / "idx_bad_magic", image_header=b"\x00\x00\x09\x03" +
         struct.pack(">3I", 4, 8, 8))
    _idx(np.zeros((4, 8, 8)), np.arange(4) % 2, root / "idx_huge_header", image_header=bytes([0, 0, 8, 3]) +
         struct.pack(">3I", 2**31, 2**16, 2**16))
    _idx(np.zeros((4, 8, 8)), np.arange(4) % 2, root / "idx_zero_dims", image_header=bytes([0, 0, 8, 3]) +
         struct.pack(">3I", 4, 0, 8))
    _idx(np.zeros((4, 8, 8)), np.arange(4) % 2, root / "idx_255_dims", image_header=bytes([0, 0, 8, 255]))
    _idx(np.zeros((4, 8, 8)), np.array([0, 1, 250, 3]), root / "idx_labels_bytes_ok")  # 251 classes: valid
    _idx(np.zeros((4, 8, 8)), np.arange(4) % 2, root / "idx_float_type", image_header=bytes([0, 0, 0x0D, 3]) +
         struct.pack(">3I", 4, 8, 8))

    (root / "folder_empty").mkdir()
    (root / "folder_files_only").mkdir()
    _png(root / "folder_files_only" / "a.png")
    _png(root / "folder_one_class" / "cat" / "a.png")
    (root / "folder_empty_classes" / "cat").mkdir(parents=True)
    (root / "folder_empty_classes" / "dog").mkdir(parents=True)
    _png(root / "folder_fake_png" / "cat" / "a.png")
    (root / "folder_fake_png" / "dog").mkdir()
    (root / "folder_fake_png" / "dog" / "b.png").write_text("not a png")
    _png(root / "folder_zero_byte" / "cat" / "a.png")
    (root / "folder_zero_byte" / "dog").mkdir()
    (root / "folder_zero_byte" / "dog" / "b.png").write_bytes(b"")
    _png(root / "folder_tiny_image" / "cat" / "a.png", size=(1, 1))
    _png(root / "folder_tiny_image" / "dog" / "b.png", size=(1, 1))
    _png(root / "folder_huge_image" / "cat" / "a.png", size=(1, 60_000))
    _png(root / "folder_huge_image" / "dog" / "b.png", size=(1, 60_000))

    specs = {
        "empty.yaml": "", "list.yaml": "- 1\n- 2\n", "scalar.yaml": "42\n", "tabs.yaml": "name:\tx\n\t- y\n",
        "trailing.json": '{"name": "x"} garbage', "nostages.yaml": "name: x\nresolution: 224\n",
        "stages_empty.yaml": "name: x\nstages: []\n", "utf16.yaml": None, "binary.yaml": None,
        "gzip.yaml": None, "bomb.yaml": None,
    }
    for name, text in specs.items():
        if text is not None:
            (root / name).write_text(text)
    (root / "utf16.yaml").write_bytes("name: x\n".encode("utf-16"))
    (root / "binary.yaml").write_bytes(bytes(range(256)))
    (root / "gzip.yaml").write_bytes(gzip.compress(b"name: x\n"))
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    (root / "bomb.yaml").write_text("\n".join(bomb) + "\n")

    from search_space import load_spec, spec_to_dict

    base = spec_to_dict(load_spec("efficientnet-b0"))
    mutations = {
        "stage_repeats_negative": ("stages", 0, "repeats", -1), "stage_kernel_4": ("stages", 0, "kernel", 4),
        "stage_kernel_string": ("stages", 0, "kernel", "3"), "stage_stride_3": ("stages", 1, "stride", 3),
        "stage_expansion_zero": ("stages", 1, "expansion", 0), "stage_expansion_nan": ("stages", 1, "expansion", "nan"),
        "stage_out_zero": ("stages", 2, "out_channels", 0), "stage_out_huge": ("stages", 2, "out_channels", 10**9),
        "stage_attention_bogus": ("stages", 0, "attention", "bogus"),
        "stage_block_bogus": ("stages", 0, "block", "bogus"), "stage_activation_list": ("stages", 0, "activation", [1]),
        "stage_extra_field": ("stages", 0, "colour", "red"), "stage_is_list": ("stages", 0, None, [1, 2]),
        "resolution_zero": (None, None, "resolution", [0, 32]), "resolution_string": (None, None, "resolution", "224"),
        "resolution_three": (None, None, "resolution", [32, 32, 32]),
        "resolution_huge": (None, None, "resolution", [10**7, 10**7]),
        "in_channels_zero": (None, None, "in_channels", 0), "num_classes_float": (None, None, "num_classes", 10.0),
        "dropout_above_one": (None, None, "dropout", 1.5), "drop_path_negative": (None, None, "drop_path_rate", -0.1),
        "unknown_field": (None, None, "colour", "red"), "name_number": (None, None, "name", 5),
        "stem_channels_bool": (None, None, "stem_channels", True),
        "head_channels_float": (None, None, "head_channels", 1280.5),
        "classifier_bogus": (None, None, "classifier", "bogus"),
        "stages_dict": (None, None, "stages", {"a": 1}),
    }
    for name, (container, index, field, value) in mutations.items():
        spec = json.loads(json.dumps(base))
        if container is None:
            spec[field] = value
        elif field is None:
            spec[container][index] = value
        else:
            spec[container][index][field] = value
        (root / f"{name}.json").write_text(json.dumps(spec))

    spaces = {  # one line of the packaged default space replaced (or a top-level key added)
        "space_low_above_high": "expansion: {low: 6, high: 1}",
        "space_empty_choices": "kernel: []",
        "space_mixed_choices": "kernel: [3, five]",
        "space_float_kernel": "kernel: [1.5, 3]",
        "space_step_zero": "expansion: {low: 1, high: 6, step: 0}",
        "space_nan_range": "expansion: {low: .nan, high: 6}",
        "space_zero_channels": "stem_channels: {low: 0, high: 8}",
        "space_unknown_dimension": "colour: [red]",
        "space_resolution_text": "resolution: big",
    }
    template = (ROOT / "search_space" / "spaces" / "default.yaml").read_text()
    (root / "space_not_mapping.yaml").write_text("[1, 2, 3]\n")
    for name, line in spaces.items():
        (root / f"{name}.yaml").write_text(_damage_space(template, line))

    tables = {
        "table_empty.csv": "", "table_header_only.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n",
        "table_missing_column.csv": "depth_mult,width_mult,macs,metric\n1,1,1,0.5\n",
        "table_text.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n1,1,x,4e8,0.5,0\n",
        "table_nan.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n1,1,1,4e8,nan,0\n1.2,1,1,5e8,0.6,0\n",
        "table_inf_macs.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n1,1,1,inf,0.5,0\n1.2,1,1,5e8,0.6,0\n",
        "table_negative.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n-1,1,1,4e8,0.5,0\n1.2,1,1,5e8,0.6,0\n",
        "table_ragged.csv": "depth_mult,width_mult,resolution_mult,macs,metric,seed\n1,1,1,4e8\n1,1,1,4e8,0.5,0,9,9\n",
        "table_semicolons.csv": "depth_mult;width_mult;resolution_mult;macs;metric;seed\n1;1;1;4e8;0.5;0\n",
        "table_duplicate_columns.csv": "depth_mult,depth_mult,width_mult,resolution_mult,macs,metric,seed\n"
                                       "1,1,1,1,4e8,0.5,0\n",
        "table_unclosed_quote.csv": 'depth_mult,width_mult,resolution_mult,macs,metric,seed\n"1,1,1,4e8,0.5,0\n',
        "law_one_row.csv": "macs,accuracy\n4e8,0.7\n", "law_zero_x.csv": "macs,accuracy\n0,0.5\n1e8,0.6\n2e8,0.7\n",
        "law_same_x.csv": "macs,accuracy\n1e8,0.5\n1e8,0.6\n1e8,0.7\n",
        "law_metric_outside.csv": "macs,accuracy\n1e8,5\n2e8,6\n4e8,7\n",
        "law_text.csv": "macs,accuracy\n1e8,high\n2e8,low\n4e8,mid\n",
    }
    for name, text in tables.items():
        (root / name).write_text(text)
    (root / "table_binary.csv").write_bytes(bytes(range(256)) * 4)
    (root / "table_latin1.csv").write_bytes("depth_mult,width_mult,resolution_mult,macs,metric,seed,caf\xe9\n".encode(
        "latin-1"))
    (root / "table_gzip.csv").write_bytes(gzip.compress(b"depth_mult,width_mult\n1,1\n"))

    (root / "a_file").write_text("just a file")
    (root / "empty_dir").mkdir()
    runs = {
        "run_config_garbage": {"config.json": "{not json"},
        "run_config_list": {"config.json": "[1, 2]"},
        "run_config_kind_unknown": {"config.json": '{"kind": "banana"}'},
        "run_config_kind_number": {"config.json": '{"kind": 5}'},
        "run_results_binary": {"config.json": '{"kind": "search"}', "results.csv": None},
        "run_trials_nan": {"config.json": '{"kind": "search"}',
                           "trials.jsonl": '{"number": 0, "state": "COMPLETE", "macs": NaN}\n'},
        "run_trials_truncated": {"config.json": '{"kind": "search"}',  # damage inside the log, not a last line in flight
                                 "trials.jsonl": '{"number": 0, "sta\n{"number": 1, "state": "COMPLETE"}\n'},
        "run_coefficients_nan": {"config.json": '{"kind": "scaling"}', "coefficients.json": '{"alpha": NaN}'},
        "run_coefficients_string": {"config.json": '{"kind": "scaling"}', "coefficients.json": '"alpha"'},
        "run_family_text": {"config.json": '{"kind": "scaling"}', "family.csv": "name,macs\nb1,lots\n"},
        "run_laws_null": {"config.json": '{"kind": "scaling"}', "laws.json": "null"},
        "run_best_yaml_garbage": {"config.json": '{"kind": "search"}', "best.yaml": ": : :\n\t-"},
        "scaling_no_specs": {"config.json": '{"kind": "scaling"}'},
    }
    for name, contents in runs.items():
        folder = root / name
        folder.mkdir()
        for file, text in contents.items():
            if text is None:
                (folder / file).write_bytes(bytes(range(256)))
            else:
                (folder / file).write_text(text)


def _damage_space(template: str, line: str) -> str:
    """The packaged default space with one stage's first choice line replaced by ``line``."""
    key = line.split(":")[0]
    lines = template.splitlines()
    for index, text in enumerate(lines):
        if text.strip().startswith(f"{key}:"):
            indent = text[: len(text) - len(text.lstrip())]
            lines[index] = indent + line
            return "\n".join(lines) + "\n"
    return template + f"\n{line}\n"  # a key the space does not have: appended at the top level


# --- the cases --------------------------------------------------------------------------------------


def cases(root: Path) -> list[Case]:
    def f(name: str) -> str:
        return str(root / name)

    npz_bad = ["x1d", "x5d", "y2d", "yfloat", "ynegative", "mismatch", "xnan", "xinf", "xstr", "ystr", "xobject",
               "noy", "otherkeys", "empty", "oneclass", "onesample", "huge_side", "ycomplex", "renamed", "notnpy",
               "text", "gzip", "empty.bin"]
    data_bad = [f(f"{name}.npz") for name in npz_bad]
    data_bad += [f(name) for name in ("idx_no_images", "idx_count_mismatch", "idx_bad_magic", "idx_huge_header",
                                       "idx_zero_dims", "idx_255_dims", "idx_float_type", "folder_empty",
                                       "folder_files_only", "folder_one_class", "folder_empty_classes",
                                       "folder_fake_png", "folder_zero_byte", "folder_huge_image", "a_file",
                                       "empty_dir", "does/not/exist")]
    spec_bad = [f(name) for name in ("empty.yaml", "list.yaml", "scalar.yaml", "tabs.yaml", "trailing.json",
                                     "nostages.yaml", "stages_empty.yaml", "utf16.yaml", "binary.yaml", "gzip.yaml",
                                     "bomb.yaml")]
    spec_bad += sorted(str(path) for path in root.glob("*.json") if not path.name.startswith("trailing"))
    spec_bad += ["efficientnet-b9", "", "r1_k3_s11_e1_i32_o16_se0.25_zz", "r0_k3_s11_e1_i32_o16",
                 "r1_k3_s11_e1_i32_o16_se9", "r1_k4_s11_e1_i32_o16", "r1_k3_s33_e1_i32_o16", "r99999999_k3_s11_e1_i32_o16",
                 f("empty_dir"), f("a_file"), "/dev/null", "-", "...", "efficientnet-b0:extra"]
    space_bad = sorted(str(path) for path in root.glob("space_*.yaml")) + [f("bomb.yaml"), f("binary.yaml"),
                                                                          "no-such-space", f("empty_dir")]
    quick = QUICK_TRAIN
    out: list[Case] = []
    out += [Case("search_space", ("describe", spec)) for spec in spec_bad]
    out += [Case("search_space", ("sample", space)) for space in space_bad]
    out += [Case("search_space", args) for args in (
        ("describe",), ("bogus-command",), ("describe", "efficientnet-b0", "--resolution", "100000"),
        ("describe", "efficientnet-b0", "--resolution", "7x"), ("describe", "efficientnet-b0", "--in-channels", "1e3"),
        ("describe", "efficientnet-b0", "--num-classes", "10**6"), ("sample", "default", "--seed", "1e400"),
        ("describe", "efficientnet-b0", "--json", "--json=yes"))]
    # export and latency: damaged checkpoints, spec mistakes, bad flags and outputs
    out += [Case("search_space", ("export", str(path))) for path in sorted(root.glob("ckpt_*.pt"))]
    out += [Case("search_space", ("latency", str(path))) for path in sorted(root.glob("ckpt_*.pt"))[:3]]
    out += [Case("search_space", ("export", spec)) for spec in spec_bad[:12]]
    out += [Case("search_space", ("export", "efficientnet-b0") + args) for args in (
        ("--format", "tflite"), ("--out", f("empty_dir")), ("--out", f("a_file/sub.onnx")), ("--out", "/proc/x.onnx"))]
    out += [Case("search_space", ("latency", spec)) for spec in spec_bad[:12]]
    out += [Case("search_space", ("latency", "efficientnet-b0") + args) for args in (
        ("--threads", "0"), ("--threads", "1.5"), ("--threads", "100000"), ("--repeats", "0"), ("--repeats", "1e9"))]

    out += [Case("search", ("--data", data, "--trials", "1", *quick)) for data in data_bad]
    out += [Case("search", ("--space", space, "--trials", "1", "--data", f("good.npz"), *quick)) for space in space_bad]
    search_flags = [
        ("--budget-flops", "400Q"), ("--budget-flops", ""), ("--budget-flops", "-400M"), ("--budget-flops", "0"),
        ("--budget-flops", "1M"), ("--budget-flops", "1e30"), ("--budget-flops", "4e8.5"),
        ("--proxy-resolution", "0"), ("--proxy-resolution", "1x1"), ("--proxy-resolution", "100000"),
        ("--proxy-resolution", "32x32x32"), ("--proxy-resolution", "axb"), ("--epochs", "0"), ("--epochs", "1.5"),
        ("--epochs", "10000000"), ("--batch-size", "0"), ("--batch-size", "-3"), ("--max-train-samples", "0"),
        ("--max-val-samples", "0"), ("--val-fraction", "0"), ("--val-fraction", "1"), ("--val-fraction", "1.5"),
        ("--val-fraction", "nan"), ("--learning-rate", "0"), ("--learning-rate", "-1"), ("--learning-rate", "1e10"),
        ("--device", "bogus"), ("--device", "cuda"), ("--device", "cuda:99"), ("--device", "mps"), ("--device", ""),
        ("--workers", "0"), ("--workers", "1000000"), ("--trials", "0"), ("--trials", "-1"), ("--timeout", "-1"),
        ("--timeout", "0"), ("--seeds", "0"), ("--seeds", "100000"), ("--startup-trials", "-1"),
        ("--reward-exponent", "inf"), ("--reward-exponent", "5"), ("--storage", "sqlite:////no/such/dir/x.db"),
        ("--storage", "mysql://nobody@127.0.0.1:1/x"), ("--storage", "postgresql://nobody@127.0.0.1:1/x"),
        ("--storage", "not a url"), ("--storage", f"sqlite:///{root / 'empty_dir'}"),
        ("--storage", f"sqlite:///{root / 'a_file'}"), ("--ray-address", "127.0.0.1:1"), ("--out", f("a_file")),
        ("--out", f("a_file/sub")), ("--out", f("run_config_kind_unknown")), ("--out", "/proc/forbidden"),
        ("--sampler", "bogus"), ("--objective", "bogus"), ("--proxy", "bogus"), ("--backend", "bogus"),
        ("--zero-cost-score", "bogus"), ("--seed", "1.5"), ("--trials", "1e3"), ("--startup-trials", "0"),
        ("--study-name", ""), ("--study-name", "x" * 300), ("--study-name", "tab\tname"),
        ("--ray-address", "nonsense"),
    ]
    out += [Case("search", (flag, value, "--trials", "1", "--data", f("good.npz"), *quick)) for flag, value in search_flags
            if flag not in QUICK_TRAIN]
    out += [Case("search", (flag, value, "--trials", "1", "--data", f("good.npz"), "--quiet")) for flag, value in search_flags
            if flag in QUICK_TRAIN]
    out += [Case("search", args) for args in (("--bogus-flag",), ("positional",), ("--objective", "pareto",
                                              "--sampler", "grid", "--trials", "1", "--data", f("good.npz"), *quick))]

    out += [Case("evaluate", (spec, "--data", f("good.npz"), *quick)) for spec in spec_bad[:20]]
    out += [Case("evaluate", ("efficientnet-b0", "--data", data, *quick)) for data in data_bad[:20]]
    out += [Case("evaluate", (run, "--data", f("good.npz"), *quick)) for run in
            (f("run_config_garbage"), f("run_best_yaml_garbage"), f("run_config_kind_unknown"), f("empty_dir"))]
    out += [Case("evaluate", ("efficientnet-b0", flag, value, "--data", f("good.npz"), "--quiet")) for flag, value in (
        ("--seeds", "0"), ("--seeds", "1000000"), ("--seed", "x"), ("--epochs", "-2"), ("--device", "cuda:7"),
        ("--proxy-resolution", "2x"), ("--val-fraction", "-0.1"), ("--batch-size", "1e3"))]
    out += [Case("evaluate", ())]

    out += [Case("train", (spec, "--data", f("good.npz"), *quick)) for spec in spec_bad[:16]]
    out += [Case("train", ("efficientnet-b0", "--data", data, *quick)) for data in data_bad[:16]]
    out += [Case("train", ("efficientnet-b0", "--init", str(path), "--data", f("good.npz"), *quick))
            for path in sorted(root.glob("ckpt_*.pt"))]
    out += [Case("check", (run, "--members", "b0", "--data", f("good.npz"), *quick)) for run in
            (f("run_config_garbage"), f("run_config_kind_unknown"), f("empty_dir"), f("scaling_no_specs"))]
    out += [Case("check", (f("scaling_no_specs"), "--members", flag)) for flag in ("b0", "x1", "", "b-1")]
    out += [Case("train", (f("scaling_no_specs"), "--quiet"))]
    out += [Case("train", ("efficientnet-b0", flag, value, "--data", f("good.npz"), *quick)) for flag, value in (
        ("--members", "b0"), ("--trainable-blocks", "-2"),
        ("--trainable-blocks", "999"), ("--trainable-blocks", "1.0"), ("--augmentation", "-0.1"),
        ("--augmentation", "nan"), ("--augmentation", "2"), ("--progressive-stages", "0"), ("--classifier", "arc"),
        ("--out", f("a_file")), ("--out", f("run_config_kind_unknown")), ("--init", f("empty_dir")),
        ("--init", "does/not/exist.pt"), ("--seed", "0.5"))]

    tables = sorted(str(path) for path in root.glob("table_*.csv"))
    out += [Case("fit", ("--results", table, "--base", "efficientnet-b0", "--out", f("fit_out_table"))) for table in tables]
    laws = sorted(str(path) for path in root.glob("law_*.csv"))
    out += [Case("fit", ("--power-law", law, "--x", "macs", "--y", "accuracy", "--out", f("fit_out_law"))) for law in laws]
    out += [Case("fit", ("--power-law", f("law_zero_x.csv"), "--x", "flops", "--y", "accuracy")),
            Case("fit", ("--power-law", f("law_same_x.csv"), "--x", "macs", "--y", "accuracy", "--holdout", "5"))]
    out += [Case("fit", ("--base", spec, "--data", f("good.npz"), *quick)) for spec in spec_bad[:16]]
    out += [Case("fit", ("--base", "efficientnet-b0", "--data", data, *quick)) for data in data_bad[:16]]
    fit_flags = [("--step", "0"), ("--step", "0.7"), ("--step", "2"), ("--seeds", "0"), ("--seeds", "1000"),
                 ("--law-phis", "1,x"), ("--law-phis", "-1e300"), ("--law-phis", "\u0660.\u0665"),
                 ("--law-phis", "1e400"), ("--time-limit", "-5m"), ("--time-limit", "soon"), ("--bootstrap", "1e3"),
                 ("--bootstrap", "10**9"), ("--holdout", "-1"),
                 ("--mode", "diagonal"), ("--depth-rule", "none"), ("--comparison-seeds", "-1"),
                 ("--out", f("a_file")), ("--out", f("run_config_list")), ("--device", "cuda:5"),
                 ("--x", "macs"), ("--lower-is-better", "yes"), ("--workers", "0"), ("--workers", "1e9"),
                 ("--backend", "spark"), ("--ray-address", "127.0.0.1:1")]
    out += [Case("fit", ("--base", "efficientnet-b0", flag, value, "--data", f("good.npz"), *quick))
            for flag, value in fit_flags]

    dashboard_runs = ["does/not/exist", f("a_file"), f("empty_dir")] + sorted(
        str(p) for p in root.glob("run_*") if p.name not in ("run_best_yaml_garbage", "run_results_binary"))  # unread
    out += [Case("dashboard", (run, "--out", f("dashboard_out.html"))) for run in dashboard_runs]
    out += [Case("dashboard", args) for args in (
        (), (f("run_trials_nan"), "--out", str(root)), (f("run_trials_nan"), "--png", f("a_file")),
        (f("empty_dir"), f("empty_dir")), (f("run_config_kind_unknown"), "--title", "x" * 100_000))]
    return out


# --- running and judging ----------------------------------------------------------------------------


def judge(case: Case, code: int | None, err: str) -> Outcome:
    lines = [line for line in err.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if code is None:
        verdict = "still running"
    elif "Traceback" in err:
        verdict = "traceback"
    elif code == 0 and case.cli == "dashboard" and lines and all(line.startswith("warning:") for line in lines):
        verdict = KEPT_AS_NOTE  # the issue allows a damaged file to become a note on the page
    elif code == 0:
        verdict = "accepted"
    elif code == 2 and len(lines) == 1:
        verdict = KEPT
    elif code == 2:
        verdict = "several lines"
    else:
        verdict = f"exit {code}"
    return Outcome(case, verdict, last[:160])


def run_case(case: Case, cwd: Path, timeout: float) -> Outcome:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    try:
        result = subprocess.run([sys.executable, "-m", MODULES[case.cli], *case.args], cwd=cwd, env=environment,
                                capture_output=True, text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return judge(case, None, "")
    return judge(case, result.returncode, result.stderr)


def controls(root: Path) -> list[Case]:
    """Good inputs that must exit 0: a harness that fails everything cannot pass as a kept promise."""
    return [Case("search_space", ("describe", "efficientnet-b0")), Case("search_space", ("sample", "default")),
            Case("evaluate", ("efficientnet-b0", "--data", str(root / "good.npz"), *QUICK_TRAIN)),
            Case("train", ("efficientnet-b0", "--data", str(root / "good.npz"), "--out", str(root / "train_control"),
                           *QUICK_TRAIN))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default: 2)")
    parser.add_argument("--only", default="", help="comma-separated CLIs: " + ", ".join(MODULES))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as work started")
    parser.add_argument("--show-all", action="store_true", help="list every case, not only the broken promises")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as directory:
        root = Path(directory)
        make_files(root)
        selected = [case for case in cases(root) if not args.only or case.cli in args.only.split(",")]
        with ThreadPoolExecutor(args.jobs) as pool:
            checks = list(pool.map(lambda case: run_case(case, root, args.timeout), controls(root)))
            broken = [check for check in checks if check.verdict != "accepted"]
            if broken:
                for check in broken:
                    print(f"control failed: {check.case.cli} {' '.join(check.case.args)} -> {check.verdict}: "
                          f"{check.last_line}")
                return 1
            outcomes = list(pool.map(lambda case: run_case(case, root, args.timeout), selected))
    print(f"{'CLI':<14}{'cases':>6}{'kept':>6}  broken")
    for cli in MODULES:
        mine = [outcome for outcome in outcomes if outcome.case.cli == cli]
        if not mine:
            continue
        kinds: dict[str, int] = {}
        for outcome in mine:
            kinds[outcome.verdict] = kinds.get(outcome.verdict, 0) + 1
        kept = kinds.pop(KEPT, 0) + kinds.pop(KEPT_AS_NOTE, 0)
        print(f"{cli:<14}{len(mine):>6}{kept:>6}  {', '.join(f'{n} {kind}' for kind, n in kinds.items()) or '-'}")
    print()
    for outcome in outcomes:
        if args.show_all or outcome.verdict not in (KEPT, KEPT_AS_NOTE):
            shown = " ".join(arg.replace(str(root) + "/", "") for arg in outcome.case.args)
            print(f"[{outcome.verdict}] {outcome.case.cli} {shown[:100]}\n    {outcome.last_line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
