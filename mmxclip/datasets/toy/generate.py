"""The synthetic motion dataset: every video of both splits rendered, in
MMAction2's ``VideoDataset`` format::

    OUT/
      classes.txt          # one class name per line, in label order
      train.txt            # "train/train_00000.mp4 LABEL" per line
      val.txt              # "val/val_00000.mp4 LABEL" per line
      meta.json            # generation parameters and per-video trajectories
      videos/
        train/*.mp4
        val/*.mp4

Paths in the list files are relative to ``OUT/videos``, so a config uses e.g.
``ann_file='OUT/train.txt', data_prefix=dict(video='OUT/videos')``. With
``class_folders=True`` the videos are ``OUT/videos/<class>/<split>_*.mp4``
instead (the class name with ``_`` for spaces: a class-folder source for
``tools/data/build_dataset.py``), the lists pointing there. The
generated splits are balanced exactly, not just in distribution: every video
of one class of a pair has a time-reversed twin in the other class.
"""
import json
import os
import os.path as osp

import numpy as np

from ...engine.atomic_io import atomic_write
from .render import FPS, _check_decodable, render_video, write_video
from .spec import CLASSES, make_video_spec

# The size configs/xclip_toy.py's schedule is made for (1200 training
# videos; its top-1 is in docs/performance.md), and the validation split.
TRAIN_PER_CLASS = 150
VAL_PER_CLASS = 10
# The long video of make_long_video and its ground truth, in the output dir.
LONG_VIDEO = 'long_val.mp4'
LONG_TRUTH = 'long_val.json'
_MIN_SIZE = 32
_MIN_FRAMES = 4


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
                     num_train_per_class: int = TRAIN_PER_CLASS,
                     num_val_per_class: int = VAL_PER_CLASS,
                     size: int = 32,
                     num_frames: int = 16,
                     seed: int = 0,
                     class_folders: bool = False) -> dict:
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
        class_folders: Write each video into its class's folder.

    Returns:
        A dict with keys ``out_dir``, ``data_prefix`` (``out_dir/videos``),
        ``classes``, ``size``, ``num_frames``, ``seed``, ``ann_files``
        (split -> list file path) and ``videos`` (split -> list of dicts
        with ``filename`` relative to ``data_prefix``, ``label``,
        ``class_name``, ``shape``, colours, the ``angle`` and the per-frame
        ``centers`` and ``radii`` as :class:`numpy.ndarray`).

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
    folders = ([name.replace(' ', '_') for name in CLASSES] if class_folders
               else list(counts))
    for folder in folders:
        os.makedirs(osp.join(video_root, folder), exist_ok=True)
    for split, per_class in counts.items():
        records = []
        # Interleave classes so that any prefix of the list is balanced.
        for k in range(per_class * num_classes):
            index, label = divmod(k, num_classes)
            spec = make_video_spec(seed, split, label, index, size,
                                   num_frames)
            folder = folders[label] if class_folders else split
            rel = f'{folder}/{split}_{k:05d}.mp4'
            write_video(osp.join(video_root, rel), render_video(spec, size))
            record = spec.to_dict()
            record.update(centers=spec.centers, radii=spec.radii,
                          filename=rel)
            records.append(record)
        ann_file = osp.join(out_dir, f'{split}.txt')
        atomic_write(''.join(f"{r['filename']} {r['label']}\n"
                             for r in records).encode(), ann_file)
        result['ann_files'][split] = ann_file
        result['videos'][split] = records

    atomic_write(''.join(f'{name}\n' for name in CLASSES).encode(),
                 osp.join(out_dir, 'classes.txt'))
    # Paths in meta.json are relative to out_dir so that the file does not
    # depend on where the dataset was generated.
    meta = dict(
        classes=list(CLASSES),
        size=size,
        num_frames=num_frames,
        seed=seed,
        data_prefix='videos',
        class_folders=class_folders,
        ann_files={split: f'{split}.txt' for split in counts},
    )
    meta['videos'] = {
        split: [dict(r, centers=np.round(r['centers'], 4).tolist(),
                     radii=np.round(r['radii'], 4).tolist())
                for r in records]
        for split, records in result['videos'].items()
    }
    atomic_write(json.dumps(meta).encode(), osp.join(out_dir, 'meta.json'))
    return result


def make_long_video(out_dir: str,
                    size: int = 32,
                    num_frames: int = 16,
                    seed: int = 0) -> dict:
    """One long video of validation videos of every class, back to back.

    Video 0 of each class of the validation split (``val/val_0000L.mp4``
    of :func:`make_toy_dataset` with the same arguments: the same frames)
    in an order drawn from ``seed``, written as ``out_dir/long_val.mp4``,
    and the class and time span of each in ``out_dir/long_val.json``:
    the ground truth of a timeline (:func:`mmxclip.apis.timeline`).

    Args:
        out_dir: Output directory (created if missing).
        size: Frame height and width (as :func:`make_toy_dataset`).
        num_frames: Frames per class, at 8 fps.
        seed: Non-negative random seed.

    Returns:
        dict: ``video`` (its path), ``fps``, and ``segments``: one dict per
        class in time order with ``label``, ``class_name``, ``start`` and
        ``end`` in seconds.

    Raises:
        TypeError: If a size or seed is not an int.
        ValueError: If an argument is out of range.
    """
    _validate(out_dir, 0, 1, size, num_frames, seed)
    _check_decodable(size, num_frames)
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(CLASSES)).tolist()
    frames = [render_video(make_video_spec(seed, 'val', label, 0, size,
                                           num_frames), size)
              for label in order]
    path = osp.join(out_dir, LONG_VIDEO)
    write_video(path, np.concatenate(frames))
    seconds = num_frames / FPS
    truth = dict(video=LONG_VIDEO, fps=FPS, segments=[
        dict(label=label, class_name=CLASSES[label], start=i * seconds,
             end=(i + 1) * seconds) for i, label in enumerate(order)])
    atomic_write(json.dumps(truth, indent=1).encode(),
                 osp.join(out_dir, LONG_TRUTH))
    return dict(truth, video=path)
