"""CCTViT: shapes, message tokens across frames, input checks, one dynamo
graph."""

import pytest
import torch
from mmaction.registry import MODELS


def test_backbone_shapes_and_out_types():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 32, 32)
    bb = MODELS.build(dict(type='CCTViT', input_resolution=32, patch_size=8,
                           width=64, layers=2, output_dim=32)).eval()
    frames, tokens = bb.forward_features(x)
    assert frames.shape == (2, 4, 32) and tokens.shape == (2, 4, 16, 64)
    torch.testing.assert_close(bb(x), frames.mean(1))
    bb.out_type = 'frames'
    assert bb(x).shape == (2, 32, 4, 1, 1)


def test_message_tokens_carry_information_across_frames():
    """With message tokens a change in frame 3 reaches frame 0's embedding;
    without them frames are encoded independently."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 32, 32)
    y = x.clone()
    y[:, :, 3] += 1
    for use_message, changes in ((True, True), (False, False)):
        bb = MODELS.build(dict(type='CCTViT', input_resolution=32,
                               patch_size=8, width=64, layers=2,
                               output_dim=32, use_message=use_message)).eval()
        with torch.no_grad():
            f0 = bb.forward_features(x)[0][0, 0]
            f1 = bb.forward_features(y)[0][0, 0]
        assert (not torch.allclose(f0, f1, atol=1e-6)) is changes


def test_backbone_rejects_wrong_input():
    bb = MODELS.build(dict(type='CCTViT', input_resolution=32, patch_size=8,
                           width=64, layers=1, output_dim=32))
    with pytest.raises(ValueError, match='built for 32x32 frames, got 24x24'):
        bb(torch.randn(1, 3, 2, 24, 24))
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        bb(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        MODELS.build(dict(type='CCTViT', input_resolution=30, patch_size=8))


def test_backbone_compiles_without_graph_breaks():
    """The backbone's forward is one dynamo graph (what ``torch.compile``
    with ``fullgraph=True`` needs; tools/benchmark.py compiles it so on
    CUDA)."""
    import torch._dynamo
    backbone = MODELS.build(dict(
        type='CCTViT', input_resolution=32, patch_size=16, width=64,
        layers=2, output_dim=32)).eval()
    torch._dynamo.reset()
    try:
        with torch.no_grad():
            explained = torch._dynamo.explain(backbone.forward_features)(
                torch.randn(1, 3, 4, 32, 32))
    finally:
        torch._dynamo.reset()
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
