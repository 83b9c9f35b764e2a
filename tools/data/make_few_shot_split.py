"""Draw a reproducible K-shot training list from a full annotation list.

    python tools/data/make_few_shot_split.py \
        data/hmdb51/hmdb51_train_split_1_videos.txt \
        data/hmdb51/hmdb51_train_split_1_2shot_seed0.txt --shots 2 --seed 0

Input and output are MMAction2 ``VideoDataset`` lists (``path label`` per
line). K videos are drawn per class with ``random.Random(seed)``, so the
same list, K and seed always give the same file; the output keeps the
input's line order.
"""
import argparse
import random
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from mmxclip.engine.atomic_io import atomic_write


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('full_list', help='annotation list: "path label"')
    parser.add_argument('out', help='K-shot annotation list to write')
    parser.add_argument('--shots', type=int, required=True, help='K')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def read_list(path: str) -> List[str]:
    """Non-blank lines of an annotation list, each checked for a label."""
    with open(path, encoding='utf-8') as f:
        lines = [line.rstrip('\n') for line in f if line.strip()]
    for i, line in enumerate(lines, 1):
        parts = line.split()
        if len(parts) < 2 or not parts[-1].lstrip('-').isdigit():
            raise ValueError(f'{path}: line {i} {line!r} is not '
                             '"path label"')
    return lines


def few_shot(lines: Sequence[str], shots: int, seed: int,
             source: str = 'list') -> List[str]:
    """K lines per class, drawn reproducibly.

    Args:
        lines: ``path label`` lines.
        shots: K.
        seed: Seed of the draw.
        source: Name of the list, for errors.

    Returns:
        list[str]: The drawn lines in their original order.

    Raises:
        ValueError: ``shots`` < 1, or a class with fewer than K videos.
    """
    if shots < 1:
        raise ValueError(f'--shots must be >= 1, got {shots}')
    by_class: Dict[int, List[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        by_class[int(line.split()[-1])].append(i)
    rng = random.Random(seed)
    keep = []
    for label in sorted(by_class):
        indices = by_class[label]
        if len(indices) < shots:
            raise ValueError(f'{source}: class {label} has {len(indices)} '
                             f'videos, fewer than --shots {shots}')
        keep += rng.sample(indices, shots)
    return [lines[i] for i in sorted(keep)]


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    lines = few_shot(read_list(args.full_list), args.shots, args.seed,
                     args.full_list)
    atomic_write(('\n'.join(lines) + '\n').encode(), args.out)
    print(f'{args.out}: {len(lines)} videos, {args.shots} per class '
          f'(seed {args.seed})')


if __name__ == '__main__':
    main()
