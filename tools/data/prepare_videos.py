#!/usr/bin/env python
"""Re-encode a video dataset once for fast training (short side, short GOP).

    python tools/data/prepare_videos.py data/kinetics400/videos_train \
        data/kinetics400_256/videos_train --workers 8

writes every video of IN_DIR (``*.mp4 *.m4v *.mov *.mkv *.webm *.avi
*.flv``) to the same relative path under OUT_DIR: H.264 at short side 256
(``--short-side 384`` for the 336 px configs, whose pipelines resize to
384), a keyframe at least every 16 frames, every frame and timestamp kept.
Point ``data_prefix`` at OUT_DIR; the annotation lists stay as they are.
What is kept and what changes: :mod:`mmxclip.datasets.prepare`.

Run it again to resume: finished videos are skipped (each is written under
``NAME.partial.EXT`` and renamed when complete). Linked folders are
read; OUT_DIR may lie inside IN_DIR (it is not read as input). Videos that
cannot be read are listed by path at the end and skipped; the exit code is
1 if any failed, 0 otherwise.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

from mmxclip.datasets.prepare import (DEFAULT_CRF, DEFAULT_TUNE, find_videos,
                                      prepare_videos)

# x264's tunes (``x264 --fullhelp``), and none.
X264_TUNES = ('none', 'fastdecode', 'film', 'animation', 'grain', 'stillimage',
              'psnr', 'ssim', 'zerolatency')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_dir', help='dataset folder of the source videos')
    parser.add_argument('out_dir', help='folder for the re-encoded videos')
    parser.add_argument('--short-side', type=int, default=256,
                        help='short side of the output (never upscaled; '
                        'default 256)')
    parser.add_argument('--gop', type=int, default=16,
                        help='maximum frames between keyframes (default 16)')
    parser.add_argument('--crf', type=int, default=DEFAULT_CRF,
                        help='x264 quality, lower is better and larger '
                        f'(default {DEFAULT_CRF})')
    parser.add_argument('--preset', default='medium',
                        help='x264 preset (default medium)')
    parser.add_argument('--tune', default=DEFAULT_TUNE, choices=X264_TUNES,
                        help=f"x264 tune, 'none' for none (default "
                        f'{DEFAULT_TUNE}: decodes ~1.6x faster)')
    parser.add_argument('--workers', type=int, default=1,
                        help='parallel processes (default 1)')
    args = parser.parse_args(argv)
    if args.short_side < 2 or args.short_side % 2:
        parser.error(f'--short-side must be even and >= 2 (H.264 4:2:0), '
                     f'got {args.short_side}')
    if args.gop < 1:
        parser.error(f'--gop must be >= 1, got {args.gop}')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Re-encode as the command line says; the exit code (0 or 1)."""
    args = parse_args(argv)
    videos, others = find_videos(args.in_dir, exclude=args.out_dir)
    inside = osp.relpath(osp.realpath(args.out_dir),
                         osp.realpath(args.in_dir))
    if not inside.startswith(os.pardir) and inside != os.curdir:
        print(f'OUT_DIR is inside IN_DIR: {inside}/ is not read as input',
              file=sys.stderr)
    if not videos:
        print(f'no videos under {args.in_dir}', file=sys.stderr)
        return 1
    results = prepare_videos(
        args.in_dir, args.out_dir, videos, workers=args.workers,
        short_side=args.short_side, gop=args.gop, crf=args.crf,
        preset=args.preset,
        tune=None if args.tune == 'none' else args.tune)
    count = {s: [r for r in results if r.status == s]
             for s in ('done', 'skipped', 'failed')}
    ok = count['done'] + count['skipped']
    before = sum(r.in_bytes for r in ok)
    after = sum(r.out_bytes for r in ok)
    print(f'\n{len(count["done"])} re-encoded, {len(count["skipped"])} '
          f'already complete, {len(count["failed"])} failed; '
          f'{before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB'
          + (f' ({after / before:.1%})' if before else ''))
    if others:
        print(f'{len(others)} other files not copied (not videos), e.g. '
              + ', '.join(others[:5]))
    for r in count['failed']:
        print(f'FAILED {r.path}: {r.reason}', file=sys.stderr)
    return 1 if count['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
