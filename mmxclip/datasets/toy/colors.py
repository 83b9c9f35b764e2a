"""The colours of a toy video: a bright object on a dark background."""
import numpy as np

MAX_BG_LUMA = 70.0   # background luma Y on a 0-255 scale
MIN_FG_LUMA = 150.0  # object luma


def luma(bgr: np.ndarray) -> float:
    """Luma Y (BT.601) of a BGR colour, 0-255."""
    b, g, r = (float(v) for v in bgr)
    return 0.114 * b + 0.587 * g + 0.299 * r


def sample_colors(rng: np.random.Generator) -> tuple:
    """Samples a bright object colour and a dark background colour.

    Hues are uniform; the luma ranges are disjoint, so "object here" is a
    local brightness cue. With arbitrary contrast polarity (a dark object on
    a bright background as often as the reverse) the tiny ViT of
    ``configs/xclip_toy.py``, trained from random init, did not learn where
    the object is within a few minutes on CPU, and without position no model
    can tell the direction of a motion.
    """
    bg = _sample_luma_range(rng, 0.0, MAX_BG_LUMA)
    fg = _sample_luma_range(rng, MIN_FG_LUMA, 255.0)
    return fg, bg


def _sample_luma_range(rng: np.random.Generator, low: float,
                       high: float) -> tuple:
    """Samples a uniform RGB colour whose luma lies in [low, high]."""
    for _ in range(1000):
        color = rng.integers(0, 256, size=3)
        if low <= luma(color) <= high:
            return tuple(int(v) for v in color)
    # Unreachable in practice (each draw succeeds with p > 0.1); grey keeps
    # the function total.
    return (int((low + high) / 2),) * 3
