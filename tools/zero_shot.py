"""Which of these labels fits my video? Zero-shot recognition with X-CLIP.

    python tools/zero_shot.py demo.mp4 more/*.mp4 --checkpoint k400_32_8.pth \
        --labels "playing guitar,riding a bike,swimming" --out-dir vis/

prints each video's ranked table as soon as the video is done and, with
``--out-dir``, writes ``vis/demo.mp4.png``: the frames the model saw (one row
per clip) with the top labels and their probabilities. Pictures mirror the
videos' folders below their common folder, so no two videos share one. A
video that cannot be read is reported on stderr with its path and what is
wrong, and the run goes on; the exit status is 1 if any video failed. The
checkpoint may be any format :func:`mmxclip.apis.init_xclip` reads;
``--num-frames T`` runs it at T frames per clip (MIT's temporal table
interpolated). ``--class-texts FILE`` (YAML or JSON, ``{label: [text,
...]}``) scores a label by several texts, their embeddings ensembled
(:class:`mmxclip.models.XCLIPTextHead`); labels it does not list keep their
own text. ``--precision`` (default
``auto``) picks the numerics (docs/precision.md).
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

import numpy as np
from mmengine.utils import ProgressBar

from mmxclip.apis import Recognition, init_xclip, read_frames, recognize
from mmxclip.apis.outputs import mirrored_paths
from mmxclip.cli import (add_label_args, add_model_args, exit_on_bad_input,
                         positive_int, read_labels)
from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.video_gate import decode_budget


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line; the labels end up in ``labels``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('videos', nargs='+', help='video files')
    add_model_args(parser)
    add_label_args(parser)
    parser.add_argument('--topk', type=positive_int, default=5)
    parser.add_argument('--out-dir', help='where to write one .png per video')
    args = parser.parse_args(argv)
    args.labels = read_labels(args, parser)
    return args


def draw(frames: np.ndarray, result: Recognition, title: str,
         path: str) -> None:
    """The clips' frames in rows above a bar chart of the top labels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    clips, n = frames.shape[:2]
    fig = plt.figure(figsize=(max(1.5 * n, 8), 1.5 * clips + 3))
    grid = fig.add_gridspec(clips + 1, n, height_ratios=(1, ) * clips +
                            (max(1.0, 0.3 * len(result.ranking)), ))
    for c in range(clips):
        for t in range(n):
            ax = fig.add_subplot(grid[c, t])
            ax.imshow(frames[c, t])
            ax.set_title(f'frame {result.frame_inds[c, t]}', fontsize=7)
            ax.axis('off')
    ax = fig.add_subplot(grid[clips, :])
    labels = [name for name, _ in result.ranking][::-1]
    probs = [p for _, p in result.ranking][::-1]
    bars = ax.barh(labels, probs, color='tab:blue')
    ax.bar_label(bars, labels=[f'{p:.1%}' for p in probs], padding=3)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel('probability')
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_table(video: str, result: Recognition) -> str:
    """A ranked text table."""
    width = max(len(name) for name, _ in result.ranking)
    lines = [video, f'  rank  {"label":<{width}}  probability']
    lines += [f'  {i:>4}  {name:<{width}}  {p:>11.4f}'
              for i, (name, p) in enumerate(result.ranking, 1)]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Rank the labels for each video; the exit status (1: some failed)."""
    args = parse_args(argv)
    with exit_on_bad_input():
        model = init_xclip(args.checkpoint, args.labels, args.device,
                           args.num_clips, args.num_crops, args.num_frames,
                           args.class_texts, args.precision)
    pictures = (mirrored_paths(args.videos, args.out_dir, '.png')
                if args.out_dir else [None] * len(args.videos))
    # The bar goes to stderr, so stdout holds exactly the tables.
    bar = (ProgressBar(len(args.videos), file=sys.stderr)
           if len(args.videos) > 1 else None)
    failed = []
    for video, picture in zip(args.videos, pictures):
        try:
            with decode_budget(*args.decode_budget):
                result = recognize(model, video, topk=args.topk)
                frames = (read_frames(video, result.frame_inds)
                          if picture else None)
        except BrokenVideoError as err:
            failed.append(video)
            print(f'\nfailed: {err}', file=sys.stderr, flush=True)
        else:
            print(format_table(video, result) + '\n', flush=True)
            if picture:
                draw(frames, result, osp.basename(video), picture)
        if bar:
            bar.update()
    if failed:
        print(f'\n{len(failed)} of {len(args.videos)} videos failed: '
              f'{", ".join(failed)}', file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
