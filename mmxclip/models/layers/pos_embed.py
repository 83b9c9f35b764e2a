"""Resizing a ViT's learned position embedding to another patch grid."""
import math

import torch
import torch.nn.functional as F
from torch import Tensor


def resize_pos_embed(pos: Tensor, grid: int) -> Tensor:
    """Interpolate a ViT position embedding to a new square patch grid.

    The class-token row is kept as it is; the patch rows, seen as a
    ``g x g`` image with D channels, are resized bicubically with
    anti-aliasing, exactly as open_clip's and timm's ``resize_pos_embed``
    do, so a checkpoint gets the same grid here as in those libraries.

    Args:
        pos: Position embedding (1 + g * g, D) of a class token and a
            ``g x g`` grid.
        grid: Side of the new grid.

    Returns:
        Tensor: (1 + grid * grid, D), in ``pos``'s dtype.

    Raises:
        ValueError: ``pos`` is not a class token plus a square grid.
    """
    old = math.isqrt(pos.shape[0] - 1)
    if pos.dim() != 2 or old * old + 1 != pos.shape[0]:
        raise ValueError('expected a position embedding (1 + g * g, D), got '
                         f'{tuple(pos.shape)}')
    if old == grid:
        return pos
    patches = pos[1:].float().reshape(1, old, old, -1).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=(grid, grid), mode='bicubic',
                            antialias=True, align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(grid * grid, -1)
    return torch.cat([pos[:1], patches.to(pos.dtype)])
