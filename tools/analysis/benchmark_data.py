#!/usr/bin/env python
"""Videos/s of the data pipelines on raw and prepared videos.

Renders K400-like clips (real H.264 from PyAV's libx264: 10 s, 30 fps, one
keyframe per 250 frames, textured content that pans and moving shapes, so
the codec does real work) at 1920x1080, 1280x720 and 340x256, re-encodes
them with :func:`mmxclip.datasets.prepare.prepare_video` (the pipelines'
short side, a keyframe every 16 frames) and times each config's
train / val / test pipeline through the real dataset class
(``RobustVideoDataset``, decord, MMAction2's transforms) on both:

* ``1 proc``: ``dataset[i]`` in this process, pinned to one core, one
  thread everywhere (decord, OpenCV, torch): videos/s per worker.
* ``N workers``: a torch ``DataLoader`` with N worker processes.

Each row checks that raw and prepared give clips of the same shape. The
clips are cached in ``--work-dir``. ``--profile N`` then profiles the
prepared clip's samples (cProfile, the N functions of most own time) and
times the video gate's share: the container probe and the deadline checks
against the whole sample. Examples::

    python tools/analysis/benchmark_data.py          # B/16 8f, all pipelines
    python tools/analysis/benchmark_data.py --pipelines train \
        --configs configs/xclip_b16_16f_k400.py \
        configs/xclip_l14_336_16f_k400.py
    python tools/analysis/benchmark_data.py --pipelines train --sizes 1080p \
        --workers 1 2 4
    python tools/analysis/benchmark_data.py --quick  # tiny clips, seconds
    python tools/analysis/benchmark_data.py --pipelines train \
        --sizes 1080p --profile 15
"""
import argparse
import contextlib
import os
import os.path as osp
import sys
import time
from typing import Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

import numpy as np

import mmxclip  # noqa: F401  (stack fixes, registries)
from mmxclip.datasets.prepare import prepare_video

SIZES = {'1080p': (1920, 1080), '720p': (1280, 720), '256p': (340, 256)}
QUICK_SIZES = {'quick': (128, 96)}
PIPELINES = ('train', 'val', 'test')
COLUMNS = ['config', 'pipeline', 'video', 'workers', 'raw vid/s',
           'prepared vid/s', 'speed-up', 'clip shape (raw = prepared)']


