"""Which of these labels fits my video? Zero-shot recognition with X-CLIP.

    python tools/zero_shot.py demo.mp4 --checkpoint k400_32_8.pth \
        --labels "playing guitar,riding a bike,swimming" --out-dir vis/

prints a ranked table per video and writes ``vis/<video>.png``: the frames
the model saw with the top labels and their probabilities. The checkpoint
may be any format :func:`mmxclip.apis.init_xclip` reads.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import track_iter_progress

from mmxclip.apis import init_xclip, zero_shot
from mmxclip.models.heads import load_class_names

Ranking = List[Tuple[str, float]]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('videos', nargs='+', help='video files')
    parser.add_argument('--checkpoint', required=True,
                        help='weights in any format init_xclip reads')
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument('--labels', help='comma-separated labels')
    labels.add_argument('--label-file', help='one label per line')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--num-clips', type=int, default=1,
                        help='temporal views per video')
    parser.add_argument('--num-crops', type=int, default=1, choices=(1, 3),
                        help='spatial views per clip')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-dir', help='where to write one .png per video')
    return parser.parse_args(argv)


def sampled_frames(video: str, num_frames: int) -> np.ndarray:
    """RGB frames from the middle of ``num_frames`` equal segments, as the
    test pipeline's ``SegmentSampleFrames`` picks them for one clip.

    Returns:
        np.ndarray: (num_frames, H, W, 3) uint8.
    """
    import decord
    reader = decord.VideoReader(video)
    seg = len(reader) / num_frames
    inds = (np.arange(num_frames) * seg + seg / 2).astype(int)
    return reader.get_batch(np.minimum(inds, len(reader) - 1)).asnumpy()


def draw(frames: np.ndarray, ranking: Ranking, title: str, path: str) -> None:
    """Frames in a row above a bar chart of the top labels."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = len(frames)
    fig = plt.figure(figsize=(max(2 * n, 8), 4.5))
    grid = fig.add_gridspec(2, n, height_ratios=(1, 1))
    for i, frame in enumerate(frames):
        ax = fig.add_subplot(grid[0, i])
        ax.imshow(frame)
        ax.axis('off')
    ax = fig.add_subplot(grid[1, :])
    labels = [name for name, _ in ranking][::-1]
    probs = [p for _, p in ranking][::-1]
    bars = ax.barh(labels, probs, color='tab:blue')
    ax.bar_label(bars, labels=[f'{p:.1%}' for p in probs], padding=3)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel('probability')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_table(video: str, ranking: Ranking) -> str:
    """A ranked text table."""
    width = max(len(name) for name, _ in ranking)
    lines = [video, f'  rank  {"label":<{width}}  probability']
    lines += [f'  {i:>4}  {name:<{width}}  {p:>11.4f}'
              for i, (name, p) in enumerate(ranking, 1)]
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    labels = (load_class_names(args.labels.split(','))
              if args.labels else load_class_names(args.label_file))
    model = init_xclip(args.checkpoint, labels, args.device, args.num_clips,
                       args.num_crops)
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
    videos = (track_iter_progress(args.videos) if len(args.videos) > 1 else
              args.videos)
    tables = []
    for video in videos:
        ranking = zero_shot(model, video, topk=args.topk)
        tables.append(format_table(video, ranking))
        if args.out_dir:
            name = osp.splitext(osp.basename(video))[0]
            draw(sampled_frames(video, model.neck.num_frames), ranking,
                 osp.basename(video), osp.join(args.out_dir, f'{name}.png'))
    print('\n\n'.join(tables))


if __name__ == '__main__':
    main()
