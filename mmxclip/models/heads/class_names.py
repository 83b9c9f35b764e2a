"""Class names from a list or a label-map file, validated."""
import os.path as osp
from typing import List, Optional, Sequence, Union

from .tokenizer import normalize


def load_class_names(source: Union[str, Sequence[str]],
                     num_classes: Optional[int] = None,
                     name: str = 'class_names') -> List[str]:
    """Read and check class names.

    Args:
        source: A list of names, or the path of a text file with one name per
            line (MMAction2's label-map format, e.g.
            ``kinetics400_label_map.txt``). Surrounding white space is
            stripped; a trailing newline at the end of the file is allowed.
        num_classes: When given, the number of names expected.
        name: What a list ``source`` is called in messages (e.g. the
            command-line option it came from).

    Returns:
        list[str]: The class names in label order.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        ValueError: A blank name, two names CLIP reads as one text (equal
            after its normalisation of case and white space: they would
            split the probability of one class), or a count other than
            ``num_classes``; the message names the file and line.
    """
    if isinstance(source, str):
        if not osp.isfile(source):
            raise FileNotFoundError(f'class-name file not found: {source!r}')
        with open(source, encoding='utf-8') as f:
            lines = f.read().splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        where, unit = source, 'line'
    else:
        lines = list(source)
        where, unit = name, 'entry'
    names = []
    seen = {}
    for i, raw in enumerate(lines, start=1):
        if not isinstance(raw, str):
            raise ValueError(f'{where}: entry {i} is {raw!r}, expected a str')
        label = raw.strip()
        if not label:
            raise ValueError(f'{where}: {unit} {i} is blank; expected one '
                             f'class name per {unit}')
        key = normalize(label)
        if key in seen:
            first = names[seen[key] - 1]
            same = '' if first == label else (
                f" ({first!r}) after CLIP's text normalisation (case, white "
                'space), so the model would see one text twice')
            raise ValueError(f'{where}: class name {label!r} on {unit} {i} '
                             f'duplicates {unit} {seen[key]}{same}')
        seen[key] = i
        names.append(label)
    if not names:
        raise ValueError(f'{where}: no class names')
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f'{where}: {len(names)} class names, but '
                         f'num_classes={num_classes}')
    return names
