#!/usr/bin/env python
"""Render a small synthetic motion-only video dataset for X-CLIP experiments.

The dataset is written in MMAction2's ``VideoDataset`` format::

    OUT/
      classes.txt          # one class name per line, in label order
      train.txt            # "train/train_00000.mp4 LABEL" per line
      val.txt              # "val/val_00000.mp4 LABEL" per line
      meta.json            # generation parameters and per-video trajectories
      videos/
        train/*.mp4
        val/*.mp4

Paths in the list files are relative to ``OUT/videos``, so a config uses e.g.
``ann_file='OUT/train.txt', data_prefix=dict(video='OUT/videos')``.

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
average frame, the set of object positions, sizes or angles) has exactly the
same distribution for both classes of a pair; only the temporal order
distinguishes them. The generated splits are balanced exactly, not just in
distribution: every video of one class of a pair has a time-reversed twin
in the other class (see :func:`make_toy_dataset`).

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

Example:
    $ python tools/data/make_toy_dataset.py data/toy --train-per-class 40
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

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


def paired_label(label: int) -> int:
    """Returns the label of the time-reversed twin class of ``label``.

    Args:
        label: Class index into :data:`CLASSES`.

    Returns:
        The other class with the same motion kind, e.g. 1 ("moving right")
        for 0 ("moving left").
    """
    kind, _ = _MOTIONS[label]
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

_MAX_BG_LUMA = 70.0   # background luma Y on a 0-255 scale
_MIN_FG_LUMA = 150.0  # object luma
_NOISE_PROB = 0.5          # fraction of videos with a noisy background
_NOISE_STD = (3.0, 10.0)
_SUPERSAMPLE = 4           # shapes are rasterised at 4x and area-downsampled
_FPS = 8
_MIN_SIZE = 32
_MIN_FRAMES = 4

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
        angles: Object orientation per frame in degrees, shape ``(T,)``;
            increasing angles rotate clockwise on screen.
    """

    label: int
    shape: str
    color: tuple
    bg_color: tuple
    noise_std: float
    noise_seed: int
    centers: np.ndarray
    radii: np.ndarray
    angles: np.ndarray

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
            angles=np.round(self.angles, 4).tolist(),
        )


def _unit_shape(shape: str) -> np.ndarray:
    """Returns the vertices of a shape with circumradius 1, shape (N, 2)."""
    if shape == 'square':
        t = np.deg2rad([45.0, 135.0, 225.0, 315.0])
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'rectangle':  # 2:1, 180-degree symmetric
        pts = np.array([[2.0, 1.0], [-2.0, 1.0], [-2.0, -1.0], [2.0, -1.0]])
        return pts / np.sqrt(5.0)
    if shape == 'triangle':  # isosceles, no rotational symmetry
        return np.array([[1.0, 0.0], [-0.6, 0.6], [-0.6, -0.6]])
    if shape == 'ellipse':  # aspect 0.55, 180-degree symmetric
        t = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
        return np.stack([np.cos(t), 0.55 * np.sin(t)], axis=1)
    if shape == 'kite':  # convex, no rotational symmetry
        return np.array([[1.0, 0.0], [-0.3, 0.65], [-0.7, 0.0], [-0.3, -0.65]])
    raise ValueError(f'Unknown shape {shape!r}; expected one of {SHAPES}.')


def _luma(bgr: np.ndarray) -> float:
    b, g, r = (float(v) for v in bgr)
    return 0.114 * b + 0.587 * g + 0.299 * r


def _sample_colors(rng: np.random.Generator) -> tuple:
    """Samples a bright object colour and a dark background colour.

    Hues are uniform; the luma ranges are disjoint, so "object here" is a
    local brightness cue. With arbitrary contrast polarity (a dark object on
    a bright background as often as the reverse) the tiny ViT of
    ``configs/xclip_toy.py``, trained from random init, did not learn where
    the object is within a few minutes on CPU, and without position no model
    can tell the direction of a motion.
    """
    bg = _sample_luma_range(rng, 0.0, _MAX_BG_LUMA)
    fg = _sample_luma_range(rng, _MIN_FG_LUMA, 255.0)
    return fg, bg


