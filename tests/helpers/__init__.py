"""What the tests share: tiny models (:mod:`helpers.tiny_model`), generated
videos and datasets, weight files of every format, pickled payloads, tool
runs and the hooks test configs import (``helpers.train_hooks``).

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, and the tools the
tests run get it on ``PYTHONPATH`` (:func:`helpers.runs.run_tool`), so this
package imports as ``helpers`` everywhere.
"""
import ast
import importlib.util
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FIXTURES = osp.join(ROOT, 'tests', 'fixtures')


def load_tool(relpath: str):
    """Import a script under tools/ as a module."""
    path = osp.join(ROOT, 'tools', relpath)
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def startup_line() -> str:
    """setup.py's ``STARTUP_LINE``, the .pth line (setup.py runs setup()
    when imported, so it is read, not imported)."""
    with open(osp.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and \
                getattr(node.targets[0], 'id', None) == 'STARTUP_LINE':
            return ast.literal_eval(node.value)
    raise AssertionError('no STARTUP_LINE in setup.py')
