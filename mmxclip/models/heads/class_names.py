"""Class names from a list or a label-map file, and several texts per
class (prompt ensembling), validated."""
import difflib
import json
import os.path as osp
from typing import List, Mapping, Optional, Sequence, Union

import yaml

from .tokenizer import count_tokens, normalize


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


def load_class_texts(source: Union[None, str, Mapping[str, Sequence[str]]],
                     class_names: Sequence[str],
                     template: str = '{}',
                     context_length: int = 77) -> List[List[str]]:
    """The texts of each class: several per class for prompt ensembling.

    Args:
        source: ``{class name: [text, ...]}``, or a YAML / JSON file holding
            one (read as data: ``yaml.safe_load`` / ``json``), or None. A
            listed class gets its texts as written; a class not listed gets
            its name in ``template``.
        class_names: The class names, in label order.
        template: Format string of a class name's own text.
        context_length: CLIP's context length; every text must fit, start
            and end tokens included.

    Returns:
        list[list[str]]: Per class, its texts (one or more).

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        ValueError: A file that is not a mapping, a key that is no class
            (with the closest names), an empty list, a text that is not a
            non-blank str, a text over ``context_length`` tokens, or one text
            (after CLIP's normalisation) given to two classes or twice to
            one; the message names the file, class and text.
    """
    where = source if isinstance(source, str) else 'class_texts'
    given = _read_texts(source) if isinstance(source, str) else dict(
        source or {})
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [key for key in given if key not in index]
    if unknown:
        close = {k: difflib.get_close_matches(str(k), list(index), 1)
                 for k in unknown}
        hints = [f'{k!r}' + (f' (did you mean {c[0]!r}?)' if c else '')
                 for k, c in close.items()]
        raise ValueError(f'{where}: {len(unknown)} keys are not class names '
                         f'of this dataset: {", ".join(hints[:10])}')
    texts, owner = [], {}
    for name in class_names:
        own = given.get(name)
        if own is None:
            own = [template.format(name)]
        elif isinstance(own, str) or not isinstance(own, (list, tuple)):
            raise ValueError(f'{where}: class {name!r} has {own!r}; expected '
                             'a list of texts')
        elif not own:
            raise ValueError(f'{where}: class {name!r} has an empty list of '
                             'texts')
        for text in own:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'{where}: class {name!r} has the text '
                                 f'{text!r}; expected a non-blank str')
            n = count_tokens(text)
            if n > context_length:
                what = (f'{where}: class {name!r}: text {text!r}'
                        if name in given else f'class name {name!r}')
                raise ValueError(f"{what} has {n} tokens, more than CLIP's "
                                 f'context length {context_length}')
            key = normalize(text)
            if key in owner:
                raise ValueError(
                    f'{where}: the text {text!r} of class {name!r} is also '
                    f'a text of class {owner[key]!r} (after CLIP\'s text '
                    'normalisation): each text may belong to one class once')
            owner[key] = name
        # Given texts are stripped as names are; a name's own text is
        # exactly what the head has always encoded.
        texts.append([t.strip() for t in own] if name in given else own)
    return texts


def _read_texts(path: str) -> dict:
    """A class-texts file (YAML or JSON) as a dict, read as data."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-texts file not found: {path!r}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    is_json = path.lower().endswith('.json')
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ValueError(f'{path}: not valid {"JSON" if is_json else "YAML"} '
                         f'({err})') from err
    if not isinstance(data, dict):
        raise ValueError(f'{path}: holds a {type(data).__name__}; expected '
                         'a mapping {class name: [text, ...]}')
    return data
