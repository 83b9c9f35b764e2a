"""CLIP's rule for the number of attention heads."""


def default_num_heads(width: int) -> int:
    """One head per 64 channels (CLIP's and X-CLIP's rule), at least one.

    Args:
        width: The attention's embedding width.

    Returns:
        int: ``max(width // 64, 1)``.
    """
    return max(width // 64, 1)
