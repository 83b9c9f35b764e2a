"""Multi-head attention shared by every X-CLIP module.

One implementation serves the spatial attention and the message attention of
the CCT backbone, the MIT neck, CLIP's text encoder and the prompt generator's
cross-attention. Parameters carry the names of
:class:`torch.nn.MultiheadAttention`
(``in_proj_weight``, ``in_proj_bias``, ``out_proj``), which is how OpenAI CLIP,
open_clip and the official X-CLIP store them, so their state dicts map onto
mmxclip by prefix alone. Unlike ``nn.MultiheadAttention`` it is batch-first,
runs one fused QKV projection and calls
:func:`torch.nn.functional.scaled_dot_product_attention` (flash / memory
efficient kernels, ``torch.compile`` friendly, no weights materialised).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .linear import Linear, linear


class MultiheadAttention(nn.Module):
    """Batch-first multi-head attention with a fused input projection.

    Args:
        embed_dim: Channels ``D`` of queries, keys and values.
        num_heads: Number of heads; ``D`` must be divisible by it.
        qkv_bias: Whether the input projection has a bias.
        attn_drop: Dropout on the attention weights (training only).
        proj_drop: Dropout after the output projection.
    """

    def __init__(self,
                 embed_dim: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f'embed_dim={embed_dim} is not divisible by '
                             f'num_heads={num_heads}')
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim,
                                                       embed_dim))
        if qkv_bias:
            self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        else:
            self.register_parameter('in_proj_bias', None)
        self.out_proj = Linear(embed_dim, embed_dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # The int8 precision's twin of the fused projection (self-attention
        # only), set by mmxclip.models.precision.apply_precision.
        self.in_proj_int8: Optional[nn.Module] = None
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor, parts: int) -> Tensor:
        """(B, L, parts * D) -> (parts, B, heads, L, D / heads)."""
        b, n, _ = x.shape
        return x.view(b, n, parts, self.num_heads, -1).permute(2, 0, 3, 1, 4)

    def forward(self,
                x: Tensor,
                context: Optional[Tensor] = None,
                is_causal: bool = False,
                num_queries: Optional[int] = None) -> Tensor:
        """Attend from ``x`` to itself, or to ``context`` when given.

        Args:
            x: Queries (B, L, D).
            context: Keys and values (B, S, D); ``None`` for self-attention.
            is_causal: Apply a causal mask (self-attention only).
            num_queries: Self-attention only: compute the outputs of the
                first ``num_queries`` tokens of ``x`` alone, the others
                serving as keys and values only (the CCT's message token).

        Returns:
            Tensor: (B, L, D), or (B, num_queries, D).
        """
        b, n, d = x.shape
        if context is None:
            qkv = (self.in_proj_int8(x) if self.in_proj_int8 is not None else
                   linear(x, self.in_proj_weight, self.in_proj_bias))
            q, k, v = self._heads(qkv, 3).unbind(0)
            if num_queries is not None:
                q, n = q[:, :, :num_queries], num_queries
        else:
            w_q, w_kv = self.in_proj_weight.split([d, 2 * d])
            b_q = b_kv = None
            if self.in_proj_bias is not None:
                b_q, b_kv = self.in_proj_bias.split([d, 2 * d])
            q = self._heads(linear(x, w_q, b_q), 1)[0]
            k, v = self._heads(linear(context, w_kv, b_kv), 2).unbind(0)
        out = F.scaled_dot_product_attention(
            q, k, v,
            dropout_p=self.attn_drop if self.training else 0.0,
            is_causal=is_causal)
        out = out.transpose(1, 2).reshape(b, n, d)
        return self.proj_drop(self.out_proj(out))

    def attend_few(self, x: Tensor, context: Tensor) -> Tensor:
        """Cross-attention from few queries to many keys, equal to
        ``forward(x, context)``, without projecting the keys and values.

        Per head ``h`` the score of key ``c`` is ``q_h . (W_k^h c + b_k^h) =
        (W_k^h^T q_h) . c + q_h . b_k^h``; the last term is the same for
        every key, so the softmax drops it. The output is ``sum_s a_s (W_v^h
        c_s + b_v^h) = W_v^h (sum_s a_s c_s) + b_v^h``. This costs ``2 H L S
        D + 2 L D^2`` multiply-adds instead of ``2 S D^2 + 2 L S D``: for
        text-to-video search (L = 1 text per video, S = 196 tokens of D =
        512, H = 8) 48 times fewer, and no keys or values are stored.

        Args:
            x: Queries (B, L, D).
            context: Keys and values (B, S, D).

        Returns:
            Tensor: (B, L, D).
        """
        b, n, d = x.shape
        h = self.num_heads
        w_q, w_k, w_v = self.in_proj_weight.split(d)
        b_q, b_v = None, 0
        if self.in_proj_bias is not None:
            b_q, _, b_v = self.in_proj_bias.split(d)
        q = linear(x, w_q, b_q).view(b, n, h, d // h)
        # Bfloat16 weights (the bf16 precision) join float32 products here.
        w_k, w_v = w_k.to(q.dtype), w_v.to(q.dtype)
        q = torch.einsum('blhc,hcd->bhld', q, w_k.view(h, d // h, d))
        q = q * (d // h)**-0.5
        attn = torch.einsum('bhld,bsd->bhls', q, context).softmax(dim=-1)
        if self.training and self.attn_drop:
            attn = F.dropout(attn, self.attn_drop)
        mixed = torch.einsum('bhls,bsd->blhd', attn, context)
        out = torch.einsum('blhd,hcd->blhc', mixed, w_v.view(h, d // h, d))
        out = out.reshape(b, n, d)
        return self.proj_drop(self.out_proj(out + b_v))
