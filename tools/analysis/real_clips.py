#!/usr/bin/env python
"""Cut 20 short clips of real footage from the videos of an MMAction2
checkout, for benchmarks that want real videos (no dataset here).

    python tools/analysis/real_clips.py ../mmaction2 work_dirs/real_clips

Each video of :data:`PLAN` (its ``demo/``, ``tests/data/`` and
``tools/data/skeleton/`` videos) is decoded through the video gate (its
container probe and decode budget) and cut into that many equal runs of
frames, each re-encoded as H.264 (crf 12, so the clip is the footage, not
new artefacts) at short side at most 480, ``NAME_EXT_I.mp4``.
``precision_quality.py`` ranks them (docs/performance.md, "Inference
precisions").
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

import av

from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.prepare import output_size
from mmxclip.datasets.video_gate import Deadline, open_container

# MMAction2's videos (paths in its repository) and clips cut from each: 20.
PLAN = {
    'demo/demo.mp4': 4,
    'tests/data/test.mp4': 3,
    'demo/test_video_structuralize.mp4': 3,
    'demo/demo_spatiotemporal_det.mp4': 2,
    'tests/data/test.avi': 2,
    'tools/data/skeleton/S001C001P001R001A001_rgb.avi': 2,
    'demo/demo_skeleton.mp4': 2,
    'tests/data/rawvideo_dataset/part_0.mp4': 2,
}


def cut(src: str, out_dir: str, count: int) -> List[str]:
    """``src`` cut into ``count`` clips in ``out_dir``; their paths."""
    deadline = Deadline(src, osp.getsize(src))
    frames = []
    with open_container(src) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate
        for packet in container.demux(stream):
            deadline.check()
            frames += packet.decode()
    size = output_size(frames[0].width, frames[0].height, 480)
    stem = osp.basename(src).replace('.', '_')
    run = len(frames) // count
    paths = []
    for i in range(count):
        path = osp.join(out_dir, f'{stem}_{i}.mp4')
        with av.open(path, 'w') as out:
            enc = out.add_stream('libx264', rate=rate)
            enc.width, enc.height = size
            enc.pix_fmt = 'yuv420p'
            enc.options = {'crf': '12'}
            for j, frame in enumerate(frames[i * run:(i + 1) * run]):
                small = frame.reformat(*size, format='yuv420p',
                                       interpolation='AREA')
                small.pts, small.time_base = j, 1 / rate  # at the source fps
                out.mux(enc.encode(small))
            out.mux(enc.encode())
        paths.append(path)
    return paths


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('mmaction2', help='a checkout of open-mmlab/mmaction2')
    parser.add_argument('out_dir')
    args = parser.parse_args(argv)
    missing = [p for p in PLAN if not osp.isfile(osp.join(args.mmaction2, p))]
    if missing:
        parser.error(f'{args.mmaction2}: not an MMAction2 checkout; missing '
                     f'{missing}')
    os.makedirs(args.out_dir, exist_ok=True)
    try:
        paths = [p for rel, n in PLAN.items()
                 for p in cut(osp.join(args.mmaction2, rel), args.out_dir, n)]
    except BrokenVideoError as err:  # the set is the plan's or nothing
        parser.exit(1, f'error: {err}\n')
    print(f'{len(paths)} clips in {args.out_dir}')
    return paths


if __name__ == '__main__':
    main()