def synthetic_clip(path: str, width: int, height: int, seconds: float = 10.,
                   fps: int = 30, gop: int = 250, seed: int = 0) -> str:
    """Write a textured moving H.264 clip (libx264, yuv420p) to ``path``.

    A multi-scale random texture pans across the frame, three shapes move
    over it and a little sensor noise changes every frame: what camera
    footage makes a codec do (motion search, residuals), unlike flat
    synthetic frames.

    Args:
        path: Output ``.mp4``.
        width: Frame width (even).
        height: Frame height (even).
        seconds: Duration.
        fps: Frame rate.
        gop: Frames between keyframes (x264's default is 250).
        seed: Seed of the texture, motion and noise.

    Returns:
        str: ``path``.
    """
    import av
    import cv2
    rng = np.random.default_rng(seed)
    frames = int(round(seconds * fps))
    pan = 2 * frames
    tex = np.zeros((height + pan, width + pan, 3), np.float32)
    for scale in (4, 16, 64):  # octaves of upsampled noise
        small = rng.random(((height + pan) // scale + 2,
                            (width + pan) // scale + 2, 3), np.float32)
        tex += cv2.resize(small, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_CUBIC)[:height + pan,
                                                         :width + pan]
    tex = (tex - tex.min()) / (tex.max() - tex.min()) * 220
    noise = rng.normal(0, 3, (4, height, width, 3)).astype(np.float32)
    shapes = rng.random((3, 4))  # x, y, vx, vy in frame units
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    with av.open(path, 'w') as out:
        enc = out.add_stream('libx264', rate=fps)
        enc.width, enc.height, enc.pix_fmt = width, height, 'yuv420p'
        enc.codec_context.gop_size = gop
        enc.options = {'preset': 'veryfast', 'crf': '23'}
        for t in range(frames):
            img = tex[t:t + height, 2 * t:2 * t + width] + noise[t % 4]
            img = np.clip(img, 0, 255).astype(np.uint8)
            for i, (x, y, vx, vy) in enumerate(shapes):
                cx = int((x + vx * t / frames) % 1 * width)
                cy = int((y + vy * t / frames) % 1 * height)
                cv2.circle(img, (cx, cy), max(2, height // (6 + 2 * i)),
                           (255, 64 * i, 255 - 80 * i), -1)
            out.mux(enc.encode(av.VideoFrame.from_ndarray(img, 'rgb24')))
        out.mux(enc.encode())
    return path


def pipeline_short_side(pipeline: Sequence[dict]) -> int:
    """The short side of the first ``Resize(scale=(-1, S))`` of a pipeline
    (what a prepared video needs: the pipelines never see larger)."""
    for t in pipeline:
        if t['type'] == 'Resize' and tuple(t['scale'])[0] == -1:
            return int(t['scale'][1])
    raise ValueError('the pipeline has no Resize(scale=(-1, S))')


def build_dataset(video: str, pipeline: Sequence[dict], repeats: int,
                  test_mode: bool, ann_dir: str):
    """``RobustVideoDataset`` listing ``video`` ``repeats`` times."""
    from mmaction.registry import DATASETS
    ann = osp.join(ann_dir, f'{osp.basename(video)}.{repeats}.txt')
    with open(ann, 'w') as f:
        f.write(f'{osp.basename(video)} 0\n' * repeats)
    return DATASETS.build(dict(
        type='RobustVideoDataset', ann_file=ann,
        data_prefix=dict(video=osp.dirname(video)),
        pipeline=list(pipeline), test_mode=test_mode))


@contextlib.contextmanager
def one_core() -> Iterator[None]:
    """This process pinned to one core inside the block."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, cores)


def time_in_process(dataset, videos: int) -> Tuple[float, tuple]:
    """Videos/s of ``dataset[i]`` on one core, and the clip shape."""
    with one_core():
        shape = tuple(dataset[0]['inputs'].shape)  # warm-up
        start = time.perf_counter()
        for i in range(videos):
            dataset[i]
        return videos / (time.perf_counter() - start), shape


def profile(dataset, videos: int, top: int, out: TextIO) -> None:
    """cProfile of ``videos`` samples on one core (the ``top`` functions by
    own time), then the video gate's cost per sample: its container probe
    and its deadline checks, against the whole sample."""
    import cProfile
    import pstats

    from mmxclip.datasets import video_gate
    prof = cProfile.Profile()
    with one_core():
        dataset[0]  # warm-up
        start = time.perf_counter()
        for i in range(videos):
            dataset[i]
        sample = (time.perf_counter() - start) / videos
        prof.enable()
        for i in range(videos):
            dataset[i]
        prof.disable()
        pstats.Stats(prof, stream=out).sort_stats('tottime').print_stats(top)
        path = dataset.get_data_info(0)['filename']
        start = time.perf_counter()
        for _ in range(100):
            video_gate.probe_container(path)
        probe = (time.perf_counter() - start) / 100
        deadline = video_gate.Deadline(path, osp.getsize(path))
        start = time.perf_counter()
        for _ in range(10000):
            deadline.check()
        check = (time.perf_counter() - start) / 10000
    calls = [0]
    real = video_gate.Deadline.check

    def counting(self):
        calls[0] += 1
        real(self)

    video_gate.Deadline.check = counting
    try:
        dataset[0]
    finally:
        video_gate.Deadline.check = real
    gate = probe + calls[0] * check
    print(f'\nthe gate per sample of {osp.basename(path)}: probe '
          f'{probe * 1e3:.3f} ms + {calls[0]} deadline checks x '
          f'{check * 1e6:.2f} us = {gate * 1e3:.2f} ms of a '
          f'{sample * 1e3:.1f} ms sample ({100 * gate / sample:.1f} %)',
          file=out)


def time_loader(dataset, videos: int, workers: int) -> float:
    """Videos/s of a ``DataLoader`` with ``workers`` processes (timed after
    each worker delivered its first video)."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    loader = DataLoader(dataset, batch_size=1, num_workers=workers,
                        collate_fn=pseudo_collate)
    it = iter(loader)
    for _ in range(workers):
        next(it)
    start = time.perf_counter()
    for _ in range(videos):
        next(it)
    return videos / (time.perf_counter() - start)


def prepare_clips(work_dir: str, sizes: Dict[str, Tuple[int, int]],
                  short_sides: Sequence[int],
                  seconds: float) -> Dict[str, Dict[str, str]]:
    """Raw clips and their prepared versions (cached), by size name:
    ``{'raw': path, <short side>: path, ...}``."""
    clips = {}
    for name, (w, h) in sizes.items():
        raw = osp.join(work_dir, 'raw', f'{name}.mp4')
        if not osp.isfile(raw):
            synthetic_clip(raw, w, h, seconds)
        clips[name] = {'raw': raw}
        for side in short_sides:
            out_dir = osp.join(work_dir, f'prepared_{side}')
            result = prepare_video(osp.dirname(raw), out_dir,
                                   osp.basename(raw), short_side=side)
            if result.status == 'failed':
                raise RuntimeError(f'{raw}: {result.reason}')
            clips[name][side] = osp.join(out_dir, osp.basename(raw))
    return clips


def run(configs: Sequence[str], pipelines: Sequence[str],
        sizes: Dict[str, Tuple[int, int]], videos: int,
        workers: Sequence[int], work_dir: str,
        seconds: float = 10.) -> List[dict]:
    """Measure every (config, pipeline, size, workers); one dict per row."""
    import cv2
    import torch
    from mmengine.config import Config
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    cfgs = {c: Config.fromfile(c) for c in configs}
    pipes = {(c, p): cfgs[c][f'{p}_pipeline'] for c in configs
             for p in pipelines}
    sides = {k: pipeline_short_side(v) for k, v in pipes.items()}
    clips = prepare_clips(work_dir, sizes, sorted(set(sides.values())),
                          seconds)
    ann_dir = osp.join(work_dir, 'ann')
    os.makedirs(ann_dir, exist_ok=True)
    rows = []
    repeats = videos + max(workers)  # the loaders' warm-up videos too
    for (config, pipe), pipeline in pipes.items():
        for name in sizes:
            sets = {kind: build_dataset(clips[name][key], pipeline, repeats,
                                        pipe != 'train', ann_dir)
                    for kind, key in (('raw', 'raw'),
                                      ('prepared', sides[config, pipe]))}
            for n in workers:
                row = dict(config=osp.basename(config), pipeline=pipe,
                           video=name, workers=n)
                for kind, dataset in sets.items():
                    if n == 0:
                        row[kind], row[f'{kind} shape'] = time_in_process(
                            dataset, videos)
                    else:
                        row[kind] = time_loader(dataset, videos, n)
                rows.append(row)
    return rows


def format_table(rows: Sequence[dict]) -> str:
    """The rows as a markdown table of :data:`COLUMNS`."""
    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '|' + '---|' * len(COLUMNS)]
    for r in rows:
        shape = '–'
        if 'raw shape' in r:
            same = r['raw shape'] == r['prepared shape']
            shape = (f"{r['raw shape']}" if same else
                     f"DIFFERENT: {r['raw shape']} vs {r['prepared shape']}")
        lines.append('| ' + ' | '.join([
            r['config'], r['pipeline'], r['video'],
            '1 proc, 1 core' if r['workers'] == 0 else str(r['workers']),
            f"{r['raw']:.2f}", f"{r['prepared']:.2f}",
            f"{r['prepared'] / r['raw']:.1f}x", shape]) + ' |')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+',
                        default=['configs/xclip_b16_k400.py'])
    parser.add_argument('--pipelines', nargs='+', choices=PIPELINES,
                        default=list(PIPELINES))
    parser.add_argument('--sizes', nargs='+', choices=list(SIZES),
                        default=list(SIZES))
    parser.add_argument('--videos', type=int, default=8,
                        help='timed videos per measurement (default 8)')
    parser.add_argument('--workers', type=int, nargs='+', default=[0],
                        help='0: in this process on one core; N: a '
                        'DataLoader with N workers (default 0)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_data',
                        help='where the clips are cached')
    parser.add_argument('--quick', action='store_true',
                        help='tiny 2 s clips, 2 videos: checks the tool')
    parser.add_argument('--profile', type=int, metavar='N',
                        help="then profile the first row's prepared clip "
                        "(N functions) and time the video gate's share")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None,
         out: TextIO = sys.stdout) -> List[dict]:
    """Run the benchmark, print the table; the rows."""
    args = parse_args(argv)
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    if args.quick:
        sizes, videos, seconds = QUICK_SIZES, 2, 2.
    else:
        sizes = {k: SIZES[k] for k in args.sizes}
        videos, seconds = args.videos, 10.
    rows = run(args.configs, args.pipelines, sizes, videos, args.workers,
               args.work_dir, seconds)
    load = os.getloadavg()
    print(format_table(rows), file=out)
    print(f'\n{os.cpu_count()} cores, load average {load[0]:.2f} / '
          f'{load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)', file=out)
    if args.profile:
        from mmengine.config import Config
        config, pipe, size = args.configs[0], args.pipelines[0], next(
            iter(sizes))
        pipeline = Config.fromfile(config)[f'{pipe}_pipeline']
        side = pipeline_short_side(pipeline)
        clip = prepare_clips(args.work_dir, {size: sizes[size]}, [side],
                             seconds)[size][side]
        ann_dir = osp.join(args.work_dir, 'ann')
        profile(build_dataset(clip, pipeline, videos, pipe != 'train',
                              ann_dir), videos, args.profile, out)
    return rows


if __name__ == '__main__':
    main()
