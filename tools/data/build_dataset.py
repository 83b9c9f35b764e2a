#!/usr/bin/env python
"""Turn your own videos and class names into an mmxclip dataset and config.

    python tools/data/build_dataset.py SRC OUT [--checkpoint CKPT]

SRC is a folder with one sub-folder per class (``SRC/playing guitar/a.mp4``;
``_`` in a folder name is read as a space unless ``--keep-underscores``) or
a CSV / TSV file with the columns ``path,label`` and optionally ``split``
(``train`` / ``val`` / ``test``). OUT (new or empty) gets ``train.txt``,
``val.txt`` (``test.txt`` with ``--test-ratio``; a K-shot list with
``--shots K``) in MMAction2's list format, ``class_names.txt`` and
``xclip_<name>.py``, a config inheriting ``--base``. Every video is probed
once; unreadable ones are listed with the reason and left out, duplicates
flagged. Prints a per-class table and the next commands. Any bad input is a
message naming the path, row or class, and OUT is not written. The logic
is :mod:`mmxclip.datasets.build`.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from mmxclip.datasets.build import DatasetError, build_dataset, class_table

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='class-folder tree, or a .csv / .tsv '
                        'with path,label[,split]')
    parser.add_argument('out', help='output folder (new or empty)')
    parser.add_argument('--base',
                        default=osp.join(ROOT, 'configs', 'xclip_b16_k400.py'),
                        help='config to inherit (default: '
                        'configs/xclip_b16_k400.py)')
    parser.add_argument('--name', help='config name: OUT/xclip_<name>.py '
                        "(default: OUT's folder name)")
    parser.add_argument('--checkpoint', help='weights to start from: an '
                        'X-CLIP checkpoint in any format init_xclip reads, '
                        'or CLIP weights')
    parser.add_argument('--class-texts', help='YAML or JSON file: {class '
                        'name: [text, ...]}, several texts per class')
    parser.add_argument('--val-ratio', type=float, default=0.2,
                        help='fraction of each class for validation '
                        '(default: 0.2)')
    parser.add_argument('--test-ratio', type=float, default=0.0,
                        help='fraction of each class for a test list')
    parser.add_argument('--shots', type=int, help='train on K videos per '
                        'class (drawn as make_few_shot_split.py does)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the split and the K-shot draw')
    parser.add_argument('--keep-underscores', action='store_true',
                        help="keep '_' in class folder names")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Build the dataset; the exit status (1: bad input, nothing written)."""
    args = parse_args(argv)
    try:
        built = build_dataset(
            args.src, args.out, args.base, args.name, args.checkpoint,
            args.class_texts, args.val_ratio, args.test_ratio, args.shots,
            args.seed, args.keep_underscores)
    except (DatasetError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    data = built.data
    for item, reason in data.broken:
        print(f'unreadable, left out: {item.where}: {reason}')
    for group in data.duplicates:
        print(f'same content (kept, in one split): {", ".join(group)}')
    print(class_table(data))
    lists = ', '.join(f'{k} ({v})' for k, v in built.lists.items())
    s = built.schedule
    print(f'\nwrote {built.out}: {lists}, class_names.txt, '
          f'{osp.basename(built.config)}\nschedule: batch {s.batch_size}, '
          f'{s.max_epochs} epochs, lr {s.lr:g} (see the config)')
    ckpt = args.checkpoint or 'CKPT'
    work = osp.join('work_dirs', osp.splitext(osp.basename(built.config))[0])
    print('\nnext:\n'
          f'  zero-shot: python tools/test.py {built.config} {ckpt}\n'
          f'  fine-tune: python tools/train.py {built.config}\n'
          f'  test:      python tools/test.py {built.config} '
          f'{work}/best_*.pth')
    return 0


if __name__ == '__main__':
    sys.exit(main())
