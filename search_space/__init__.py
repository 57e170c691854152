"""Typed specs of EfficientNet-family networks, their builder, cost model and search spaces.

>>> from search_space import load_spec, build_model, count_cost
>>> spec = load_spec("efficientnet-b0")
>>> count_cost(spec).params
5288548
>>> sum(p.numel() for p in build_model(spec).parameters())
5288548
"""

from infra.huge_pages import request_huge_pages
from infra.lazy import lazy_exports

# Before any tensor exists: PyTorch reads the setting at its first CPU allocation.
request_huge_pages()

# Imported on first use: reading specs and tables loads no torch.
_EXPORTS = {
    **dict.fromkeys(["ACTIVATIONS", "BLOCK_TYPES", "CLASSIFIERS", "EfficientChannelAttention", "NetworkSpec", "SpecError",
                     "SqueezeExcitation", "StageSpec", "format_attention", "parse_attention"],
                    "search_space.spec"),
    **dict.fromkeys(["decode_stage", "encode_stage", "network_from_block_strings", "network_to_block_strings",
                     "stages_summary"],
                    "search_space.block_string"),
    **dict.fromkeys(["from_json", "from_yaml", "read_spec_file", "spec_from_dict", "spec_to_dict", "to_json", "to_yaml",
                     "write_spec_file"],
                    "search_space.serialization"),
    "Cost": "search_space.counting",
    **dict.fromkeys(["EfficientNet", "build_model"], "search_space.model"),
    **dict.fromkeys(["CostReport", "PartCost", "count_cost"], "search_space.cost_model"),
    "to_ghost": "search_space.transforms",
    **dict.fromkeys(["CHANNEL_DIVISOR", "Multipliers", "resolution_multiplier", "round_filters", "round_repeats", "scale",
                     "scale_resolution"],
                    "search_space.rules"),
    **dict.fromkeys(["MacWindow", "Reached", "SearchLine", "reach_macs"], "search_space.mac_target"),
    **dict.fromkeys(["PRESETS", "ghost_efficientnetv2", "load_spec"], "search_space.presets"),
    **dict.fromkeys(["adapt_input_channels", "load_adapted_state_dict", "load_pretrained", "set_trainable_layers"],
                    "search_space.finetuning"),
    "fuse_model": "search_space.fusion",
    **dict.fromkeys(["CheckpointError", "load_checkpoint", "save_checkpoint"], "search_space.checkpoint"),
    **dict.fromkeys(["export_model", "load_network"], "search_space.export"),
    "quantize_int8": "search_space.quantization",
    **dict.fromkeys(["SearchSpace", "StageChoices", "load_space"], "search_space.space"),
    **dict.fromkeys(["UserError", "format_macs", "parse_macs", "parse_resolution"], "infra"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
