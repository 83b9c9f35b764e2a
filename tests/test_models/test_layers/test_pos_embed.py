"""Position tables: CCTViT's sine-cosine init and the 1-D temporal table."""

import pytest
import torch
from mmaction.registry import MODELS
from timm.layers import build_sincos2d_pos_embed

from mmxclip.models.layers import sincos_1d_pos_embed


@pytest.mark.parametrize('cfg, expected, min_dist', [
    (dict(type='CCTViT', input_resolution=32, patch_size=8, width=64,
          layers=1, output_dim=32),
     torch.cat([torch.zeros(1, 64), build_sincos2d_pos_embed([4, 4], 64)]),
     0.1),
    (dict(type='MITNeck', num_frames=8, embed_dim=32),
     sincos_1d_pos_embed(8, 32), 0.5),
], ids=['CCTViT', 'MITNeck'])
def test_sincos_position_init(cfg, expected, min_dist):
    """'sincos' starts a position table from fixed sine-cosine codes:
    timm's 2D table on CCTViT's patch grid with the class token's slot at 0,
    the 1D table on MIT's frames. The codes are distinct, loaded weights
    still replace them, other values are refused."""
    module = MODELS.build(dict(cfg, pos_embed_init='sincos'))
    pos = module.positional_embedding.detach()
    rows = pos.reshape(-1, pos.shape[-1])
    torch.testing.assert_close(rows, expected)
    assert torch.cdist(rows, rows).add(torch.eye(len(rows))).min() > min_dist
    other = MODELS.build(cfg)
    module.load_state_dict(other.state_dict())
    torch.testing.assert_close(module.positional_embedding,
                               other.positional_embedding)
    with pytest.raises(ValueError, match="pos_embed_init must be 'normal' "
                       "or 'sincos', got 'learned'"):
        MODELS.build(dict(cfg, pos_embed_init='learned'))


def test_sincos_1d_table_matches_timm_axis():
    """The 1D table is the second axis of timm's 2D one on a 1 x T grid
    (timm lays out sin(h), sin(w), cos(h), cos(w))."""
    table = sincos_1d_pos_embed(8, 64)
    timm_2d = build_sincos2d_pos_embed([1, 8], 128)
    torch.testing.assert_close(table,
                               torch.cat([timm_2d[:, 32:64], timm_2d[:, 96:]],
                                         dim=1))
    torch.testing.assert_close(table[3, :32], torch.sin(3 * torch.logspace(
        0, -31 / 32 * 4, 32)))
    with pytest.raises(ValueError, match='even dim, got 63'):
        sincos_1d_pos_embed(8, 63)