def _sample_luma_range(rng: np.random.Generator, low: float,
                       high: float) -> tuple:
    """Samples a uniform RGB colour whose luma lies in [low, high]."""
    for _ in range(1000):
        color = rng.integers(0, 256, size=3)
        if low <= _luma(color) <= high:
            return tuple(int(v) for v in color)
    # Unreachable in practice (each draw succeeds with p > 0.1); grey keeps
    # the function total.
    return (int((low + high) / 2),) * 3


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
    if label not in _MOTIONS:
        raise ValueError(f'label must be in [0, {len(CLASSES) - 1}], '
                         f'got {label!r}.')
    kind, reverse = _MOTIONS[label]
    T = num_frames
    s = float(size)
    ramp = np.linspace(0.0, 1.0, T)

    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    color, bg_color = _sample_colors(rng)
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
        angles = np.full(T, angle0)
    elif kind == 'scale':
        r_small = rng.uniform(*_SCALE_SMALL_RADIUS) * s
        r_large = rng.uniform(*_SCALE_LARGE_RADIUS) * s
        cx, cy = rng.uniform(r_large, s - r_large, size=2)
        centers = np.tile([cx, cy], (T, 1))
        radii = r_small + (r_large - r_small) * ramp
        angles = np.full(T, angle0)
    else:  # circle around the frame centre, start angle uniform
        r = rng.uniform(*_CIRCLE_RADIUS) * s
        orbit = rng.uniform(*_CIRCLE_ORBIT) * s
        phi = np.deg2rad(rng.uniform(0.0, 360.0) +
                         rng.uniform(*_CIRCLE_TOTAL_DEG) * ramp)
        centers = s / 2 + orbit * np.stack([np.cos(phi), np.sin(phi)], axis=1)
        radii = np.full(T, r)
        angles = np.full(T, angle0)

    if reverse:
        centers, radii, angles = centers[::-1], radii[::-1], angles[::-1]
    return VideoSpec(
        label=int(label),
        shape=shape,
        color=color,
        bg_color=bg_color,
        noise_std=noise_std,
        noise_seed=noise_seed,
        centers=np.ascontiguousarray(centers, dtype=np.float64),
        radii=np.ascontiguousarray(radii, dtype=np.float64),
        angles=np.ascontiguousarray(angles, dtype=np.float64),
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
    if label not in _MOTIONS:
        raise ValueError(f'label must be in [0, {len(CLASSES) - 1}], '
                         f'got {label!r}.')
    pair = _PAIR_IDS[_MOTIONS[label][0]]
    rng = np.random.default_rng([seed, _SPLIT_IDS[split], pair, index])
    return sample_video_spec(label, rng, size, num_frames)


def render_video(spec: VideoSpec, size: int = 32) -> np.ndarray:
    """Renders a video spec into frames.

    Args:
        spec: The video to render.
        size: Frame height and width in pixels.

    Returns:
        uint8 array of shape ``(T, size, size, 3)`` in BGR order.
    """
    ss = _SUPERSAMPLE
    bg = np.empty((size, size, 3), np.float32)
    bg[:] = spec.bg_color
    if spec.noise_std > 0:
        noise_rng = np.random.default_rng(spec.noise_seed)
        noise = noise_rng.normal(0.0, spec.noise_std, bg.shape)
        bg += noise.astype(np.float32)
    color = np.asarray(spec.color, np.float32)
    unit = _unit_shape(spec.shape)
    canvas = np.zeros((size * ss, size * ss), np.uint8)
    shift = 4  # sub-pixel vertex precision for fillPoly
    frames = np.empty((len(spec.radii), size, size, 3), np.uint8)
    for t, (center, radius, angle) in enumerate(
            zip(spec.centers, spec.radii, spec.angles)):
        theta = np.deg2rad(angle)
        c, s = np.cos(theta), np.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        pts = unit @ rot.T * radius + center  # pixel coordinates
        # Pixel i covers [i, i+1); map to the supersampled grid.
        pts_hr = np.round((pts * ss - 0.5) * (1 << shift)).astype(np.int32)
        canvas.fill(0)
        cv2.fillPoly(canvas, [pts_hr], 255, lineType=cv2.LINE_AA, shift=shift)
        alpha = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        alpha = alpha.astype(np.float32)[..., None] / 255.0
        frame = bg * (1.0 - alpha) + color * alpha
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames


def write_video(path: str, frames: np.ndarray, fps: int = _FPS) -> None:
    """Writes BGR frames to an mp4 file with OpenCV's 'mp4v' codec.

    Args:
        path: Output file path; its directory must exist.
        frames: uint8 array of shape ``(T, H, W, 3)`` in BGR order.
        fps: Frame rate stored in the container.

    Raises:
        RuntimeError: If OpenCV cannot open a writer for ``path``.
    """
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError(
            f'cv2.VideoWriter could not open {path!r} with fourcc "mp4v"; '
            'is OpenCV built with FFmpeg support?')
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def _check_decodable(size: int, num_frames: int) -> None:
    """Checks that decord can read an mp4v video with these dimensions.

    decord 0.6 silently mis-decodes some frame widths written by OpenCV's
    mp4v encoder (e.g. 16, 24, 48 and 72 give 4-channel frames and make
    ``VideoReader.get_batch`` fail), so probe the requested size once.
    Skipped if decord is not installed.
    """
    try:
        import decord
    except ImportError:
        return
    frames = np.zeros((min(num_frames, 4), size, size, 3), np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'probe.mp4')
        write_video(path, frames)
        try:
            reader = decord.VideoReader(path)
            batch = reader.get_batch(list(range(len(frames)))).asnumpy()
            ok = batch.shape == frames.shape
        except Exception:  # noqa: BLE001 - any decode failure means "bad"
            ok = False
        finally:
            reader = None  # release the file before the dir is removed
    if not ok:
        raise ValueError(
            f'size={size} produces mp4v videos that decord cannot decode '
            'correctly (a decord quirk: e.g. 16, 24, 48 and 72 fail); '
            'choose another size such as 32, 40, 56 or 64.')


def _validate(out_dir: str, num_train_per_class: int, num_val_per_class: int,
              size: int, num_frames: int, seed: int) -> None:
    for name, value in (('num_train_per_class', num_train_per_class),
                        ('num_val_per_class', num_val_per_class),
                        ('size', size), ('num_frames', num_frames),
                        ('seed', seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f'{name} must be an int, got {value!r}.')
    if not isinstance(out_dir, (str, os.PathLike)) or not os.fspath(out_dir):
        raise ValueError(f'out_dir must be a non-empty path, got {out_dir!r}.')
    if num_train_per_class < 0:
        raise ValueError('num_train_per_class must be >= 0, '
                         f'got {num_train_per_class}.')
    if num_val_per_class < 0:
        raise ValueError('num_val_per_class must be >= 0, '
                         f'got {num_val_per_class}.')
    if num_train_per_class + num_val_per_class == 0:
        raise ValueError('Nothing to generate: num_train_per_class and '
                         'num_val_per_class are both 0.')
    if size < _MIN_SIZE or size % 8 != 0:
        raise ValueError(f'size must be a multiple of 8 and >= {_MIN_SIZE}, '
                         f'got {size}.')
    if num_frames < _MIN_FRAMES:
        raise ValueError(f'num_frames must be >= {_MIN_FRAMES}, '
                         f'got {num_frames}.')
    if seed < 0:
        raise ValueError(f'seed must be >= 0, got {seed}.')


def make_toy_dataset(out_dir: str,
                     num_train_per_class: int = 40,
                     num_val_per_class: int = 10,
                     size: int = 32,
                     num_frames: int = 16,
                     seed: int = 0) -> dict:
    """Generates the synthetic motion dataset.

    Each video is drawn from its own random generator seeded with
    ``(seed, split, pair, index)`` (``pair`` identifies the motion kind),
    so a video does not change when the number of videos per class
    changes, train and val never share a video, and the two classes of a
    pair are exactly balanced within each split: video ``index`` of
    "moving left" is video ``index`` of "moving right" played backwards
    (and so on for the other pairs). A model can therefore not tell the
    classes of a pair apart from appearance, even by memorising the
    training set. Existing files in ``out_dir`` are overwritten.

    Args:
        out_dir: Output directory (created if missing).
        num_train_per_class: Number of training videos per class.
        num_val_per_class: Number of validation videos per class.
        size: Frame height and width in pixels (a multiple of 8, >= 32,
            decodable by decord; see :func:`_check_decodable`).
        num_frames: Number of frames per video (>= 4).
        seed: Non-negative random seed.

    Returns:
        A dict with keys ``out_dir``, ``data_prefix`` (``out_dir/videos``),
        ``classes``, ``size``, ``num_frames``, ``seed``, ``ann_files``
        (split -> list file path) and ``videos`` (split -> list of dicts
        with ``filename`` relative to ``data_prefix``, ``label``,
        ``class_name``, ``shape``, colours and the per-frame ``centers``,
        ``radii`` and ``angles`` as :class:`numpy.ndarray`).

    Raises:
        TypeError: If a count, size or seed is not an int.
        ValueError: If an argument is out of range.
        RuntimeError: If a video cannot be written.
    """
    _validate(out_dir, num_train_per_class, num_val_per_class, size,
              num_frames, seed)
    _check_decodable(size, num_frames)
    out_dir = os.fspath(out_dir)
    video_root = osp.join(out_dir, 'videos')
    counts = {'train': num_train_per_class, 'val': num_val_per_class}
    num_classes = len(CLASSES)

    result = dict(
        out_dir=out_dir,
        data_prefix=video_root,
        classes=list(CLASSES),
        size=size,
        num_frames=num_frames,
        seed=seed,
        ann_files={},
        videos={},
    )
    os.makedirs(out_dir, exist_ok=True)
    for split, per_class in counts.items():
        os.makedirs(osp.join(video_root, split), exist_ok=True)
        records = []
        # Interleave classes so that any prefix of the list is balanced.
        for k in range(per_class * num_classes):
            index, label = divmod(k, num_classes)
            spec = make_video_spec(seed, split, label, index, size,
                                   num_frames)
            rel = f'{split}/{split}_{k:05d}.mp4'
            write_video(osp.join(video_root, rel), render_video(spec, size))
            record = spec.to_dict()
            record.update(centers=spec.centers, radii=spec.radii,
                          angles=spec.angles, filename=rel)
            records.append(record)
        ann_file = osp.join(out_dir, f'{split}.txt')
        with open(ann_file, 'w') as f:
            f.writelines(f"{r['filename']} {r['label']}\n" for r in records)
        result['ann_files'][split] = ann_file
        result['videos'][split] = records

    with open(osp.join(out_dir, 'classes.txt'), 'w') as f:
        f.writelines(f'{name}\n' for name in CLASSES)
    # Paths in meta.json are relative to out_dir so that the file does not
    # depend on where the dataset was generated.
    meta = dict(
        classes=list(CLASSES),
        size=size,
        num_frames=num_frames,
        seed=seed,
        data_prefix='videos',
        ann_files={split: f'{split}.txt' for split in counts},
    )
    meta['videos'] = {
        split: [dict(r, centers=np.round(r['centers'], 4).tolist(),
                     radii=np.round(r['radii'], 4).tolist(),
                     angles=np.round(r['angles'], 4).tolist())
                for r in records]
        for split, records in result['videos'].items()
    }
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f)
    return result


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Render a synthetic motion-only video dataset in '
        "MMAction2's VideoDataset format.")
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--train-per-class', type=int, default=40,
                        help='training videos per class (default: 40)')
    parser.add_argument('--val-per-class', type=int, default=10,
                        help='validation videos per class (default: 10)')
    parser.add_argument('--size', type=int, default=32,
                        help='frame height and width in pixels (default: 32)')
    parser.add_argument('--frames', type=int, default=16,
                        help='frames per video (default: 16)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed (default: 0)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point."""
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        result = make_toy_dataset(
            args.out_dir,
            num_train_per_class=args.train_per_class,
            num_val_per_class=args.val_per_class,
            size=args.size,
            num_frames=args.frames,
            seed=args.seed)
    except (TypeError, ValueError) as e:
        sys.exit(f'error: {e}')
    n_train = len(result['videos']['train'])
    n_val = len(result['videos']['val'])
    print(f'Wrote {n_train} train + {n_val} val videos '
          f'({len(CLASSES)} classes, {args.frames} frames of '
          f'{args.size}x{args.size}) to {args.out_dir} '
          f'in {time.perf_counter() - start:.1f}s')


if __name__ == '__main__':
    main()
