"""Inputs shared by ``tests/fixtures/official_recipe/make_fixtures.py`` (run
with the official X-CLIP code) and
``tests/test_configs/test_official_recipe.py``.

Nothing random here depends on a library's generator stream except NumPy's
legacy ``RandomState``, whose streams NumPy keeps fixed across versions: the
fixture script and CI generate the same weights, clips and targets.
"""
import zlib
from typing import Dict, List, Sequence, Tuple

import numpy as np

FIXTURES = 'fixtures/official_recipe'
# A tiny X-CLIP: widths 64 (one head everywhere, as width // 64), 2 vision
# layers, 4 frames of 32 px in 16 px patches, a 1-layer text encoder with
# CLIP's vocabulary and context (so the class names tokenize as in CLIP).
TINY = dict(embed_dim=64, image=32, patch=16, vision_layers=2, frames=4,
            context=77, vocab=49408, text_layers=1)
CLASS_NAMES = ['abseiling', 'air drumming', 'answering questions',
               'applauding', 'applying cream']
# The step comparison: 4 iterations per epoch, 12 iterations = 3 updates of
# 4 accumulated batches of 2 videos.
ITERS_PER_EPOCH, ITERS, BATCH = 4, 12, 2


def _rng(*key) -> np.random.RandomState:
    """A generator seeded by ``key`` (ints and strings)."""
    return np.random.RandomState([
        k if isinstance(k, int) else zlib.crc32(k.encode()) for k in key])


def random_weights(shapes: Dict[str, Sequence[int]]) -> Dict[str, np.ndarray]:
    """Float64 weights for official parameter names: fan-in scaled normals,
    layer-norm weights around 1, small biases, CLIP's logit scale."""
    out = {}
    for name, shape in shapes.items():
        draw = _rng('weight', name).standard_normal(shape)
        if not shape:
            out[name] = np.asarray(np.log(1 / 0.07))
        elif len(shape) == 1:
            out[name] = 1 + 0.1 * draw if name.endswith('.weight') else (
                0.1 * draw)
        else:
            out[name] = draw / np.sqrt(np.prod(shape[1:]))
    return out


def batch(iteration: int) -> Tuple[np.ndarray, np.ndarray]:
    """Iteration ``iteration``'s clips (B, T, 3, H, W), already normalised,
    and soft targets (B, K): two classes mixed, before label smoothing."""
    rng = _rng('batch', iteration)
    t, size, k = TINY['frames'], TINY['image'], len(CLASS_NAMES)
    clips = rng.standard_normal((BATCH, t, 3, size, size))
    targets = np.zeros((BATCH, k))
    for row in targets:
        a, b = rng.choice(k, 2, replace=False)
        lam = rng.uniform(0.2, 0.8)
        row[a], row[b] = lam, 1 - lam
    return clips, targets


def projections(name: str, value: np.ndarray) -> List[float]:
    """Two fixed random projections and the norm of a tensor (float64): a
    compact fingerprint that changes with any change of the tensor."""
    flat = np.asarray(value, dtype=np.float64).ravel()
    r = _rng('projection', name).standard_normal((2, flat.size))
    return [*(r @ flat).tolist(), float(np.linalg.norm(flat))]


def random_frames(seed: int, num: int = 4, height: int = 24,
                  width: int = 32) -> np.ndarray:
    """Smooth random uint8 RGB frames (num, H, W, 3) for the pipelines."""
    rng = _rng('frames', seed)
    base = rng.uniform(0, 255, (num, height // 4 + 1, width // 4 + 1, 3))
    frames = np.repeat(np.repeat(base, 4, 1), 4, 2)[:, :height, :width]
    noise = rng.uniform(-20, 20, frames.shape)
    return np.clip(frames + noise, 0, 255).astype(np.uint8)
