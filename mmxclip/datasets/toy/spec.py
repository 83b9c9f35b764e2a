"""The classes of the synthetic motion dataset and the random draws of
one video (:class:`VideoSpec`).

Every video shows one random shape (square, rectangle, isosceles triangle,
ellipse or kite) of a random bright colour on a random dark, plain or mildly
noisy static background. The eight classes differ only in how the shape
moves:

    0 moving left                 1 moving right
    2 moving up                   3 moving down
    4 growing                     5 shrinking
    6 circling clockwise          7 circling counterclockwise

The classes come in pairs, and one class of each pair is the exact time
reversal of the other: for the same random draws, the "moving left" video is
the "moving right" video played backwards (likewise up/down,
growing/shrinking, clockwise/counterclockwise). Hence any statistic of a
video that ignores frame order (a single frame picked at random, the
average frame, the set of object positions or sizes) has exactly the same
distribution for both classes of a pair; only the temporal order
distinguishes them.

Note:
    Because of this construction, label-preserving augmentation must not
    reverse time, and a horizontal flip swaps "moving left"/"moving right" and
    "circling clockwise"/"circling counterclockwise" (a vertical flip swaps
    up/down and the circling pair).

    The circling classes replace an earlier "rotating in place" pair: the
    tiny ViT of ``configs/xclip_toy.py``, trained from random init, learnt
    no linear code of a shape's orientation in its budget (probe R^2 0.1,
    against 0.9 for its position), so it stayed at chance there. Circling
    needs the object's position, like translation, but no frame-wise
    feature correlated with time tells its direction for a random start
    angle: the model has to compare frames pairwise in time (MIT).
"""
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from .colors import sample_colors

CLASSES: List[str] = [
    'moving left',
    'moving right',
    'moving up',
    'moving down',
    'growing',
    'shrinking',
    'circling clockwise',
    'circling counterclockwise',
]

# label -> (motion kind, reversed). The reversed class of each pair is the
# exact time reversal of the forward one (same random draws).
_MOTIONS: Dict[int, tuple] = {
    0: ('translate_x', True),   # left  = right played backwards
    1: ('translate_x', False),  # right: x increases
    2: ('translate_y', True),   # up    = down played backwards
    3: ('translate_y', False),  # down: y increases (image coordinates)
    4: ('scale', False),        # growing: radius increases
    5: ('scale', True),         # shrinking
    6: ('circle', False),       # clockwise on screen: angle increases (y down)
    7: ('circle', True),        # counterclockwise
}

# Classes that share a motion kind form a pair (one is the other reversed).
_PAIR_IDS: Dict[str, int] = {
    'translate_x': 0, 'translate_y': 1, 'scale': 2, 'circle': 3}


def _motion(label: int) -> tuple:
    """``(motion kind, reversed)`` of class ``label``.

    Raises:
        ValueError: If ``label`` is not a valid class index.
    """
    if label not in _MOTIONS:
        raise ValueError(f'label must be in [0, {len(CLASSES) - 1}], '
                         f'got {label!r}.')
    return _MOTIONS[label]


def paired_label(label: int) -> int:
    """Returns the label of the time-reversed twin class of ``label``.

    Args:
        label: Class index into :data:`CLASSES`.

    Returns:
        The other class with the same motion kind, e.g. 1 ("moving right")
        for 0 ("moving left").
    """
    kind, _ = _motion(label)
    (other,) = [
        k for k, (m, _) in _MOTIONS.items() if m == kind and k != label
    ]
    return other


SHAPES: List[str] = ['square', 'rectangle', 'triangle', 'ellipse', 'kite']

# Geometry, as fractions of the frame size. ``radius`` is the circumradius
# of the shape (every vertex lies within it), so the shape stays fully in
# frame as long as its centre stays ``radius`` away from every border.
_TRANSLATE_RADIUS = (0.10, 0.18)
_TRANSLATE_TRAVEL = (0.35, 0.55)  # total travel over the clip
_SCALE_SMALL_RADIUS = (0.08, 0.13)
_SCALE_LARGE_RADIUS = (0.25, 0.36)
_CIRCLE_RADIUS = (0.10, 0.15)  # of the shape
_CIRCLE_ORBIT = (0.22, 0.30)   # of its path around the frame centre
# Arc travelled over the clip in degrees: 24-36 degrees between two frames
# of an 8-frame uniform sample, far from the 180 degrees at which the
# direction of a step would be ambiguous.
_CIRCLE_TOTAL_DEG = (180.0, 270.0)

_NOISE_PROB = 0.5          # fraction of videos with a noisy background
_NOISE_STD = (3.0, 10.0)

_SPLIT_IDS = {'train': 0, 'val': 1}


