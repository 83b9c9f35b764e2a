"""Cut a zero-shot split's annotation list out of a full one.

    python tools/data/make_zero_shot_split.py \
        data/kinetics600/kinetics600_test_list_videos.txt \
        data/kinetics600/label_map_k600.txt \
        configs/zero_shot/k600_split1_class_names.txt \
        data/kinetics600/kinetics600_test_zs_split1_videos.txt

Keeps the videos (``path label`` lines, labels in the order of the label
map) whose class is one of the split's, relabelled in the split's order, so
the head's class names and the labels agree. Every class of the split must
be in the label map; a split class without videos is reported.
"""
import argparse
from typing import List, Optional, Sequence

from mmxclip.datasets.splits import read_list
from mmxclip.engine.atomic_io import atomic_write
from mmxclip.models.heads import load_class_names


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('full_list', help='annotation list: "path label"')
    parser.add_argument('label_map', help="the full list's class names, one "
                        'per line, in label order')
    parser.add_argument('split_classes', help="the split's class names, one "
                        'per line, in its label order')
    parser.add_argument('out', help='annotation list to write')
    return parser.parse_args(argv)


def zero_shot_split(lines: Sequence[str], label_map: Sequence[str],
                    split: Sequence[str], source: str = 'list'
                    ) -> List[str]:
    """The lines of the split's classes, relabelled.

    Args:
        lines: ``path label`` lines.
        label_map: Class names of ``lines``' labels.
        split: The split's class names, in its label order.
        source: Name of the list, for errors.

    Returns:
        list[str]: ``path new_label`` lines, in the input's order.

    Raises:
        ValueError: A split class missing from the label map, a label
            outside it, or no video of the split at all.
    """
    missing = [name for name in split if name not in label_map]
    if missing:
        raise ValueError(f'{len(missing)} classes of the split are not in '
                         f'the label map: {missing[:5]}')
    index = {name: i for i, name in enumerate(label_map)}
    new_label = {index[name]: i for i, name in enumerate(split)}
    out = []
    for i, line in enumerate(lines, 1):
        path, label = line.rsplit(maxsplit=1)
        if not 0 <= int(label) < len(label_map):
            raise ValueError(f'{source}: line {i} has label {label}; the '
                             f'label map has {len(label_map)} classes')
        if int(label) in new_label:
            out.append(f'{path} {new_label[int(label)]}')
    if not out:
        raise ValueError(f'{source} has no video of the split\'s classes')
    return out


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    split = load_class_names(args.split_classes)
    lines = zero_shot_split(read_list(args.full_list),
                            load_class_names(args.label_map), split,
                            args.full_list)
    atomic_write(''.join(line + '\n' for line in lines).encode(), args.out)
    seen = {int(line.rsplit(maxsplit=1)[1]) for line in lines}
    empty = [name for i, name in enumerate(split) if i not in seen]
    print(f'{args.out}: {len(lines)} videos of {len(split) - len(empty)} / '
          f'{len(split)} classes')
    if empty:
        print(f'warning: no videos for {len(empty)} classes: {empty[:5]}')


if __name__ == '__main__':
    main()
