"""Imports between mmxclip's rooms run one way: the models know no weight
format (formats may know the models, never the reverse), so a model is
built from explicit arguments and ``mmxclip.weights`` resolves them."""
import ast
import os.path as osp
import sys
from glob import glob
from typing import Iterator, Tuple

from helpers import ROOT

PACKAGE = osp.join(ROOT, 'mmxclip')


def imported_modules(path: str) -> Iterator[Tuple[int, str]]:
    """Every module a file imports (also inside functions), as absolute
    names: ``(line, name)``."""
    # A module's package, and an __init__'s: the folder it is in.
    package = osp.dirname(osp.relpath(path, ROOT)).split(osp.sep)
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] \
                if node.level else []
            module = '.'.join(base + ([node.module] if node.module else []))
            yield node.lineno, module
            # ``from .. import weights`` names the room in the alias.
            for alias in node.names:
                yield node.lineno, f'{module}.{alias.name}'


def offending_imports(room: str, forbidden: str) -> list:
    return sorted({
        f'{osp.relpath(path, ROOT)}:{line}'
        for path in glob(osp.join(PACKAGE, room, '**', '*.py'),
                         recursive=True)
        for line, name in imported_modules(path)
        if name == forbidden or name.startswith(forbidden + '.')})


def test_models_never_import_weights():
    assert offending_imports('models', 'mmxclip.weights') == []


def test_the_scan_sees_every_form_of_import(tmp_path, monkeypatch):
    """The scan is not vacuous: relative, absolute, aliased and
    function-level imports of the weights are all found."""
    room = tmp_path / 'mmxclip' / 'models' / 'heads'
    room.mkdir(parents=True)
    (room / 'bad.py').write_text(
        'from ...weights.scheme import clip_quick_gelu\n'
        'from ... import weights\n'
        'import mmxclip.weights.formats as f\n'
        'def g():\n'
        '    from mmxclip.weights import read_weights\n'
        'from ..layers import Linear\n')
    monkeypatch.setattr(sys.modules[__name__], 'ROOT', str(tmp_path))
    monkeypatch.setattr(sys.modules[__name__], 'PACKAGE',
                        str(tmp_path / 'mmxclip'))
    found = offending_imports('models', 'mmxclip.weights')
    assert [f.split(':')[1] for f in found] == ['1', '2', '3', '5']
