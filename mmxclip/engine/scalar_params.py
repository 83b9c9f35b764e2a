"""Frozen 0-d parameters as buffers, for FSDP and DeepSpeed.

Neither shards a 0-d parameter: FSDP refuses it ("FSDP doesn't support
scalar parameters") and DeepSpeed 0.19 fails to broadcast it ("self.dim()
cannot be 0 to view Float as Byte"). CLIP's ``logit_scale`` is one, frozen
in the published recipe. As a buffer it keeps its state-dict key, shape and
value, is moved and broadcast with the module, and is saved whole in every
checkpoint; only an optimizer no longer sees it, which a frozen parameter
does not need.
"""
from typing import List

from torch import nn


def frozen_scalars_to_buffers(model: nn.Module) -> List[str]:
    """Turn every frozen 0-d parameter of ``model`` into a buffer in place.

    Args:
        model: The model, before FSDP or DeepSpeed wraps it.

    Returns:
        list: Names of the converted parameters.

    Raises:
        ValueError: A 0-d parameter requires grad (it cannot be sharded, and
            as a buffer it would not be trained).
    """
    names = []
    for prefix, module in model.named_modules():
        for name, param in list(module._parameters.items()):
            if param is None or param.dim() != 0:
                continue
            full = f'{prefix}.{name}' if prefix else name
            if param.requires_grad:
                raise ValueError(
                    f'{full} is a trainable 0-d parameter, which FSDP and '
                    'DeepSpeed cannot shard; freeze it (freeze_text_encoder='
                    'True freezes logit_scale) or train with DDP')
            del module._parameters[name]
            module.register_buffer(name, param.detach())
            names.append(full)
    return names
