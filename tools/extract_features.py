"""Write X-CLIP's features of each video to its own safetensors file.

    python tools/extract_features.py videos/*.mp4 --checkpoint k400_32_8.pth \
        --out-dir feats/ [--video-list more.txt] [--batch-size 8]

writes ``feats/<path below the videos' common folder>.safetensors`` per
video (:mod:`mmxclip.apis.feature_files`: frame embeddings (V, T, E), view
embeddings (V, E), visual tokens (V, N, E), video embedding (E,), frame
indices, float32 in every ``--precision``; the header records the
precision, and a file of another precision is not mixed in). Files are
written atomically and a video whose file is there is
skipped, so a run that was stopped resumes where it was. A video that cannot
be read is reported on stderr with its path and what is wrong, and the run
goes on; the exit status is 1 if any failed. Across processes
(``tools/dist_extract_features.sh N VIDEO... --checkpoint ...``, or
``torchrun --nproc_per_node N tools/extract_features.py ... --launcher
pytorch``) each takes every N-th video.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

from mmxclip.apis import NO_TEXT, init_xclip, model_identity, run_videos
from mmxclip.apis.feature_files import is_done, save_features
from mmxclip.apis.outputs import mirrored_paths
from mmxclip.cli import (add_video_args, exit_on_bad_input, init_tool_dist,
                         video_list)
from mmxclip.datasets.video_gate import decode_budget


def parse_args(argv: Optional[Sequence[str]] = None):
    """The arguments and the deduplicated video list."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_video_args(parser)
    parser.add_argument('--out-dir', required=True,
                        help='where the .safetensors files go')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    args = parser.parse_args(argv)
    return args, video_list(args, parser)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Extract; the exit status (1: some video of this process failed)."""
    args, videos = parse_args(argv)
    rank, world = init_tool_dist(args.launcher)
    device = args.device
    if world > 1 and device == 'cuda':  # one GPU per process
        device = f'cuda:{os.environ["LOCAL_RANK"]}'
    # Every process maps the whole list, so names agree across processes.
    outputs = dict(zip(videos, mirrored_paths(videos, args.out_dir,
                                              '.safetensors')))
    mine = videos[rank::world]
    with exit_on_bad_input():
        model = init_xclip(args.checkpoint, NO_TEXT, device=device,
                           num_clips=args.num_clips,
                           num_crops=args.num_crops,
                           num_frames=args.num_frames,
                           dtype=args.precision)
    identity = model_identity(model)
    todo, failed, there = [], [], 0
    for video in mine:
        try:
            if is_done(outputs[video], identity):
                there += 1
            else:
                todo.append(video)
        except ValueError as err:
            failed.append(video)
            print(f'failed: {video!r}: {err}', file=sys.stderr)
    with decode_budget(*args.decode_budget):
        broken = run_videos(
            model, todo,
            lambda video, feats: save_features(outputs[video], video, feats,
                                               identity, args.checkpoint),
            args.batch_size, progress=rank == 0)
    failed += broken
    where = f'rank {rank}: ' if world > 1 else ''
    print(f'\n{where}{len(todo) - len(broken)} written, '
          f'{there} already there, {len(failed)} failed'
          + (f': {", ".join(failed)}' if failed else '') +
          f' (under {osp.abspath(args.out_dir)})', file=sys.stderr)
    # Per process: torchrun's own status is 1 when any process's is.
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
