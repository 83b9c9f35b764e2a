"""Search your own videos by text with X-CLIP.

    python tools/search_videos.py index videos/*.mp4 --checkpoint k400.pth \
        --index my_index/ [--video-list more.txt]
    python tools/search_videos.py query my_index/ "a dog catching a frisbee" \
        --topk 10

``index`` adds the videos the index does not hold yet (known paths are
skipped, so a stopped run resumes), reports each video that cannot be read
with its path and goes on (exit status 1 if any failed), and prints the time
per video. The index records its precision (``--precision``, default
``auto`` for a new index; more videos join an index in its own precision).
``query`` rebuilds the model the index records, in its precision, refuses
it if the checkpoint changed, and prints the videos ranked by X-CLIP's
score of the text: the zero-shot logit the text would get for that video
(:mod:`mmxclip.retrieval`, which also documents the index format).
"""
import argparse
import os.path as osp
import sys
import time
from typing import Optional, Sequence

from mmxclip.apis import NO_TEXT, init_xclip
from mmxclip.cli import (add_video_args, exit_on_bad_input, positive_int,
                         video_list)
from mmxclip.datasets.video_gate import decode_budget
from mmxclip.engine import WorkDirBusyError
from mmxclip.models import resolve_precision
from mmxclip.retrieval import VideoIndex, index_model, search


def parse_args(argv: Optional[Sequence[str]] = None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    commands = parser.add_subparsers(dest='command', required=True)
    add = commands.add_parser('index', help='add videos to an index')
    add_video_args(add)
    add.add_argument('--index', required=True, help='the index folder')
    add.add_argument('--shard-size', type=positive_int, default=1024,
                     help='videos per file written (what a stopped run can '
                     'lose)')
    add.set_defaults(precision=None)  # a new index: auto; else the index's
    add.add_argument('--dtype', choices=('float16', 'float32'),
                     default='float16',
                     help='visual tokens on disk (new index only)')
    query = commands.add_parser('query', help='rank the indexed videos')
    query.add_argument('index', help='the index folder')
    query.add_argument('text', help='what to look for')
    query.add_argument('--topk', type=positive_int, default=10)
    query.add_argument('--checkpoint',
                       help='the weights, if moved since indexing')
    query.add_argument('--device', default='cpu')
    query.add_argument('--chunk', type=positive_int, default=1024,
                       help='videos scored at a time')
    args = parser.parse_args(argv)
    videos = video_list(args, add) if args.command == 'index' else None
    return args, videos


def run_index(args: argparse.Namespace, videos: Sequence[str]) -> int:
    index: Optional[VideoIndex] = None
    if osp.isfile(osp.join(args.index, 'index.json')):
        with exit_on_bad_input():  # a damaged index.json: named, exit 2
            index = VideoIndex(args.index)
    if index is not None:
        # An index holds one precision; more videos join in it.
        chosen = resolve_precision(args.precision or index.precision,
                                   args.device)
        if chosen != index.precision:
            print(f'error: {index.root} holds {index.precision} features; '
                  f'--precision {args.precision} ({chosen}) would mix '
                  f'precisions. Add with --precision {index.precision}, or '
                  'start another index', file=sys.stderr)
            return 2
    with exit_on_bad_input():
        model = init_xclip(args.checkpoint, NO_TEXT, args.device,
                           args.num_clips, args.num_crops, args.num_frames,
                           dtype=(args.precision or 'auto')
                           if index is None else index.precision)
    if index is None:
        index = VideoIndex.create(
            args.index, model, args.checkpoint,
            dict(num_frames=args.num_frames, num_clips=args.num_clips,
                 num_crops=args.num_crops), args.dtype)
    before = len(index)
    start = time.perf_counter()
    try:
        with decode_budget(*args.decode_budget):
            failed = index.add(model, videos, args.batch_size,
                               args.shard_size)
    except WorkDirBusyError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    added = len(index) - before
    print(f'\n{added} added, {len(videos) - added - len(failed)} already '
          f'there, {len(failed)} failed; {len(index)} videos in '
          f'{index.root}', file=sys.stderr)
    if added:
        print(f'{seconds:.2f} s for {added} videos: '
              f'{seconds / added:.3f} s per video', file=sys.stderr)
    if failed:
        print(f'failed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


def run_query(args: argparse.Namespace) -> int:
    with exit_on_bad_input():
        index = VideoIndex(args.index)
        model = index_model(index, args.checkpoint, args.device)
    start = time.perf_counter()
    ranked = search(model, index, args.text, args.topk, args.chunk)
    seconds = time.perf_counter() - start
    print(f'  rank  {"score":>8}  video')
    for i, (path, score) in enumerate(ranked, 1):
        print(f'  {i:>4}  {score:>8.4f}  {path}')
    print(f'scored {len(index)} videos in {seconds:.3f} s', file=sys.stderr)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args, videos = parse_args(argv)
    if args.command == 'index':
        return run_index(args, videos)
    return run_query(args)


if __name__ == '__main__':
    sys.exit(main())
