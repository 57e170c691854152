"""Bad input of every kind ends in one line and exit code 2: the findings of issue 12 and
fuzz tests of the readers (only the project's own error type may escape them)."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analysis.dashboard import main as dashboard
from infra.documents import DocumentError, parse_json, parse_yaml
from runners.data.sources import DataError, read_idx, read_npz
from runners.search.command import main as search
from scaling.fit import main as fit
from search_space import SpecError, load_space, read_spec_file
from search_space.__main__ import main as describe
from search_space.block_string import decode_stage
from tests.commands import assert_one_line_error, call
from tests.datasets import TINY_SPACE, write_image_folder, write_npz


@pytest.fixture
def files(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    good = write_npz(tmp_path / "good.npz", n=40, shape=(16, 16))
    (tmp_path / "truncated.npz").write_bytes(good.read_bytes()[:200])
    np.savez(tmp_path / "flat.npz", x=np.zeros((10, 0, 8), np.float32), y=np.arange(10) % 2)
    idx = tmp_path / "idx"
    idx.mkdir()
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (idx / name).write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage body")
    (tmp_path / "huge.yaml").write_text(TINY_SPACE.replace("repeats: 1,", "repeats: {low: 1, high: 1000000000},"))
    (tmp_path / "a-file").write_text("x")
    np.save(tmp_path / "array.npy", np.zeros((4, 8, 8), np.float32))
    (tmp_path / "array.npy").rename(tmp_path / "renamed.npz")
    (tmp_path / "endless.yaml").symlink_to("/dev/zero")
    np.savez(tmp_path / "long.npz", x=np.zeros((2, 1, 20_000), np.float32), y=np.array([0, 1]))
    write_image_folder(tmp_path / "fake-png", per_class=2)
    (tmp_path / "fake-png" / "dog" / "1.png").write_text("not an image")
    return tmp_path


CASES = [
    (describe, ["describe", "{latin1.yaml}"], "not UTF-8 text"),
    (describe, ["describe", "{deep.yaml}"], "nested too deeply"),
    (describe, ["sample", "{huge.yaml}"], "high must be at most 256"),
    (search, ["--space", "{latin1.yaml}"], "not UTF-8 text"),
    (search, ["--data", "{truncated.npz}"], "cannot read as .npz"),
    (search, ["--data", "{flat.npz}"], "empty axis"),
    (search, ["--data", "{idx}"], "corrupt compressed data"),
    (search, ["--budget-flops", "1e400"], "finite"),
    (search, ["--data", "{good.npz}", "--out", "{a-file}"], "not a directory"),
    (fit, ["--step", "1e-9"], "--step must be between"),
    (fit, ["--device", "tpu0", "--data", "{good.npz}"], "--device tpu0"),
    (dashboard, ["{a-file}"], "not a directory"),
    # found by the closing sweep (benchmarks/bad_inputs.py)
    (describe, ["describe", "{endless.yaml}"], "not a regular file"),
    (search, ["--data", "{renamed.npz}"], "holds a single array, not an .npz archive"),
    (search, ["--data", "{long.npz}"], "above 16,384 pixels a side"),
    (search, ["--data", "{good.npz}", "--proxy-resolution", "100000"], "--proxy-resolution"),
    (search, ["--data", "{good.npz}", "--proxy-resolution", "1x1"], "--proxy-resolution"),
    (search, ["--data", "{good.npz}", "--learning-rate", "1e10"], "--learning-rate"),
    (search, ["--data", "{good.npz}", "--epochs", "10000000"], "--epochs"),
    (search, ["--data", "{good.npz}", "--seeds", "100000"], "--seeds"),
    (search, ["--data", "{good.npz}", "--workers", "1000000"], "--workers"),
    (search, ["--data", "{good.npz}", "--reward-exponent", "5"], "--reward-exponent"),
    (search, ["--data", "{good.npz}", "--device", "meta"], "--device meta: training needs"),
    (search, ["--data", "{good.npz}", "--budget-flops", "1e30"], "above the largest network the space reaches"),
    (search, ["--data", "{good.npz}", "--ray-address", "127.0.0.1:1"], "needs --backend ray"),
    (search, ["--data", "{good.npz}", "--out", "{a-file}/run"], "cannot be created, "),
    (search, ["--data", "{good.npz}", "--storage", "sqlite:///{idx}"], "is a directory, not a file"),
    (search, ["--data", "{good.npz}", "--storage", "sqlite:///{a-file}"], "is not a SQLite database"),
    (search, ["--data", "{good.npz}", "--storage", "sqlite:////no/such/folder/study.db"], "does not exist"),
    (search, ["--data", "{good.npz}", "--storage", "postgresql://nobody@127.0.0.1:1/x"], "cannot connect to the database"),
    (search, ["--data", "{good.npz}", "--study-name", ""], "--study-name: expected a study name"),
    (describe, ["export", "efficientnet-b0", "--out", "/proc/model.onnx"], "cannot write in /proc"),
    (search, ["--data", "{fake-png}", "--quiet"], "cannot read image"),  # no cache bar before the line
    (search, ["--data", "{good.npz}", "--study-name", "x" * 201], "--study-name: expected a study name"),
    (fit, ["--x", "params"], "--x is read only with --power-law"),
    (fit, ["--law-phis=-1e300"], "law phis must be numbers in [-8, 1)"),
    (fit, ["--law-phis", "\u0660.\u0665"], "expected comma-separated numbers"),
]


@pytest.mark.parametrize("main, args, words", CASES, ids=[" ".join(args) for _, args, _ in CASES])
def test_each_finding_is_one_line_and_exit_2(main, args, words, files, capsys):
    filled = [re.sub(r"\{([^}]+)\}", lambda name: str(files / name[1]), arg) for arg in args]  # "{name}": a file made above
    assert_one_line_error(call(main, filled, capsys), words)


def test_a_bogus_storage_url_is_refused_before_the_run_directory_exists(files, capsys):
    out = files / "run"
    outcome = call(search, ["--data", files / "good.npz", "--storage", "bogus://x", "--out", out], capsys)
    assert_one_line_error(outcome, "--storage bogus://x")
    assert not out.exists()


# --- fuzzing the readers ------------------------------------------------------------------------------


PRINTABLE_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
GOOD_NAMES = st.text(PRINTABLE_ASCII, min_size=1, max_size=200).filter(lambda name: name.strip() == name)
# One defect each, spliced into a good name at a random place.
DEFECTS = st.one_of(st.characters(max_codepoint=0x1F), st.characters(min_codepoint=0x7F, max_codepoint=0x9F),
                    st.characters(min_codepoint=0xA0).filter(lambda c: not c.isascii()))


@settings(max_examples=100, deadline=None)
@given(GOOD_NAMES)
@example("x" * 200)  # the longest accepted (Optuna's RDB column holds 512)
@example("~ a/b:c")
def test_a_printable_ascii_study_name_is_accepted_and_names_one_study_in_optuna_storage(name):
    """Accepted names are the ones a user types; each round-trips through a real Optuna storage."""
    import optuna

    from runners.search.storage import parse_study_name

    assert parse_study_name(name) == name
    storage = optuna.storages.RDBStorage("sqlite://")  # in memory: a real schema, its column for names
    optuna.create_study(storage=storage, study_name=name)
    assert [summary.study_name for summary in optuna.get_all_study_summaries(storage)] == [name]


@settings(max_examples=200, deadline=None)
@given(GOOD_NAMES, st.integers(0, 200), DEFECTS, st.sampled_from(["inside", "space", "long", "empty"]))
def test_a_study_name_with_any_defect_is_refused_in_one_line(name, where, defect, kind):
    """A control or non-ASCII character anywhere, a leading or trailing space, more than the
    limit, or nothing: a ValueError (one line once the CLI reports it)."""
    from runners.search.storage import STUDY_NAME_LIMIT, parse_study_name

    where %= len(name) + 1
    text = {"inside": name[:where] + defect + name[where:], "space": " " + name if where % 2 else name + " ",
            "long": (name * (STUDY_NAME_LIMIT + 1))[: STUDY_NAME_LIMIT + 1], "empty": ""}[kind]
    with pytest.raises(ValueError, match="study name") as refused:
        parse_study_name(text)
    assert "\n" not in str(refused.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_block_string_decoder_raises_only_spec_errors(text):
    try:
        stage, in_channels = decode_stage(text)
    except SpecError:
        return
    assert isinstance(in_channels, int) and isinstance(stage.kernel, int) and isinstance(stage.repeats, int)
    assert text.isascii()  # digits of other scripts or superscripts never decode


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                           | st.text(max_size=8),
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=8)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_document_parsers_raise_only_document_errors_and_what_they_accept_round_trips(text):
    """Any text: a DocumentError naming the source, or a value that the format writes back
    and reads again unchanged (nothing half-parsed comes out)."""
    for parse, dump in ((parse_yaml, yaml.safe_dump), (parse_json, json.dumps)):
        try:
            value = parse(text, "fuzz")
        except DocumentError as error:
            assert "fuzz" in str(error) and "\n" not in str(error)
            continue
        assert dump(parse(dump(value), "again")) == dump(value)  # compared as written: NaN equals itself there


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_document_parsers_read_every_valid_document_exactly(value):
    assert parse_json(json.dumps(value), "json") == value
    assert parse_yaml(yaml.safe_dump(value), "yaml") == value


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["spec.yaml", "spec.json", "space.yaml"]))
def test_spec_and_space_files_of_random_bytes_raise_only_spec_errors(tmp_path_factory, content, name):
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(content)
    with pytest.raises(SpecError):
        load_space(path) if name.startswith("space") else read_spec_file(path)


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.zeros((6, 8, 8), np.float32), y=np.arange(6) % 2)
    return buffer.getvalue()


NPZ = _npz_bytes()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, len(NPZ)), st.integers(0, len(NPZ) - 1), st.integers(0, 255))
@example(len(NPZ), 0, NPZ[0])  # the archive unchanged: it must read as written
@example(393, 326, 64)  # a central directory claiming zip version 6.4 (NotImplementedError)
def test_damaged_npz_files_raise_only_data_errors(tmp_path_factory, cut, where, byte):
    damaged = bytearray(NPZ[:cut] if cut < len(NPZ) else NPZ)
    if where < len(damaged):
        damaged[where] = byte
    path = tmp_path_factory.mktemp("fuzz") / "damaged.npz"
    path.write_bytes(bytes(damaged))
    try:
        train, test = read_npz(path)
    except DataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    # Whatever still reads is the archive's data: the zip's checksums catch a changed byte.
    assert test is None and np.array_equal(train.images.reshape(6, 8, 8), np.zeros((6, 8, 8), np.float32))
    assert np.array_equal(train.labels, np.arange(6) % 2)


GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.sampled_from(["plain", "gzip, one byte changed", "gzip, garbage body"]),
       st.integers(0, 10_000), st.integers(0, 255), st.integers(0, 10_000))
@example(bytes(range(18)), "plain", 20, 7, 34)  # a whole 2x3x3 file, one pixel changed: it must read as written
def test_damaged_idx_files_raise_only_data_errors(tmp_path_factory, body, kind, where, byte, cut):
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / ("images.idx" if kind == "plain" else "images.idx.gz")
    header = b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + (3).to_bytes(4, "big")
    if kind == "gzip, garbage body":  # a valid gzip header before a body that is no deflate stream
        content = bytearray(GZIP_HEADER + body)
    else:
        content = bytearray(gzip.compress(header + body) if kind.startswith("gzip") else header + body)
        content[where % len(content)] = byte
        content = content[: max(1, cut % (len(content) + 1))]
    path.write_bytes(bytes(content))
    try:
        array = read_idx(path)
    except DataError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    # What reads is exactly the file: the dimensions its header gives, the bytes after it.
    raw = gzip.decompress(bytes(content)) if path.suffix == ".gz" else bytes(content)
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    assert array.dtype == np.uint8 and array.shape == shape
    assert array.tobytes() == raw[4 + 4 * ndim: 4 + 4 * ndim + array.size]


def test_zip_errors_are_the_kind_the_npz_reader_knows():
    # The fuzz above relies on truncated archives raising BadZipFile; keep that assumption visible.
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(NPZ[:100]))


@pytest.mark.parametrize("log, line, words", [
    ("trials.jsonl", '{"number": "x", "state": "COMPLETE"}', "record 1: field number is 'x'"),
    ("trials.jsonl", '{"number": 0, "state": "BOGUS"}', "field state is 'BOGUS'"),
    ("trials.jsonl", '[1, 2]', "expected a JSON object"),
    ("trials.jsonl", '{"number": 0, "state": "COMPLETE", "macs": true}', "field macs is True"),
    ("evaluations.jsonl", '{"role": 5}', "field role is 5"),
])
def test_a_damaged_log_line_is_one_line_naming_the_record_and_field(tmp_path, log, line, words, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / log).write_text(line + "\n")
    if log == "trials.jsonl":
        (run / "config.json").write_text('{"kind": "search"}')
    assert_one_line_error(call(dashboard, [run], capsys), f"{run / log}: record 1", words)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["number", "state", "macs", "proxy_accuracy", "reward", "spec_dict",
                                        "seed_accuracies", "epochs", "failure_reason"]),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                                 st.lists(st.floats(), max_size=3), st.sampled_from(["COMPLETE", "PRUNED"]))))
def test_trial_records_of_any_shape_raise_only_row_errors(row):
    from infra.rows import RowError
    from runners.search.records import TrialRecord

    try:
        record = TrialRecord.from_json(row)
    except RowError:
        return
    assert isinstance(record.number, int) and not isinstance(record.number, bool)


def _numeric_flags():
    """(command, flag) for every flag of every CLI whose value is a number."""
    from runners.evaluate.command import build_parser as evaluate_parser
    from runners.search.command import build_parser as search_parser
    from scaling.fit import build_parser as fit_parser

    for name, parser in (("search", search_parser()), ("evaluate", evaluate_parser()), ("fit", fit_parser())):
        for action in parser._actions:
            if action.option_strings and (getattr(action.type, "numeric", False) or getattr(
                    action.type, "__name__", "") in ("parse_macs", "parse_seconds")):
                yield name, action.option_strings[0]


MAINS = {"search": search, "fit": fit}


NONSENSE = ["nan", "inf", "-inf", "1e400", "-1", "2.5.1", "0x10", "١٢"]
FLAG_CASES = [(command, flag, value) for command, flag in _numeric_flags() for value in NONSENSE
              if not (value == "-1" and flag in ("--seed", "--reward-exponent"))]  # negative seeds and exponents are fine


@pytest.mark.parametrize("command, flag, value", FLAG_CASES)
def test_numeric_flags_refuse_nonsense_in_one_line(command, flag, value, capsys):
    from runners.evaluate.command import main as evaluate

    main = {**MAINS, "evaluate": evaluate}[command]
    args = ["efficientnet-b0"] if command == "evaluate" else []
    outcome = call(main, [*args, f"{flag}={value}", "--data", "/nonexistent"], capsys)
    assert_one_line_error(outcome, flag)


# Flags where any large value is meaningful (more trials, a longer timeout, all the data);
# every other numeric flag has an upper bound, and 10^13 is past all of them.
UNBOUNDED = {"--trials", "--seed", "--batch-size", "--max-train-samples", "--max-val-samples", "--startup-trials",
             "--timeout", "--time-limit", "--holdout", "--rung-samples", "--rung-seconds", "--storage-patience",
             "--budget-flops"}  # bounded by the space's reach, which needs the data: see "above the largest network"


@pytest.mark.parametrize("command, flag", [(command, flag) for command, flag in _numeric_flags()
                                           if flag not in UNBOUNDED])
def test_bounded_flags_refuse_a_huge_value_in_one_line(command, flag, capsys):
    from runners.evaluate.command import main as evaluate

    main = {**MAINS, "evaluate": evaluate}[command]
    args = ["efficientnet-b0"] if command == "evaluate" else []
    outcome = call(main, [*args, f"{flag}=10000000000000", "--data", "/nonexistent"], capsys)
    assert_one_line_error(outcome, flag)


def test_a_table_of_one_grid_point_in_many_rows_fits_nothing(tmp_path, capsys):
    rows = ["depth_mult,width_mult,resolution_mult,macs,metric,seed"]
    rows += [f"1.2,1.1,1.15,800000000,{0.6 + 0.01 * seed},{seed}" for seed in range(12)]
    (tmp_path / "grid.csv").write_text("\n".join(rows) + "\n")
    outcome = call(fit, ["--results", tmp_path / "grid.csv", "--base", "efficientnet-b0", "--out", tmp_path / "fit"],
                   capsys)
    assert_one_line_error(outcome, "1 distinct grid point(s) in 12 rows")


def test_labels_that_imply_a_million_classes_are_named_as_such(tmp_path, capsys):
    np.savez(tmp_path / "labels.npz", x=np.zeros((4, 8, 8), np.float32), y=np.array([0, 1, 2, 10**6]))
    outcome = call(search, ["--data", tmp_path / "labels.npz"], capsys)
    assert_one_line_error(outcome, "1,000,001 classes", "is y the label column?")


json_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 3000), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=8), st.lists(st.integers(0, 300), max_size=3),
                        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
NETWORK_FIELDS = ["stem_channels", "head_channels", "resolution", "in_channels", "num_classes", "stem_stride", "dropout",
                  "drop_path_rate", "classifier", "cosine_scale", "cosine_margin", "name"]
STAGE_FIELDS = ["block", "repeats", "kernel", "stride", "expansion", "out_channels", "attention", "activation", "skip",
                "layer_scale"]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_a_mutated_spec_is_refused_or_builds_runs_and_costs_in_integers(data):
    import dataclasses

    import torch

    from search_space import build_model, count_cost, spec_from_dict, spec_to_dict
    from tests.strategies import networks

    spec = data.draw(networks())
    raw = spec_to_dict(dataclasses.replace(spec, resolution=(32, 40)))
    if data.draw(st.booleans()):
        raw[data.draw(st.sampled_from(NETWORK_FIELDS))] = data.draw(json_values)
    else:
        stage = data.draw(st.integers(0, len(raw["stages"]) - 1))
        raw["stages"][stage][data.draw(st.sampled_from(STAGE_FIELDS))] = data.draw(json_values)
    try:
        mutated = spec_from_dict(raw)
    except SpecError:
        return
    cost = count_cost(mutated)
    assert type(cost.macs) is int and type(cost.params) is int
    if max(mutated.resolution) <= 64 and mutated.num_classes <= 1000:
        model = build_model(mutated).eval()
        with torch.no_grad():
            output = model(torch.randn(1, mutated.in_channels, *mutated.resolution))
        assert output.shape == (1, mutated.num_classes)


def test_a_float_stride_can_neither_exist_nor_leak_into_the_cost_cache():
    import dataclasses

    from search_space import count_cost, load_spec

    b0 = load_spec("efficientnet-b0")
    with pytest.raises(SpecError, match="stride"):
        dataclasses.replace(b0, stages=(dataclasses.replace(b0.stages[0], stride=2.0), *b0.stages[1:]))
    cost = count_cost(b0)
    assert type(cost.macs) is int and cost.macs_by_op["conv"] == 384_534_752  # the paper's 0.39B


def _png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png_bytes()


@settings(max_examples=80, deadline=None)
@given(st.integers(0, len(PNG)), st.integers(0, len(PNG) - 1), st.integers(0, 255))
@example(len(PNG), 0, PNG[0])  # the image unchanged: the folder must load
def test_damaged_images_in_a_class_folder_raise_only_data_errors(tmp_path_factory, cut, where, byte):
    from runners.data.sources import DataOptions, prepare

    folder = tmp_path_factory.mktemp("images")
    damaged = bytearray(PNG)
    damaged[where] = byte
    for name in ("cat", "dog"):
        (folder / name).mkdir()
        (folder / name / "good.png").write_bytes(PNG)
    (folder / "dog" / "damaged.png").write_bytes(bytes(damaged[:cut]))
    try:
        data = prepare(DataOptions(source=str(folder), val_fraction=0.5))
    except DataError as error:
        assert "\n" not in str(error)
        return
    # Every image decoded (a damaged one that still decodes is an image): finite, normalised
    # tensors of one shape, a label for each, two classes.
    assert len(data.train_x) + len(data.val_x) == 3 and data.num_classes == 2
    for images, labels in ((data.train_x, data.train_y), (data.val_x, data.val_y)):
        assert images.dtype == torch.float32 and torch.isfinite(images).all() and len(images) == len(labels)
        assert tuple(images.shape[1:]) == (data.in_channels, *data.resolution)


NUMBERS = st.one_of(st.floats(-1e6, 1e6, width=32), st.integers(-10**6, 10**6))
SPECIAL_CELLS = st.sampled_from([float("nan"), float("inf"), float("-inf"), None, "", "x", "1e", "1,5", "--1"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(NUMBERS, min_size=6, max_size=6), min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(0, 99), st.integers(0, 5), SPECIAL_CELLS), max_size=2), st.binary(max_size=40))
def test_results_tables_are_read_whole_and_numeric_or_refused_in_one_line(tmp_path_factory, rows, damage, tail):
    """A table with the grid's columns, numeric cells, some replaced by NaN, infinities,
    text or blanks, then random trailing bytes: either one TableError naming the file, or
    every required column comes back as finite floats equal to the numbers written."""
    from scaling.tables import GRID_COLUMNS, TableError, read_table

    rows = [list(row) for row in rows]
    for row, column, cell in damage:
        rows[row % len(rows)][column] = cell
    path = tmp_path_factory.mktemp("tables") / "grid.csv"
    pd.DataFrame(rows, columns=list(GRID_COLUMNS), dtype=object).to_csv(path, index=False)
    for content in (path.read_bytes(), path.read_bytes() + tail):
        path.write_bytes(content)
        try:
            frame = read_table(path, GRID_COLUMNS)
        except TableError as error:
            assert str(path) in str(error) and "\n" not in str(error)
            continue
        assert len(frame) >= max(len(rows), 1)
        for column in GRID_COLUMNS:
            assert frame[column].dtype == float and np.isfinite(frame[column]).all()
            written = pd.to_numeric(pd.Series([row[GRID_COLUMNS.index(column)] for row in rows], dtype=object),
                                    errors="coerce")
            assert np.allclose(frame[column][: len(rows)], written.astype(float), rtol=1e-6)


@pytest.mark.parametrize("args", [["describe", "efficientnet-b0", "--resolution"], ["describe", "efficientnet-b0",
                                  "--in-channels"], ["describe", "efficientnet-b0", "--num-classes"],
                                  ["sample", "default", "--seed"]])
@pytest.mark.parametrize("value", [v for v in NONSENSE if v != "-1"] + ["0", "12x", "x12", "3x0"])
def test_search_space_command_flags_refuse_nonsense_in_one_line(args, value, capsys):
    if args[-1] == "--seed" and value == "0":
        value = "0.5"  # 0 is a fine seed
    *command, flag = args
    assert_one_line_error(call(describe, [*command, f"{flag}={value}"], capsys), flag)


@pytest.mark.parametrize("flag, target, words", [
    ("--out", "", "is a directory"),
    ("--out", "missing/page.html", "does not exist"),
    ("--out", "a-file/page.html", "does not exist"),
    ("--png", "a-file", "exists and is not a directory"),
])
def test_dashboard_output_flags_are_checked_before_any_work(files, flag, target, words, capsys):
    from tests.runs import make_search_run

    run = make_search_run(files / "run", trials=3, seed=0)
    value = files / target if target else run
    outcome = call(dashboard, [run, f"{flag}={value}"], capsys)
    assert_one_line_error(outcome, flag, words)
    assert not (run / "dashboard.html").exists()


def test_a_dashboard_title_is_text_not_markup(files, capsys):
    from tests.runs import make_search_run

    run = make_search_run(files / "run", trials=3, seed=0)
    assert call(dashboard, [run, "--title", "<script>alert(1)</script>"], capsys).code == 0
    page = (run / "dashboard.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@settings(max_examples=200, deadline=None)
@given(st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-2000, 2000))
def test_integer_flags_accept_exactly_their_bounds(low, span, value):
    import argparse

    from infra.cli import integer_between

    high = low + abs(span)
    parse = integer_between(low, high)
    if low <= value <= high:
        assert parse(str(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=f"between {low} and"):
            parse(str(value))
    with pytest.raises(argparse.ArgumentTypeError):
        parse(f"{value}.0")  # 2.0 is not an integer flag's value


@settings(max_examples=200, deadline=None)
@given(st.floats(-10, 10), st.floats(0, 10), st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                         st.integers(-20, 20).map(float)))
def test_float_flags_accept_exactly_their_finite_interval(low, span, value):
    import argparse
    import math

    from infra.cli import float_between

    high = low + span
    parse = float_between(low, high)
    if math.isfinite(value) and low < value <= high:
        assert parse(repr(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(repr(value))


def test_data_that_cannot_fit_in_memory_is_refused_before_it_is_resized(tmp_path, monkeypatch, capsys):
    from runners.data import sources as data

    monkeypatch.setattr(data, "available_memory", lambda: 2**30)  # a 1 GiB machine
    write_npz(tmp_path / "d.npz", n=40, shape=(16, 16))
    outcome = call(search, ["--data", tmp_path / "d.npz", "--proxy-resolution", "4096"], capsys)
    assert_one_line_error(outcome, "at 4096x4096 need", "GiB as float32", "lower --proxy-resolution")
    assert call(search, ["--data", tmp_path / "d.npz", "--proxy-resolution", "64", "--trials", "1", "--epochs", "1",
                         "--max-train-samples", "16", "--quiet", "--out", tmp_path / "run"], capsys).code == 0
