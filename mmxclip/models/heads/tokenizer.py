"""CLIP's BPE tokenizer, as open_clip ships it (offline)."""
from typing import Sequence

import torch


def tokenize(texts: Sequence[str], context_length: int = 77) -> torch.Tensor:
    """Tokenize texts with CLIP's byte-pair encoding.

    open_clip's tokenizer truncates silently; a class name that does not fit
    is an error here instead, naming the text.

    Args:
        texts: K texts.
        context_length: Tokens per row, start and end tokens included.

    Returns:
        Tensor: Token ids (K, context_length), int64, zero-padded.
    """
    from open_clip.tokenizer import _tokenizer  # heavy import, done lazily
    for text in texts:
        n = count_tokens(text)
        if n > context_length:
            raise ValueError(f'text {text!r} has {n} tokens, more than the '
                             f'context length {context_length}')
    return _tokenizer(list(texts), context_length=context_length)


def count_tokens(text: str) -> int:
    """Tokens CLIP's tokenizer makes of ``text``, start and end included."""
    from open_clip.tokenizer import _tokenizer
    return len(_tokenizer.encode(text)) + 2


def normalize(text: str) -> str:
    """The text as CLIP's tokenizer reads it: open_clip's cleaning (ftfy,
    HTML entities, white space collapsed, stripped, lower case)."""
    from open_clip.tokenizer import _tokenizer
    return _tokenizer.clean_fn(text)
