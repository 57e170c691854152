"""Transfer-learning helpers: new input channel counts and partial freezing."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from search_space.model import EfficientNet

STEM_WEIGHT = "stem.conv.weight"


def adapt_input_channels(
    state_dict: Mapping[str, torch.Tensor], in_channels: int, key: str = STEM_WEIGHT
) -> dict[str, torch.Tensor]:
    """Return a copy of ``state_dict`` whose first conv takes ``in_channels`` inputs.

    The kernel is averaged over its input channels and that mean is repeated for
    each new channel: 3 -> 1 turns an RGB stem into a grayscale one (seismic or audio
    spectrograms), 3 -> N gives every channel the same filter. Unchanged if the
    count already matches.

    >>> sd = {"stem.conv.weight": torch.ones(32, 3, 3, 3)}
    >>> adapt_input_channels(sd, 1)["stem.conv.weight"].shape
    torch.Size([32, 1, 3, 3])
    """
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels: must be an integer >= 1, got {in_channels!r}")
    if key not in state_dict:
        raise KeyError(f"{key}: not in the state dict; pass key= naming the first conv's weight")
    adapted = dict(state_dict)
    weight = state_dict[key]
    if weight.shape[1] != in_channels:
        adapted[key] = weight.mean(dim=1, keepdim=True).repeat(1, in_channels, 1, 1)
    return adapted


def load_adapted_state_dict(model: EfficientNet, state_dict: Mapping[str, torch.Tensor], strict: bool = True):
    """Load a state dict saved for another input channel count (e.g. 3-channel ImageNet
    weights into a 1-channel model); returns ``load_state_dict``'s result."""
    return model.load_state_dict(adapt_input_channels(state_dict, model.spec.in_channels), strict=strict)


CLASSIFIER_PREFIX = "classifier."


def load_pretrained(model: EfficientNet, state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Load pretrained weights of the same architecture into ``model`` for fine-tuning; what
    was adapted, in words (empty when nothing was).

    The stem is adapted to the model's input channels (:func:`adapt_input_channels`: 3 -> 1
    for spectrograms) and a classifier of another shape or kind (1000 ImageNet classes, a
    linear head under a cosine one) is left freshly initialised. Any other difference means
    another architecture: ``ValueError`` naming the first weight that does not fit.
    """
    adapted = adapt_input_channels(state_dict, model.spec.in_channels)
    notes = []
    if adapted[STEM_WEIGHT].shape != state_dict[STEM_WEIGHT].shape:
        notes.append(f"stem averaged from {state_dict[STEM_WEIGHT].shape[1]} to {model.spec.in_channels} input "
                     "channels")
    own = model.state_dict()
    head = {key for key in (*own, *adapted) if key.startswith(CLASSIFIER_PREFIX)}
    if any(key not in own or key not in adapted or own[key].shape != adapted[key].shape for key in head):
        adapted = {key: value for key, value in adapted.items() if not key.startswith(CLASSIFIER_PREFIX)}
        notes.append(f"classifier initialised afresh ({model.spec.num_classes} classes, {model.spec.classifier})")
    for key, value in own.items():
        if key.startswith(CLASSIFIER_PREFIX):
            continue
        if key not in adapted:
            raise ValueError(f"the pretrained weights have no {key}: another architecture")
        if adapted[key].shape != value.shape:
            raise ValueError(f"{key} is {tuple(adapted[key].shape)} in the pretrained weights, "
                             f"{tuple(value.shape)} here: another architecture")
    extra = [key for key in adapted if key not in own]
    if extra:
        raise ValueError(f"the pretrained weights have {extra[0]}, which this network lacks: another architecture")
    model.load_state_dict(adapted, strict=False)
    return notes


def set_trainable_layers(model: EfficientNet, trainable_blocks: int) -> EfficientNet:
    """Freeze all but the head and the last ``trainable_blocks`` blocks.

    ``0`` trains only the head (1x1 head conv and classifier), ``N`` the head and
    the last ``N`` blocks in network order, ``-1`` everything. Frozen batch-norm
    layers keep their running statistics in ``train()`` mode too. Returns ``model``.
    """
    blocks = model.blocks
    if isinstance(trainable_blocks, bool) or not isinstance(trainable_blocks, int) or trainable_blocks < -1:
        raise ValueError(f"trainable_blocks: must be -1 (all), 0 (head only) or a block count, got {trainable_blocks!r}")
    if trainable_blocks > len(blocks):
        raise ValueError(f"trainable_blocks: the model has {len(blocks)} blocks, got {trainable_blocks}")
    train_all = trainable_blocks == -1
    for parameter in model.parameters():
        parameter.requires_grad_(train_all)
    if not train_all:
        trainable: list[nn.Module] = [model.head, model.classifier]
        trainable += blocks[len(blocks) - trainable_blocks :] if trainable_blocks else []
        for module in trainable:
            module.requires_grad_(True)
    return model.train(model.training)
