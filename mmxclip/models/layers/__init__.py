from .activation import register_activation_resolver, resolve_quick_gelu
from .attention import MultiheadAttention
from .linear import Linear
from .num_heads import default_num_heads
from .pos_embed import (check_pos_embed_init, resize_pos_embed,
                        resize_temporal_pos_embed, sincos_1d_pos_embed)
from .transformer import (LayerNorm, QuickGELU, ResidualAttentionBlock,
                          Transformer, clip_mlp, init_clip_transformer)

__all__ = [
    'LayerNorm', 'Linear', 'MultiheadAttention', 'QuickGELU',
    'ResidualAttentionBlock', 'Transformer', 'check_pos_embed_init',
    'clip_mlp', 'default_num_heads', 'init_clip_transformer',
    'register_activation_resolver', 'resize_pos_embed',
    'resize_temporal_pos_embed', 'resolve_quick_gelu', 'sincos_1d_pos_embed'
]
