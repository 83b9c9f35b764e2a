"""CLIP's text encoder."""
import torch
from torch import Tensor, nn

from ..layers import Transformer, default_num_heads, init_clip_transformer


class CLIPTextEncoder(nn.Module):
    """CLIP's causal text transformer with OpenAI's key names.

    Keys: ``token_embedding``, ``positional_embedding``,
    ``transformer.resblocks.{i}``, ``ln_final``, ``text_projection``.

    Args:
        embed_dim: Projection dim E.
        context_length: Maximum tokens per text (77 in CLIP).
        vocab_size: Vocabulary size (49408 in CLIP).
        width: Channels of the transformer.
        layers: Number of blocks.
        heads: Attention heads; :func:`default_num_heads` when None.
        quick_gelu: :class:`QuickGELU` in the MLPs (OpenAI CLIP); False for
            ``nn.GELU`` (open_clip's LAION / DataComp trainings).
    """

    def __init__(self,
                 embed_dim: int = 512,
                 context_length: int = 77,
                 vocab_size: int = 49408,
                 width: int = 512,
                 layers: int = 12,
                 heads: int = None,
                 quick_gelu: bool = True) -> None:
        super().__init__()
        self.context_length = context_length
        self.token_embedding = nn.Embedding(vocab_size, width)
        self.positional_embedding = nn.Parameter(
            torch.empty(context_length, width))
        self.transformer = Transformer(
            width, layers, heads or default_num_heads(width), causal=True,
            quick_gelu=quick_gelu)
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.empty(width, embed_dim))
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        nn.init.normal_(self.text_projection, std=width**-0.5)
        init_clip_transformer(self.transformer)

    def forward(self, tokens: Tensor) -> Tensor:
        """Embed tokenised texts.

        The text feature is read at the end-of-text token, the highest token
        id of each row. As attention is causal, tokens after the last
        end-of-text token of the batch cannot change it, so the batch is cut
        there: the result is the same as over the full context, at a fraction
        of the cost (class names are a few tokens out of 77).

        Args:
            tokens: Token ids (K, L), L <= context_length.

        Returns:
            Tensor: Text embeddings (K, E).
        """
        eot = tokens.argmax(dim=-1)
        length = int(eot.max()) + 1
        x = self.token_embedding(tokens[:, :length])
        x = x + self.positional_embedding[:length].to(x.dtype)
        x = self.ln_final(self.transformer(x))
        return x[torch.arange(x.shape[0], device=x.device),
                 eot] @ self.text_projection
