"""Round trips through YAML, JSON and block strings; strictness of the readers."""

import pytest
from hypothesis import given

from search_space import (
    PRESETS,
    SpecError,
    decode_stage,
    encode_stage,
    from_json,
    from_yaml,
    load_spec,
    network_from_block_strings,
    network_to_block_strings,
    read_spec_file,
    to_json,
    to_yaml,
    write_spec_file,
)
from search_space.presets import EFFICIENTNET_B0_BLOCKS, EFFICIENTNETV2_BLOCKS
from tests.strategies import networks


@given(networks())
def test_yaml_round_trip(spec):
    assert from_yaml(to_yaml(spec)) == spec


@given(networks())
def test_json_round_trip(spec):
    assert from_json(to_json(spec)) == spec


@given(networks())
def test_block_string_round_trip(spec):
    strings = network_to_block_strings(spec)
    fields = {name: getattr(spec, name) for name in (
        "resolution", "name", "in_channels", "num_classes", "stem_stride", "dropout", "drop_path_rate",
        "classifier", "cosine_scale", "cosine_margin")}
    assert network_from_block_strings(strings, head_channels=spec.head_channels, **fields) == spec


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_round_trip_through_files(name, tmp_path):
    spec = load_spec(name)
    for suffix in (".yaml", ".json"):
        path = write_spec_file(spec, tmp_path / f"spec{suffix}")
        assert read_spec_file(path) == spec
        assert load_spec(path) == spec


@pytest.mark.parametrize("text", EFFICIENTNET_B0_BLOCKS)
def test_official_v1_strings_encode_back_verbatim(text):
    stage, in_channels = decode_stage(text)
    assert encode_stage(stage, in_channels) == text


@pytest.mark.parametrize("text", [s for blocks in EFFICIENTNETV2_BLOCKS.values() for s in blocks])
def test_official_v2_strings_decode_as_documented(text):
    stage, in_channels = decode_stage(text)
    assert stage.fused == text.endswith("_c1")
    assert stage.attention is None if stage.fused else str(stage.attention) == "se0.25"
    # Same stage whichever stride notation (V2 "s2" vs V1 "s22") is written.
    assert decode_stage(encode_stage(stage, in_channels)) == (stage, in_channels)


def test_decoded_fields():
    stage, in_channels = decode_stage("r4_k5_s22_e6_i112_o192_se0.25")
    assert (stage.repeats, stage.kernel, stage.stride, stage.expansion, in_channels, stage.out_channels) == (
        4, 5, 2, 6, 112, 192)
    assert stage.attention.ratio == 0.25 and stage.block == "MBConv" and stage.skip


def test_extensions_decode():
    stage, _ = decode_stage("r2_k3_s1_e4_i24_o24_eca5_c1_g1_noskip_ls1e-05_actrelu")
    assert stage.block == "GhostFusedMBConv"
    assert stage.attention.kernel_size == 5
    assert not stage.skip and stage.layer_scale == 1e-5 and stage.activation == "relu"
    assert decode_stage("r1_k3_s1_e1_i8_o8_f")[0].fused


@pytest.mark.parametrize("text, words", [
    ("r1_k3_s11_e1_i32_o16_z9", "unknown option 'z9'"),
    ("r1_k3_s11_e1_i32", "missing option(s) o"),
    ("r1_r2_k3_s11_e1_i32_o16", "option 'r' given twice"),
    ("r1_k4_s11_e1_i32_o16", "kernel: must be an odd integer"),
    ("r1_k3_s12_e1_i32_o16", "strides must be equal"),
    ("r1_k3_s3_e1_i32_o16", "stride: must be one of 1, 2"),
    ("rx_k3_s11_e1_i32_o16", "'r' needs an integer"),
    ("r1_k3_s11_e1_i32_o16_se0.25_eca", "choose one of se and eca"),
    ("r1_k3_s11_e1_i32_o16_c2", "'c' must be c0"),
    ("r1_k3_s11_e1_i32_o16_seX", "needs a decimal number"),
    ("r1_k3_s11_e1_i32_o16_acttanh", "activation: must be one of"),
])
def test_bad_block_strings(text, words):
    with pytest.raises(SpecError) as caught:
        decode_stage(text)
    assert words in str(caught.value)


def test_chain_mismatch_in_list_names_stage():
    with pytest.raises(SpecError, match=r"^stages\[1\]: .*has i99 but stages\[0\] output is 16"):
        network_from_block_strings(["r1_k3_s11_e1_i32_o16", "r1_k3_s22_e6_i99_o24"], head_channels=64)


def test_yaml_accepts_pasted_block_strings():
    text = """
name: pasted
stem_channels: 32
head_channels: 1280
resolution: [128, 431]
in_channels: 1
stages:
  - r1_k3_s11_e1_i32_o16_se0.25
  - {block: FusedMBConv, repeats: 2, kernel: 3, stride: 2, expansion: 4, out_channels: 24}
"""
    spec = from_yaml(text)
    assert spec.resolution == (128, 431)
    assert spec.stages[0].attention.ratio == 0.25
    assert spec.stages[1].fused and spec.stages[1].attention is None


@pytest.mark.parametrize("text, words", [
    ("stem_channels: [", "not valid YAML"),
    ("- 1\n- 2", "must be a mapping"),
])
def test_bad_yaml(text, words):
    with pytest.raises(SpecError, match=words):
        from_yaml(text)


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(SpecError, match="spec.txt: a spec file must end in"):
        read_spec_file(tmp_path / "spec.txt")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stem_channels: 32\nstages: []\nhead_channels: 8\n")
    with pytest.raises(SpecError, match=r"bad.yaml: stages: must be a non-empty list"):
        load_spec(bad)
    with pytest.raises(SpecError, match="not a preset"):
        load_spec(tmp_path / "missing.yaml")
