from .attention import MultiheadAttention
from .pos_embed import resize_pos_embed
from .transformer import (QuickGELU, ResidualAttentionBlock, Transformer,
                          clip_mlp, init_clip_transformer)

__all__ = [
    'MultiheadAttention', 'QuickGELU', 'ResidualAttentionBlock', 'Transformer',
    'clip_mlp', 'init_clip_transformer', 'resize_pos_embed'
]
