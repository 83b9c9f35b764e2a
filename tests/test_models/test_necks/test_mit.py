"""MITNeck: residual mean over frames and its frame-count check."""

import pytest
import torch
from mmaction.registry import MODELS


def test_mit_neck_residual_mean_and_frame_check():
    neck = MODELS.build(dict(type='MITNeck', num_frames=4, embed_dim=32))
    x = torch.randn(2, 4, 32)
    out, aux = neck(x)
    assert out.shape == (2, 32) and aux == {}
    h = x + neck.positional_embedding
    for blk in neck.resblocks:
        h = blk(h)
    torch.testing.assert_close(out, (h + x).mean(1))
    with pytest.raises(ValueError, match='num_frames=4'):
        neck(torch.randn(2, 8, 32))
