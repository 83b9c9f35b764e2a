#!/usr/bin/env python
"""Render the synthetic motion-only video dataset
(:mod:`mmxclip.datasets.toy`: 8 classes that only motion tells apart) in
MMAction2's ``VideoDataset`` format.

Example:
    $ python tools/data/make_toy_dataset.py data/toy   # 150 + 10 per class
    $ python tools/data/make_toy_dataset.py data/toy --long-video

The second writes only ``data/toy/long_val.mp4``: a validation video of each
class back to back (the same frames as the dataset's ``val/val_0000L.mp4``
for the same seed, size and frames), and its ground truth
``data/toy/long_val.json`` (class and time span of each), for
``tools/timeline.py``.
"""
import argparse
import sys
import time
from typing import Optional, Sequence

from mmxclip.datasets.toy import (CLASSES, TRAIN_PER_CLASS, VAL_PER_CLASS,
                                  make_long_video, make_toy_dataset)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parses command-line arguments."""
    parser = argparse.ArgumentParser(
        description='Render a synthetic motion-only video dataset in '
        "MMAction2's VideoDataset format.")
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument('--train-per-class', type=int,
                        default=TRAIN_PER_CLASS,
                        help='training videos per class (default: '
                        f'{TRAIN_PER_CLASS}, what configs/xclip_toy.py is '
                        'made for)')
    parser.add_argument('--val-per-class', type=int, default=VAL_PER_CLASS,
                        help='validation videos per class (default: '
                        f'{VAL_PER_CLASS})')
    parser.add_argument('--size', type=int, default=32,
                        help='frame height and width in pixels (default: 32)')
    parser.add_argument('--frames', type=int, default=16,
                        help='frames per video (default: 16)')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed (default: 0)')
    parser.add_argument('--class-folders', action='store_true',
                        help='write videos/<class>/<split>_*.mp4 (a source '
                        'for tools/data/build_dataset.py)')
    parser.add_argument('--long-video', action='store_true',
                        help='write only OUT_DIR/long_val.mp4, a validation '
                        'video of each class back to back, and its ground '
                        'truth OUT_DIR/long_val.json (not the dataset)')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point."""
    args = parse_args(argv)
    start = time.perf_counter()
    if args.long_video:
        try:
            long = make_long_video(args.out_dir, size=args.size,
                                   num_frames=args.frames, seed=args.seed)
        except (TypeError, ValueError) as e:
            sys.exit(f'error: {e}')
        print(f'Wrote {long["video"]}: '
              + ', '.join(s['class_name'] for s in long['segments'])
              + f' ({args.frames} frames each at {long["fps"]} fps)')
        return
    try:
        result = make_toy_dataset(
            args.out_dir,
            num_train_per_class=args.train_per_class,
            num_val_per_class=args.val_per_class,
            size=args.size,
            num_frames=args.frames,
            seed=args.seed,
            class_folders=args.class_folders)
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
