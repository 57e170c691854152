"""Every validation rule: a bad field raises one SpecError naming its path and rule."""

import copy

import pytest

from search_space import SpecError, load_spec, spec_from_dict, spec_to_dict

BASE = spec_to_dict(load_spec("efficientnet-b0"))


def mutated(path, value):
    data = copy.deepcopy(BASE)
    target = data
    keys = path.replace("]", "").replace("[", ".").split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is DELETE:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()

# (field path, bad value, words the message must contain)
CASES = [
    ("stages[3].kernel", 4, "must be an odd integer between 1 and 31, got 4"),
    ("stages[3].kernel", 0, "odd integer"),
    ("stages[3].kernel", 3.0, "odd integer"),
    ("stages[1].block", "ResBlock", "must be one of MBConv"),
    ("stages[0].repeats", 0, "integer between 1 and"),
    ("stages[0].repeats", True, "integer between 1 and"),
    ("stages[2].stride", 3, "must be one of 1, 2"),
    ("stages[2].expansion", 0, "integer between 1 and"),
    ("stages[2].expansion", 2.5, "integer between 1 and"),
    ("stages[4].out_channels", -8, "integer between 1 and"),
    ("stages[4].attention", "se1.5", "0 < ratio <= 1"),
    ("stages[4].attention", "se0", "0 < ratio <= 1"),
    ("stages[4].attention", "eca4", "odd integer"),
    ("stages[4].attention", "cbam", "must be none, se<ratio>"),
    ("stages[5].activation", "tanh", "must be one of silu"),
    ("stages[5].skip", "yes", "true or false"),
    ("stages[5].layer_scale", 0, "number > 0"),
    ("stages[5].layer_scale", -1e-5, "number > 0"),
    ("stages[5].bogus", 1, "unknown key"),
    ("stages[5].kernel", DELETE, "missing required field"),
    ("stages", [], "non-empty list"),
    ("stages", "r1_k3_s11_e1_i32_o16", "non-empty list"),
    ("stem_channels", 0, "integer between 1 and"),
    ("head_channels", "1280", "integer between 1 and"),
    ("resolution", 0, "height must be an integer between 1 and 16,384"),
    ("resolution", [224, 0], "width must be an integer between 1 and 16,384"),
    ("resolution", [224, 224, 3], "integer or [height, width]"),
    ("resolution", [10**7, 10**7], "height must be an integer between 1 and 16,384"),
    ("stages[4].out_channels", 10**9, "integer between 1 and 65,536, got 1000000000"),
    ("stages[0].repeats", 1000, "integer between 1 and 256"),
    ("stages[3].kernel", 33, "odd integer between 1 and 31"),
    ("stages[2].expansion", 65, "integer between 1 and 64"),
    ("num_classes", 10**6, "integer between 1 and 100,000"),
    ("in_channels", 0, "integer between 1 and"),
    ("num_classes", 0, "integer between 1 and"),
    ("stem_stride", 4, "must be one of 1, 2"),
    ("dropout", 1.0, "0 <= value < 1"),
    ("dropout", -0.1, "0 <= value < 1"),
    ("drop_path_rate", 1.5, "0 <= value < 1"),
    ("classifier", "softmax", "must be one of linear, cosine"),
    ("cosine_scale", 0, "number > 0"),
    ("cosine_margin", 2.0, "[0, pi/2)"),
    ("name", "", "non-empty string"),
    ("colour", "blue", "unknown key"),
    ("head_channels", DELETE, "missing required field"),
]


@pytest.mark.parametrize("path, value, words", CASES,
                         ids=[f"{c[0]}={'<deleted>' if c[1] is DELETE else repr(c[1])}" for c in CASES])
def test_bad_field_names_its_path_and_rule(path, value, words):
    with pytest.raises(SpecError) as caught:
        spec_from_dict(mutated(path, value))
    message = str(caught.value)
    expected_path = path if path != "stages" or value == [] else "stages"
    assert message.startswith(expected_path + ":"), message
    assert words in message


def test_message_reads_like_the_issue_example():
    with pytest.raises(SpecError, match=r"^stages\[3\]\.kernel: must be an odd integer between 1 and 31, got 4$"):
        spec_from_dict(mutated("stages[3].kernel", 4))


def test_block_string_stage_must_chain_its_input_width():
    data = mutated("stages[1]", "r2_k3_s22_e6_i99_o24_se0.25")
    with pytest.raises(SpecError, match=r"^stages\[1\]: .*i99 but the stage input is 16"):
        spec_from_dict(data)


def test_cosine_classifier_needs_a_feature_vector_with_a_direction():
    data = mutated("classifier", "cosine")
    data["head_channels"] = 1
    with pytest.raises(SpecError, match=r"^head_channels: must be >= 2 for a cosine classifier, got 1$"):
        spec_from_dict(data)


def test_not_a_mapping():
    with pytest.raises(SpecError, match="must be a mapping"):
        spec_from_dict([1, 2, 3])


def test_valid_dict_passes():
    assert spec_from_dict(copy.deepcopy(BASE)) == load_spec("efficientnet-b0")


def test_a_spec_with_more_stages_than_any_network_is_refused():
    import dataclasses

    from search_space import load_spec
    from search_space.spec import MAX_STAGES

    b0 = load_spec("efficientnet-b0")
    many = (b0.stages * (MAX_STAGES // len(b0.stages) + 1))
    assert len(dataclasses.replace(b0, stages=many[:MAX_STAGES]).stages) == MAX_STAGES
    with pytest.raises(SpecError, match=f"between 1 and {MAX_STAGES} stages, got {MAX_STAGES + 1}"):
        dataclasses.replace(b0, stages=many[: MAX_STAGES + 1])
