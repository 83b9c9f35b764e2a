"""What happens when in a long video: labels scored over sliding windows.

    python tools/timeline.py match.mp4 --checkpoint k400_32_8.pth \
        --labels "running,kicking a ball,celebrating" --window 2 --stride 1 \
        --out-json match.json --out-png match.png
    ffmpeg -i rtsp://camera -c copy -f mpegts - | \
        python tools/timeline.py - --checkpoint ... --labels ...

reads the video once (``-``: standard input, in a container that needs no
seeking, e.g. MPEG-TS or Matroska), scores the labels on a window of
``--window`` seconds every ``--stride`` seconds, sampled as the model's test
pipeline samples a clip, and prints the segments (runs of windows with one
label on top, or below ``--threshold``: none) as a table. ``--out-json``
writes the labels, every window (start, end, frame indices, scores) and the
segments; ``--out-png`` a picture of the top labels' probability over time
above a strip of frames, the segments marked. A video that cannot be read is
a message and exit status 1; a stream that ends early keeps what was scored
(printed and written) and exits with 1.
"""
import argparse
import io
import json
import sys
from typing import List, Optional, Sequence

import numpy as np

from mmxclip.apis import init_xclip
from mmxclip.apis.timeline import Timeline, timeline
from mmxclip.cli import (add_label_args, add_model_args, exit_on_bad_input,
                         positive_float, positive_int, read_labels)
from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.video_gate import decode_budget
from mmxclip.engine.atomic_io import atomic_write


def probability(text: str) -> float:
    """argparse type: a number in (0, 1]."""
    value = positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(
            f'expected a probability in (0, 1], got {text!r}')
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the command line; the labels end up in ``labels``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('video', help="a video file, or '-' for standard "
                        'input')
    add_model_args(parser)
    add_label_args(parser)
    parser.add_argument('--window', type=positive_float, default=2.0,
                        help='window length in seconds (default: 2)')
    parser.add_argument('--stride', type=positive_float, default=1.0,
                        help='seconds between window starts (default: 1)')
    parser.add_argument('--threshold', type=probability,
                        help='a window whose top probability is below this '
                        'is labelled none')
    parser.add_argument('--batch-size', type=positive_int, default=8,
                        help='windows per model call')
    parser.add_argument('--out-json', help='where to write the timeline')
    parser.add_argument('--out-png', help='where to draw the timeline')
    parser.add_argument('--top', type=positive_int, default=5,
                        help='labels drawn in the picture (default: 5)')
    args = parser.parse_args(argv)
    args.labels = read_labels(args, parser)
    return args


def format_table(video: str, result: Timeline) -> str:
    """The segments as a text table."""
    names = [s.label or 'none' for s in result.segments]
    width = max(len('label'), *map(len, names))
    lines = [f'{video}: {len(result.windows)} windows, {result.frames} '
             f'frames at {result.fps:g} fps',
             f'  {"start":>8}  {"end":>8}  {"label":<{width}}  score']
    lines += [f'  {s.start:>8.2f}  {s.end:>8.2f}  {name:<{width}}  '
              f'{s.score:.3f}' for s, name in zip(result.segments, names)]
    return '\n'.join(lines)


def top_labels(result: Timeline, count: int) -> List[int]:
    """The labels to draw: every segment's, then those of highest mean
    probability up to ``count``."""
    index = {name: i for i, name in enumerate(result.labels)}
    chosen = list(dict.fromkeys(index[s.label] for s in result.segments
                                if s.label is not None))
    for i in np.argsort(-result.scores.mean(axis=0)).tolist():
        if len(chosen) >= count:
            break
        if i not in chosen:
            chosen.append(i)
    return chosen


def draw(result: Timeline, title: str, count: int,
         threshold: Optional[float] = None) -> bytes:
    """The top labels' probability over time (at the windows' centres)
    above a strip of frames, segments shaded in their label's colour, the
    threshold dashed; a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    end = result.windows[-1].end
    fig, (curves, strip) = plt.subplots(
        2, 1, figsize=(12, 5.5), sharex=True,
        gridspec_kw=dict(height_ratios=(3, 1)))
    colours = {}
    centres = [(w.start + w.end) / 2 for w in result.windows]
    for n, i in enumerate(top_labels(result, count)):
        line, = curves.plot(centres, result.scores[:, i], marker='.',
                            label=result.labels[i], color=f'C{n % 10}')
        colours[result.labels[i]] = line.get_color()
    for s in result.segments:
        colour = colours.get(s.label, 'lightgrey')
        curves.axvspan(s.start, s.end, color=colour, alpha=0.15, lw=0)
        curves.text((s.start + s.end) / 2, 1.02, s.label or 'none',
                    ha='center', va='bottom', fontsize=7, rotation=20,
                    color=colour if s.label else 'grey', clip_on=False)
        curves.axvline(s.start, color='black', lw=0.5, alpha=0.4)
    if threshold is not None:
        curves.axhline(threshold, color='grey', ls='--', lw=1)
    curves.set_ylim(0, 1)
    curves.set_ylabel('probability')
    curves.legend(fontsize=8, loc='upper right', framealpha=0.8)
    half = 0.45 * end / max(len(result.thumbnails), 1)
    for time, image in result.thumbnails:
        strip.imshow(image, extent=(time - half, time + half, 0, 1),
                     aspect='auto')
    strip.set_xlim(0, end)
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    strip.set_xlabel('time (s)')
    fig.suptitle(title, y=0.995)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format='png', dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Score the windows, print the segments, write the files; the exit
    status (1: the video could not be read, or only in part)."""
    args = parse_args(argv)
    with exit_on_bad_input():
        model = init_xclip(args.checkpoint, args.labels, args.device,
                           args.num_clips, args.num_crops, args.num_frames,
                           args.class_texts, args.precision)
    video = sys.stdin.buffer if args.video == '-' else args.video
    name = '<stdin>' if args.video == '-' else args.video
    try:
        with decode_budget(*args.decode_budget):
            result = timeline(model, video, window=args.window,
                              stride=args.stride, threshold=args.threshold,
                              batch_size=args.batch_size, progress=True,
                              thumbnails=12 if args.out_png else 0,
                              name=name)
    except (BrokenVideoError, ValueError) as err:
        print(f'\nfailed: {err}', file=sys.stderr, flush=True)
        return 1
    print('\n' + format_table(name, result), flush=True)
    if args.out_json:
        data = dict(result.to_json(), video=name, window=args.window,
                    stride=args.stride, threshold=args.threshold)
        atomic_write(json.dumps(data).encode(), args.out_json)
    if args.out_png:
        atomic_write(draw(result, name, args.top, args.threshold),
                     args.out_png)
    for note in result.notes:
        print(note, file=sys.stderr, flush=True)
    return 0 if result.complete else 1


if __name__ == '__main__':
    sys.exit(main())
