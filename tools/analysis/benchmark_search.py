"""Time a text query over a large index, made from a small one.

    python tools/analysis/benchmark_search.py work_dirs/idx_b16 \
        "a person playing basketball" --videos 10000

A query's cost grows with the number of videos, not with what is in them:
this repeats the index's first shard into one shard of ``--shard-size``
videos (the default of ``search_videos.py index``), links it as many times
as ``--videos`` needs into a temporary index of the same model, and times
:func:`mmxclip.retrieval.search` on it. The linked shards are one file, so
after the warm-up query they come from the page cache: the time is the
scoring; a real index of that size adds reading its bytes (printed per
video) at the disk's speed.
"""
import argparse
import json
import os
import os.path as osp
import tempfile
import time
from typing import Optional, Sequence

import numpy as np


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('index', help='an index made by search_videos.py')
    parser.add_argument('text')
    parser.add_argument('--videos', type=int, default=10000)
    parser.add_argument('--shard-size', type=int, default=1024)
    parser.add_argument('--chunk', type=int, default=1024)
    args = parser.parse_args(argv)
    from mmxclip.retrieval import VideoIndex, index_model, search
    small = VideoIndex(args.index)
    size = args.shard_size
    copies = -(-args.videos // size)
    with tempfile.TemporaryDirectory() as root:
        for key, array in (('video', small.video[0]),
                           ('visual', small.visual[0])):
            reps = -(-size // len(array))
            np.save(osp.join(root, f'{key}.npy'),
                    np.concatenate([array] * reps)[:size])
        shards = []
        for i in range(copies):
            name = f'shard-{i:06d}'
            os.makedirs(osp.join(root, name))
            for key in ('video.npy', 'visual.npy'):
                os.symlink(osp.join(root, key), osp.join(root, name, key))
            with open(osp.join(root, name, 'paths.json'), 'w') as f:
                json.dump([f'{name}/{j}' for j in range(size)], f)
            shards.append(dict(name=name, count=size))
        with open(osp.join(root, 'index.json'), 'w') as f:
            json.dump(dict(small.info, shards=shards), f)
        big = VideoIndex(root)
        model = index_model(big)
        search(model, big, args.text, chunk=args.chunk)  # warm-up
        start = time.perf_counter()
        search(model, big, args.text, chunk=args.chunk)
        seconds = time.perf_counter() - start
    per_video = (small.video[0].nbytes + small.visual[0].nbytes) / \
        len(small.video[0])
    print(f'{len(big)} videos scored in {seconds:.2f} s: '
          f'{seconds / len(big) * 1e3:.3f} s per 1000 videos, '
          f'{seconds / len(big) * 1e5:.1f} s per 100,000 (chunk '
          f'{args.chunk}); index data: {per_video:.0f} bytes per video')


if __name__ == '__main__':
    main()
