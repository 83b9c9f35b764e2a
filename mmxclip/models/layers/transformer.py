"""CLIP's pre-norm residual attention block and the stack built from it."""
from collections import OrderedDict
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .attention import MultiheadAttention
from .linear import Linear


class QuickGELU(nn.Module):
    """CLIP's GELU approximation ``x * sigmoid(1.702 x)``.

    Args:
        inplace: Overwrite the input when autograd does not need it (no
            grad, or an input that does not require grad), as
            ``silu(1.702 x) / 1.702`` in three in-place passes. The
            out-of-place formula allocates three tensors of the input's size;
            on CPU, fresh multi-megabyte blocks come from ``mmap`` and every
            page faults on first touch, which made this activation a large
            share of the ViT-B/16 forward (``docs/performance.md``).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        if self.inplace and not x.requires_grad:
            return F.silu(x.mul_(1.702), inplace=True).div_(1.702)
        return x * torch.sigmoid(1.702 * x)


class LayerNorm(nn.LayerNorm):
    """OpenAI CLIP's layer norm for inference: computed as ``nn.LayerNorm``
    computes it (in float32 under autocast), returned in the input's dtype.

    Without gradients (evaluation) under bf16/fp16 autocast the residual
    stream so stays in half precision, as in CLIP and X-CLIP run in half
    precision, instead of widening to float32 at the first norm: half the
    bytes every elementwise kernel and residual add moves. With gradients
    (training under AMP) it returns autocast's float32, so the residual
    stream stays float32 as under the official apex O1 recipe. In float32
    and float64 it is ``nn.LayerNorm`` exactly.
    """

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        return out if torch.is_grad_enabled() else out.to(x.dtype)


def clip_mlp(width: int,
             mlp_ratio: float = 4.0,
             quick_gelu: bool = True) -> nn.Sequential:
    """CLIP's MLP with keys ``c_fc`` and ``c_proj``: D -> rD -> D.

    OpenAI's CLIP uses :class:`QuickGELU`; open_clip's own trainings
    (LAION-2B, DataComp, ...) use ``nn.GELU``, which ``quick_gelu=False``
    selects (open_clip's ``quick_gelu`` model option). QuickGELU works in
    place on ``c_fc``'s output, which nothing else holds.
    """
    hidden = int(width * mlp_ratio)
    act = QuickGELU(inplace=True) if quick_gelu else nn.GELU()
    return nn.Sequential(
        OrderedDict([('c_fc', Linear(width, hidden)), ('gelu', act),
                     ('c_proj', Linear(hidden, width))]))


class ResidualAttentionBlock(nn.Module):
    """``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``, CLIP's key names.

    Args:
        width: Channels D.
        num_heads: Attention heads.
        mlp_ratio: Hidden width of the MLP relative to D.
        drop_path: Stochastic depth rate of both residual branches.
        causal: Use a causal mask (CLIP's text encoder).
        quick_gelu: :class:`QuickGELU` (OpenAI CLIP) or ``nn.GELU`` in the
            MLP.
    """

    def __init__(self,
                 width: int,
                 num_heads: int,
                 mlp_ratio: float = 4.0,
                 drop_path: float = 0.0,
                 causal: bool = False,
                 quick_gelu: bool = True) -> None:
        super().__init__()
        self.causal = causal
        self.ln_1 = LayerNorm(width)
        self.attn = MultiheadAttention(width, num_heads)
        self.ln_2 = LayerNorm(width)
        self.mlp = clip_mlp(width, mlp_ratio, quick_gelu)
        self.drop_path = (DropPath(drop_path) if drop_path > 0 else
                          nn.Identity())

    def attention(self, x: Tensor) -> Tensor:
        """Residual attention branch on (B, L, D)."""
        return x + self.drop_path(self.attn(self.ln_1(x),
                                            is_causal=self.causal))

    def feed_forward(self, x: Tensor) -> Tensor:
        """Residual MLP branch on (B, L, D)."""
        return x + self.drop_path(self.mlp(self.ln_2(x)))

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, D) -> (B, L, D)."""
        return self.feed_forward(self.attention(x))


class Transformer(nn.Module):
    """A stack of residual blocks under CLIP's key ``resblocks``.

    Args:
        width: Channels D.
        layers: Number of blocks.
        num_heads: Attention heads per block.
        block: Block class, called as ``block(width, num_heads,
            drop_path=..., **block_kwargs)``.
        drop_path_rate: Stochastic depth, increasing linearly to this value
            over the blocks.
        with_cp: Recompute each block in the backward pass (activation
            checkpointing) to save memory while training.
        block_kwargs: Further arguments of every block.
    """

    def __init__(self,
                 width: int,
                 layers: int,
                 num_heads: int,
                 block: Callable[..., nn.Module] = ResidualAttentionBlock,
                 drop_path_rate: float = 0.0,
                 with_cp: bool = False,
                 **block_kwargs: Any) -> None:
        super().__init__()
        self.width = width
        self.layers = layers
        self.with_cp = with_cp
        rates = torch.linspace(0, drop_path_rate, layers).tolist()
        self.resblocks = nn.ModuleList(
            block(width, num_heads, drop_path=rate, **block_kwargs)
            for rate in rates)

    def forward(self, x: Tensor, **kwargs: Any) -> Tensor:
        """(B, L, D) -> (B, L, D); ``kwargs`` go to every block."""
        for blk in self.resblocks:
            if self.with_cp and self.training and torch.is_grad_enabled():
                x = checkpoint(blk, x, use_reentrant=False, **kwargs)
            else:
                x = blk(x, **kwargs)
        return x


def init_clip_transformer(transformer: Transformer,
                          attn_std: Optional[float] = None) -> None:
    """CLIP's initialisation of a residual stack (``initialize_parameters``).

    Args:
        transformer: The stack to initialise in place.
        attn_std: Std of the QKV projection; ``width ** -0.5`` by default.
    """
    width, layers = transformer.width, transformer.layers
    proj_std = width**-0.5 * (2 * layers)**-0.5
    attn_std = attn_std or width**-0.5
    fc_std = (2 * width)**-0.5
    for blk in transformer.resblocks:
        nn.init.normal_(blk.attn.in_proj_weight, std=attn_std)
        nn.init.normal_(blk.attn.out_proj.weight, std=proj_std)
        nn.init.normal_(blk.mlp.c_fc.weight, std=fc_std)
        nn.init.normal_(blk.mlp.c_proj.weight, std=proj_std)
