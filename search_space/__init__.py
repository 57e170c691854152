"""Typed specs of EfficientNet-family networks, their builder, cost model and search spaces.

>>> from search_space import load_spec, build_model, count_cost
>>> spec = load_spec("efficientnet-b0")
>>> count_cost(spec).params
5288548
>>> sum(p.numel() for p in build_model(spec).parameters())
5288548
"""

from search_space.spec import (
    ACTIVATIONS,
    BLOCK_TYPES,
    CLASSIFIERS,
    EfficientChannelAttention,
    NetworkSpec,
    SpecError,
    SqueezeExcitation,
    StageSpec,
    format_attention,
    parse_attention,
)
from search_space.block_string import (
    decode_stage,
    encode_stage,
    network_from_block_strings,
    network_to_block_strings,
    stages_summary,
)
from search_space.serialization import (
    from_json,
    from_yaml,
    read_spec_file,
    spec_from_dict,
    spec_to_dict,
    to_json,
    to_yaml,
    write_spec_file,
)
from search_space.counting import Cost
from search_space.model import EfficientNet, build_model
from search_space.cost_model import CostReport, PartCost, count_cost
from search_space.transforms import to_ghost
from search_space.rules import (CHANNEL_DIVISOR, Multipliers, resolution_multiplier, round_filters, round_repeats, scale,
                            scale_resolution)
from search_space.mac_target import MacWindow, Reached, SearchLine, reach_macs
from search_space.presets import PRESETS, ghost_efficientnetv2, load_spec
from search_space.finetuning import (adapt_input_channels, load_adapted_state_dict, load_pretrained,
                                     set_trainable_layers)
from search_space.fusion import fuse_model
from search_space.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from search_space.export import export_model, load_network
from search_space.quantization import quantize_int8
from search_space.space import SearchSpace, StageChoices, load_space
from search_space.common import UserError, format_macs, parse_macs, parse_resolution

__all__ = [
    "UserError", "format_macs", "parse_macs", "parse_resolution",
    "ACTIVATIONS", "BLOCK_TYPES", "CHANNEL_DIVISOR", "CLASSIFIERS", "PRESETS",
    "MacWindow", "Multipliers", "Reached", "SearchLine", "reach_macs", "round_filters", "round_repeats", "scale",
    "resolution_multiplier", "scale_resolution",
    "Cost", "CostReport", "EfficientChannelAttention", "EfficientNet", "NetworkSpec", "PartCost",
    "SearchSpace", "SpecError", "SqueezeExcitation", "StageChoices", "StageSpec",
    "adapt_input_channels", "build_model", "count_cost", "decode_stage", "encode_stage",
    "CheckpointError", "export_model", "load_checkpoint", "load_network", "quantize_int8", "save_checkpoint",
    "format_attention", "from_json", "from_yaml", "fuse_model", "ghost_efficientnetv2",
    "load_adapted_state_dict", "load_pretrained", "load_space", "load_spec", "network_from_block_strings",
    "network_to_block_strings", "parse_attention", "read_spec_file", "set_trainable_layers",
    "spec_from_dict", "spec_to_dict", "stages_summary", "to_ghost", "to_json", "to_yaml",
    "write_spec_file",
]
