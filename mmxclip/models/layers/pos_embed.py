"""Resizing learned position embeddings: ViT patch grids, MIT's time axis."""
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


def resize_temporal_pos_embed(pos: Tensor, num_frames: int) -> Tensor:
    """Interpolate MIT's temporal position embedding linearly in time.

    X-CLIP's frames are segment centres: frame ``i`` of ``T`` sits at
    ``(i + 0.5) / T`` of the video. Row ``j`` of the result is the table
    read, by linear interpolation, at ``(j + 0.5) / T'``, the time frame
    ``j`` of ``T'`` shows, which is ``F.interpolate(mode='linear',
    align_corners=False)`` exactly: output ``j`` reads input coordinate
    ``(j + 0.5) * T / T' - 0.5``. Times before the first or after the last
    centre (``T' > T``: the outermost half-segments) take the first or last
    row (``F.interpolate`` clamps the coordinate). Upsampling ``T -> 2T``
    gives ``0.75 p_i + 0.25 p_{i+1}`` and its mirror; ``2T -> T`` the mean
    of each pair of rows.

    Args:
        pos: Temporal table (1, T, E).
        num_frames: T'.

    Returns:
        Tensor: (1, T', E) in ``pos``'s dtype; ``pos`` itself when T' = T.

    Raises:
        ValueError: ``pos`` is not (1, T, E), or ``num_frames`` < 1.
    """
    if pos.dim() != 3 or pos.shape[0] != 1:
        raise ValueError('expected a temporal position embedding (1, T, E), '
                         f'got {tuple(pos.shape)}')
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    if pos.shape[1] == num_frames:
        return pos
    # (1, T, E) -> (1, E, T): F.interpolate's (N, C, L).
    work = torch.promote_types(pos.dtype, torch.float32)
    out = F.interpolate(pos.to(work).transpose(1, 2), size=num_frames,
                        mode='linear', align_corners=False)
    return out.transpose(1, 2).to(pos.dtype)


def check_pos_embed_init(pos_embed_init: str) -> None:
    """Validate the ``pos_embed_init`` argument of CCTViT and MITNeck.

    Args:
        pos_embed_init: ``'normal'`` (the module's X-CLIP / CLIP init) or
            ``'sincos'`` (a fixed sine-cosine table as the starting value).

    Raises:
        ValueError: Any other value.
    """
    if pos_embed_init not in ('normal', 'sincos'):
        raise ValueError("pos_embed_init must be 'normal' or 'sincos', "
                         f'got {pos_embed_init!r}')


def sincos_1d_pos_embed(length: int, dim: int,
                        temperature: float = 10000.) -> Tensor:
    """The sine-cosine position table of "Attention Is All You Need".

    Row ``t`` is ``[sin(t * w_0) .. sin(t * w_{D/2-1}), cos(t * w_0) ..
    cos(t * w_{D/2-1})]`` with ``w_i = temperature ** (-2i / D)``: one
    axis of timm's ``build_sincos2d_pos_embed`` (same frequencies). Written
    here because timm only has the 2D table: on a ``1 x T`` grid half of its
    channels would be constant.

    Args:
        length: Positions T.
        dim: Channels D, even.
        temperature: Longest wavelength, in positions.

    Returns:
        Tensor: (T, D) float32, values in [-1, 1].

    Raises:
        ValueError: ``dim`` is odd.
    """
    if dim % 2:
        raise ValueError(f'sincos_1d_pos_embed needs an even dim, got {dim}')
    omega = temperature**(-torch.arange(dim // 2, dtype=torch.float32) /
                          (dim // 2))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * omega
    return torch.cat([angles.sin(), angles.cos()], dim=1)
