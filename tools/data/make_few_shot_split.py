"""Draw a reproducible K-shot training list from a full annotation list.

    python tools/data/make_few_shot_split.py \
        data/hmdb51/hmdb51_train_split_1_videos.txt \
        data/hmdb51/hmdb51_train_split_1_2shot_seed0.txt --shots 2 --seed 0

Input and output are MMAction2 ``VideoDataset`` lists (``path label`` per
line). K videos are drawn per class with ``random.Random(seed)``, so the
same list, K and seed always give the same file; the output keeps the
input's line order. ``tools/data/build_dataset.py --shots K`` draws with the
same function (:func:`mmxclip.datasets.splits.few_shot`).
"""
import argparse
from typing import Optional, Sequence

from mmxclip.datasets.splits import few_shot, read_list
from mmxclip.engine.atomic_io import atomic_write


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('full_list', help='annotation list: "path label"')
    parser.add_argument('out', help='K-shot annotation list to write')
    parser.add_argument('--shots', type=int, required=True, help='K')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    lines = few_shot(read_list(args.full_list), args.shots, args.seed,
                     args.full_list)
    atomic_write(('\n'.join(lines) + '\n').encode(), args.out)
    print(f'{args.out}: {len(lines)} videos, {args.shots} per class '
          f'(seed {args.seed})')


if __name__ == '__main__':
    main()
