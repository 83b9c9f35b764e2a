from .attention import MultiheadAttention
from .transformer import (QuickGELU, ResidualAttentionBlock, Transformer,
                          clip_mlp, init_clip_transformer)

__all__ = [
    'MultiheadAttention', 'QuickGELU', 'ResidualAttentionBlock', 'Transformer',
    'clip_mlp', 'init_clip_transformer'
]
