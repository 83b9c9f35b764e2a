"""The mutation list of tools/dev/mutation_check.py cannot rot silently:
it parses, every edit's old text occurs exactly once in its file, and every
test it names exists."""
import ast
import os.path as osp

from helpers import ROOT
from helpers.weight_files import load_tool

check = load_tool('dev/mutation_check.py')


def _test_names(path: str) -> set:
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read())
    return {node.name for node in tree.body
            if isinstance(node, ast.FunctionDef)}


def test_every_mutation_applies_once_and_names_real_tests():
    mutations = check.load_mutations()
    assert len(mutations) >= 20
    for m in mutations:
        for edit in m['edit']:
            with open(osp.join(ROOT, edit['file']), encoding='utf-8') as f:
                count = f.read().count(edit['old'])
            assert count == 1, (m['id'], edit['file'], count)
        for test in m['tests']:
            path, _, name = test.partition('::')
            assert osp.isfile(osp.join(ROOT, path)), (m['id'], test)
            if name:
                assert name.split('[')[0] in _test_names(
                    osp.join(ROOT, path)), (m['id'], test)
