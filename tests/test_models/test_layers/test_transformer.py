"""CLIP's LayerNorm: nn.LayerNorm's parameters, half precision kept."""
import copy

import torch
import torch.nn.functional as F
from helpers.tiny_model import float32_layer_norm
from torch import nn

from mmxclip.models.layers import LayerNorm


def test_layer_norm_is_nn_layer_norm_and_keeps_half_precision(monkeypatch):
    """CLIP's LayerNorm: ``nn.LayerNorm`` exactly in float32 and float64;
    under an autocast that computes it in float32 it returns the input's
    dtype without gradients (half-precision inference) and float32 with
    them (AMP training)."""
    ln = LayerNorm(64)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    for dtype in (torch.float32, torch.float64):
        layer = copy.deepcopy(ln).to(dtype)
        x = torch.randn(2, 5, 64, dtype=dtype)
        assert torch.equal(layer(x), F.layer_norm(
            x, (64, ), layer.weight, layer.bias, layer.eps))
    monkeypatch.setattr(nn.LayerNorm, 'forward', float32_layer_norm)
    x = torch.randn(2, 5, 64).bfloat16()
    with torch.no_grad():
        out = ln(x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, float32_layer_norm(ln, x).bfloat16())
    assert ln(x).dtype == torch.float32
