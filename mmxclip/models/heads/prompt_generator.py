"""X-CLIP's video-specific prompt generator."""
from collections import OrderedDict

import torch
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ..layers import Linear, MultiheadAttention, QuickGELU, default_num_heads


class PromptGeneratorLayer(nn.Module):
    """``t + CrossAttn(norm1(t), v)`` then ``t + MLP(norm3(t))``.

    Keys follow the official code: ``cross_attn`` (fused ``in_proj_weight``
    without bias, ``out_proj`` with bias), ``norm1``, ``norm3``,
    ``mlp.{0,3}``.

    Args:
        embed_dim: Channels E.
        num_heads: Attention heads.
        dropout: Dropout of the attention weights and inside the MLP.
    """

    def __init__(self, embed_dim: int, num_heads: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.cross_attn = MultiheadAttention(
            embed_dim, num_heads, qkv_bias=False, attn_drop=dropout)
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm3 = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(
            OrderedDict([('0', Linear(embed_dim, embed_dim * 4)),
                         ('1', QuickGELU()), ('2', nn.Dropout(dropout)),
                         ('3', Linear(embed_dim * 4, embed_dim))]))

    def forward(self, text: Tensor, visual: Tensor,
                few_texts: bool = False) -> Tensor:
        """(B, K, E), (B, N, E) -> (B, K, E); ``few_texts``: the
        cross-attention as :meth:`MultiheadAttention.attend_few`."""
        attend = self.cross_attn.attend_few if few_texts else self.cross_attn
        text = text + attend(self.norm1(text), visual)
        return text + self.mlp(self.norm3(text))


class PromptGenerator(nn.Module):
    """Per-video prompts from the video's visual tokens.

    Keys follow the official ``prompts_generator``: ``norm``,
    ``decoder.{i}``, ``alpha``.

    Args:
        embed_dim: Channels E.
        layers: Cross-attention layers (2 in the paper).
        alpha: Initial value of the learned per-channel scale.
        heads: Attention heads; :func:`default_num_heads` when None.
        dropout: Dropout inside the layers.
    """

    def __init__(self,
                 embed_dim: int = 512,
                 layers: int = 2,
                 alpha: float = 0.1,
                 heads: int = None,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dim)
        heads = heads or default_num_heads(embed_dim)
        self.decoder = nn.ModuleList(
            PromptGeneratorLayer(embed_dim, heads, dropout)
            for _ in range(layers))
        self.alpha = nn.Parameter(torch.full((embed_dim, ), alpha))
        for m in self.decoder.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, MultiheadAttention):
                trunc_normal_(m.in_proj_weight, std=0.02)

    def forward(self, text: Tensor, visual: Tensor,
                few_texts: bool = False) -> Tensor:
        """Prompts for every class of every video.

        Args:
            text: Class embeddings (B, K, E).
            visual: Visual tokens of each video (B, N, E).
            few_texts: Cross-attend without projecting ``visual`` (equal
                result; cheaper for K << N).

        Returns:
            Tensor: Prompts (B, K, E), to be added to ``text``.
        """
        visual = self.norm(visual)
        for layer in self.decoder:
            text = layer(text, visual, few_texts)
        return self.alpha * text