@dataclass
class VideoSpec:
    """Everything needed to render one video.

    Attributes:
        label: Class index into :data:`CLASSES`.
        shape: Shape name, one of :data:`SHAPES`.
        color: Object colour, BGR, uint8 values.
        bg_color: Background colour, BGR, uint8 values.
        noise_std: Standard deviation of the static background noise
            (0 for a plain background).
        noise_seed: Seed of the background noise pattern.
        centers: Object centre per frame in pixels, shape ``(T, 2)`` as
            ``(x, y)``; x grows to the right and y grows downwards.
        radii: Object circumradius per frame in pixels, shape ``(T,)``.
        angle: Object orientation in degrees, the same in every frame (the
            classes move the shape; none turns it); increasing angles rotate
            clockwise on screen.
    """

    label: int
    shape: str
    color: tuple
    bg_color: tuple
    noise_std: float
    noise_seed: int
    centers: np.ndarray
    radii: np.ndarray
    angle: float

    def to_dict(self) -> dict:
        """Returns a JSON-serialisable view of the spec."""
        return dict(
            label=self.label,
            class_name=CLASSES[self.label],
            shape=self.shape,
            color=list(self.color),
            bg_color=list(self.bg_color),
            noise_std=self.noise_std,
            noise_seed=self.noise_seed,
            centers=np.round(self.centers, 4).tolist(),
            radii=np.round(self.radii, 4).tolist(),
            angle=round(self.angle, 4),
        )


def sample_video_spec(label: int, rng: np.random.Generator, size: int = 32,
                      num_frames: int = 16) -> VideoSpec:
    """Samples the appearance and trajectory of one video.

    The random draws do not depend on which class of a pair is requested,
    so for the same ``rng`` state the two classes of a pair get the same
    video, one the time reversal of the other.

    Args:
        label: Class index into :data:`CLASSES`.
        rng: Random generator; it is advanced by this call.
        size: Frame height and width in pixels.
        num_frames: Number of frames.

    Returns:
        The sampled :class:`VideoSpec`.

    Raises:
        ValueError: If ``label`` is not a valid class index.
    """
    kind, reverse = _motion(label)
    T = num_frames
    s = float(size)
    ramp = np.linspace(0.0, 1.0, T)

    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    color, bg_color = sample_colors(rng)
    noisy = rng.random() < _NOISE_PROB
    noise_std = float(rng.uniform(*_NOISE_STD)) if noisy else 0.0
    noise_seed = int(rng.integers(2**31))
    angle0 = float(rng.uniform(0.0, 360.0))

    if kind in ('translate_x', 'translate_y'):
        r = rng.uniform(*_TRANSLATE_RADIUS) * s
        travel = rng.uniform(*_TRANSLATE_TRAVEL) * s
        # Start uniformly where the whole path keeps the shape in frame.
        start = rng.uniform(r, s - r - travel)
        other = rng.uniform(r, s - r)
        along = start + travel * ramp
        across = np.full(T, other)
        if kind == 'translate_x':
            centers = np.stack([along, across], axis=1)
        else:
            centers = np.stack([across, along], axis=1)
        radii = np.full(T, r)
    elif kind == 'scale':
        r_small = rng.uniform(*_SCALE_SMALL_RADIUS) * s
        r_large = rng.uniform(*_SCALE_LARGE_RADIUS) * s
        cx, cy = rng.uniform(r_large, s - r_large, size=2)
        centers = np.tile([cx, cy], (T, 1))
        radii = r_small + (r_large - r_small) * ramp
    else:  # circle around the frame centre, start angle uniform
        r = rng.uniform(*_CIRCLE_RADIUS) * s
        orbit = rng.uniform(*_CIRCLE_ORBIT) * s
        phi = np.deg2rad(rng.uniform(0.0, 360.0) +
                         rng.uniform(*_CIRCLE_TOTAL_DEG) * ramp)
        centers = s / 2 + orbit * np.stack([np.cos(phi), np.sin(phi)], axis=1)
        radii = np.full(T, r)

    if reverse:
        centers, radii = centers[::-1], radii[::-1]
    return VideoSpec(
        label=int(label),
        shape=shape,
        color=color,
        bg_color=bg_color,
        noise_std=noise_std,
        noise_seed=noise_seed,
        centers=np.ascontiguousarray(centers, dtype=np.float64),
        radii=np.ascontiguousarray(radii, dtype=np.float64),
        angle=angle0,
    )


def make_video_spec(seed: int, split: str, label: int, index: int,
                    size: int = 32, num_frames: int = 16) -> VideoSpec:
    """Returns the spec of video ``index`` of class ``label`` in a split.

    This is the spec :func:`make_toy_dataset` renders. Both classes of a
    pair share the random stream (seeded with ``(seed, split, pair,
    index)``), so ``make_video_spec(s, split, label, i)`` is the time
    reversal of ``make_video_spec(s, split, paired_label(label), i)``.

    Args:
        seed: Dataset seed.
        split: ``'train'`` or ``'val'``.
        label: Class index into :data:`CLASSES`.
        index: Index of the video within its class and split.
        size: Frame height and width in pixels.
        num_frames: Number of frames.

    Returns:
        The :class:`VideoSpec`.

    Raises:
        ValueError: If ``split`` or ``label`` is unknown.
    """
    if split not in _SPLIT_IDS:
        raise ValueError(f'split must be one of {list(_SPLIT_IDS)}, '
                         f'got {split!r}.')
    pair = _PAIR_IDS[_motion(label)[0]]
    rng = np.random.default_rng([seed, _SPLIT_IDS[split], pair, index])
    return sample_video_spec(label, rng, size, num_frames)
