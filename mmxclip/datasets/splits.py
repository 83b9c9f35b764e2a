"""Annotation lists split reproducibly: a stratified train / val / test
split and K-shot training lists (``tools/data/build_dataset.py`` and
``tools/data/make_few_shot_split.py`` share these).

Lists are MMAction2 ``VideoDataset`` lists: ``path label`` per line, the
label the last field (paths may hold spaces).
"""
import random
from collections import defaultdict
from typing import Dict, Hashable, List, Optional, Sequence

SPLITS = ('train', 'val', 'test')


def read_list(path: str) -> List[str]:
    """Non-blank lines of an annotation list, each checked for a label.

    Raises:
        ValueError: A line without an integer last field, naming the file
            and the line.
    """
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
    """K lines per class, drawn reproducibly with ``random.Random(seed)``.

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


def stratified_split(labels: Sequence[int],
                     val_ratio: float,
                     test_ratio: float = 0.0,
                     seed: int = 0,
                     groups: Optional[Sequence[Hashable]] = None,
                     class_names: Optional[Sequence[str]] = None
                     ) -> List[str]:
    """The split of each item, drawn per class with ``random.Random(seed)``.

    Each class gives ``round(n * ratio)`` of its ``n`` items (at least one
    when the ratio is above 0) to val and to test, the rest to train. Items
    of one group (the same video content twice) always land in the same
    split, so a duplicate never leaks from train into val.

    Args:
        labels: Label of each item.
        val_ratio: Fraction of each class for validation, in [0, 1).
        test_ratio: Fraction of each class for testing, in [0, 1).
        seed: Seed of the draw.
        groups: Group key of each item (default: every item its own).
        class_names: Names of the labels, for errors.

    Returns:
        list[str]: ``'train'``, ``'val'`` or ``'test'`` per item.

    Raises:
        ValueError: A ratio out of range, or classes too small to give one
            video to every requested split and keep one for training (all
            named, with their counts).
    """
    for name, ratio in (('--val-ratio', val_ratio),
                        ('--test-ratio', test_ratio)):
        if not 0 <= ratio < 1:
            raise ValueError(f'{name} must be in [0, 1), got {ratio}')
    if val_ratio + test_ratio >= 1:
        raise ValueError(f'--val-ratio {val_ratio} + --test-ratio '
                         f'{test_ratio} leave no training videos')
    groups = list(range(len(labels))) if groups is None else list(groups)
    by_class: Dict[int, Dict[Hashable, List[int]]] = defaultdict(dict)
    for i, (label, group) in enumerate(zip(labels, groups)):
        by_class[label].setdefault(group, []).append(i)
    rng = random.Random(seed)
    out = ['train'] * len(labels)
    small = []
    for label in sorted(by_class):
        units = list(by_class[label].values())  # in first-seen order
        rng.shuffle(units)
        want = {s: _count(len(units), r)
                for s, r in (('val', val_ratio), ('test', test_ratio))}
        if len(units) - want['val'] - want['test'] < 1:
            name = class_names[label] if class_names else str(label)
            small.append(f'{name!r} ({len(units)} distinct videos)')
            continue
        cut = 0
        for split in ('val', 'test'):
            for unit in units[cut:cut + want[split]]:
                for i in unit:
                    out[i] = split
            cut += want[split]
    if small:
        need = 1 + (val_ratio > 0) + (test_ratio > 0)
        raise ValueError(
            f'{len(small)} classes are too small for the split (each needs '
            f'at least {need} distinct videos: one for training and one for '
            f'each of val / test): {", ".join(small)}')
    return out


def _count(n: int, ratio: float) -> int:
    """Items of ``n`` a split of ``ratio`` gets: rounded, at least 1."""
    return 0 if ratio == 0 else max(1, round(n * ratio))
