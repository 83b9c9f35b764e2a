"""Class names from a list or a label-map file, validated."""
import os.path as osp
from typing import List, Optional, Sequence, Union


def load_class_names(source: Union[str, Sequence[str]],
                     num_classes: Optional[int] = None) -> List[str]:
    """Read and check class names.

    Args:
        source: A list of names, or the path of a text file with one name per
            line (MMAction2's label-map format, e.g.
            ``kinetics400_label_map.txt``). Surrounding white space is
            stripped; a trailing newline at the end of the file is allowed.
        num_classes: When given, the number of names expected.

    Returns:
        list[str]: The class names in label order.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        ValueError: A blank or duplicated name, or a count other than
            ``num_classes``; the message names the file and line.
    """
    if isinstance(source, str):
        if not osp.isfile(source):
            raise FileNotFoundError(f'class-name file not found: {source!r}')
        with open(source, encoding='utf-8') as f:
            lines = f.read().splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        where = source
    else:
        lines = list(source)
        where = 'class_names'
    names = []
    seen = {}
    for i, raw in enumerate(lines, start=1):
        if not isinstance(raw, str):
            raise ValueError(f'{where}: entry {i} is {raw!r}, expected a str')
        name = raw.strip()
        if not name:
            raise ValueError(f'{where}: line {i} is blank; expected one class '
                             'name per line')
        if name in seen:
            raise ValueError(f'{where}: class name {name!r} on line {i} '
                             f'duplicates line {seen[name]}')
        seen[name] = i
        names.append(name)
    if not names:
        raise ValueError(f'{where}: no class names')
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(f'{where}: {len(names)} class names, but '
                         f'num_classes={num_classes}')
    return names
