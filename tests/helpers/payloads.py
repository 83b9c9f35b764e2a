"""Code-running objects for the safe-loading tests, and files that carry
them: each payload (``exec``, ``eval``, ``__import__``, ``Popen``,
``os.system``, a getattr chain, a call of what ``eval`` returned, an object
whose ``__setstate__`` runs code), if it is ever unpickled as itself,
writes ``marker``."""
import contextlib
import hashlib
import os
import os.path as osp
import subprocess
import sys
import time
import types

import torch

from .weight_files import OFFICIAL


def _python(marker: str) -> str:
    return f'open({marker!r}, "w").write("pwned")'


class Exec:
    """``exec(code)``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (_python(self.marker), ))


class Eval(Exec):
    """``eval(expression)``."""

    def __reduce__(self):
        return (eval, (_python(self.marker), ))


class Popen(Exec):
    """``subprocess.Popen([...])``."""

    def __reduce__(self):
        return (subprocess.Popen,
                (['sh', '-c', f'echo pwned > {self.marker}'], ))


class System(Exec):
    """``os.system(command)`` (pickled as ``posix.system``)."""

    def __reduce__(self):
        return (os.system, (f'echo pwned > {self.marker}', ))


class SetState:
    """An instance whose ``__setstate__`` runs code: pickled as ``NEWOBJ``
    of its class, then ``BUILD`` with its state."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __setstate__(self, state):
        exec(_python(state['marker']))


class Import(Exec):
    """``__import__(name)`` of a module that writes ``marker`` when it is
    imported (written beside ``marker``, whose folder joins ``sys.path``;
    :func:`forget_imports` undoes that)."""

    def __init__(self, marker: str) -> None:
        super().__init__(marker)
        folder = osp.dirname(marker)
        digest = hashlib.sha1(marker.encode()).hexdigest()[:12]
        self.module = f'payload_{digest}'
        with open(osp.join(folder, self.module + '.py'), 'w') as f:
            f.write(_python(marker) + '\n')
        if folder not in sys.path:
            sys.path.append(folder)

    def __reduce__(self):
        return (__import__, (self.module, ))


def forget_imports(marker: str) -> None:
    """Take :class:`Import`'s folder off ``sys.path`` again."""
    folder = osp.dirname(marker)
    while folder in sys.path:
        sys.path.remove(folder)


class _Import:
    """``__import__('os')``."""

    def __reduce__(self):
        return (__import__, ('os', ))


class _GetAttr:
    """``getattr(obj, name)``, itself called by the pickle."""

    def __init__(self, obj, name: str) -> None:
        self.obj, self.name = obj, name

    def __call__(self, *args):
        raise AssertionError('only pickled, never called')

    def __reduce__(self):
        return (getattr, (self.obj, self.name))


class ImportChain(Exec):
    """``getattr(__import__('os'), 'system')(command)``: a getattr chain."""

    def __reduce__(self):
        return (_GetAttr(_Import(), 'system'),
                (f'echo pwned > {self.marker}', ))


class _EvalCallable:
    """``eval(expression)`` whose result is called by the pickle."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def __call__(self, *args):
        raise AssertionError('only pickled, never called')

    def __reduce__(self):
        return (eval, (self.expression, ))


class CallChain(Exec):
    """``eval("__import__('os').system")(command)``: calls what an earlier
    call made."""

    def __reduce__(self):
        return (_EvalCallable("__import__('os').system"),
                (f'echo pwned > {self.marker}', ))


PAYLOADS = {'exec': Exec, 'eval': Eval, 'import': Import, 'popen': Popen,
            'system': System, 'getattr_chain': ImportChain,
            'call_chain': CallChain, 'setstate': SetState}
# What torch's unpickler refuses whatever the allowlist (os, posix, sys):
# through the weight readers, these are refused; the others become inert.
REFUSED_EVEN_INERT = dict(
    system='posix.system',
    getattr_chain="getattr(<inert builtins.__import__>",
    call_chain='call reduce for unrecognized function <inert builtins.eval>')
# The global each payload names first, as a strict refusal names it.
FIRST_GLOBAL = {'exec': 'GLOBAL exec', 'eval': 'GLOBAL eval',
                'import': 'GLOBAL __import__',
                # torch.save's protocol 2 writes subprocess as Python 2's
                # name, commands
                'popen': 'GLOBAL commands.Popen',
                'system': 'GLOBAL posix.system',
                'getattr_chain': 'GLOBAL __import__',
                'call_chain': 'GLOBAL eval',
                'setstate': f'GLOBAL {__name__}.SetState'}
# The inert policy's warning names what it did not create.
INERT_NAME = {'exec': 'builtins.exec', 'eval': 'builtins.eval',
              'import': 'builtins.__import__', 'popen': 'commands.Popen',
              'setstate': f'{__name__}.SetState'}


def ran(marker: str, kind: str) -> bool:
    """Whether payload ``kind`` wrote ``marker``; for Popen, once no child
    process that could still write it is left (at most 5 s)."""
    deadline = time.time() + 5
    while (kind == 'popen' and not osp.exists(marker)
           and time.time() < deadline):
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        time.sleep(0.02)
    return osp.exists(marker)


class FakeCfgNode(dict):
    """Pickles as ``yacs.config.CfgNode`` does (a dict subclass with items
    and state), for planting payloads in a config without yacs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.__dict__.update({'__immutable__': True,
                              '__new_allowed__': False})


@contextlib.contextmanager
def fake_yacs():
    """``yacs.config.CfgNode`` importable as :class:`FakeCfgNode` while
    saving; gone afterwards (the project's Python has no yacs)."""
    yacs, config = types.ModuleType('yacs'), types.ModuleType('yacs.config')
    config.CfgNode = FakeCfgNode
    yacs.config = config
    FakeCfgNode.__module__, FakeCfgNode.__qualname__ = 'yacs.config', \
        'CfgNode'
    sys.modules.update({'yacs': yacs, 'yacs.config': config})
    try:
        yield
    finally:
        del sys.modules['yacs'], sys.modules['yacs.config']
        FakeCfgNode.__module__, FakeCfgNode.__qualname__ = __name__, \
            'FakeCfgNode'


def _as_cfgnode(node):
    return FakeCfgNode({k: _as_cfgnode(v) if isinstance(v, dict) else v
                        for k, v in node.items()})


def planted_official(path: str, payload, where: str) -> str:
    """The committed official training checkpoint with ``payload`` planted
    ``where``: ``'config'`` (inside the CfgNode), ``'optimizer'`` (inside a
    parameter's state), ``'lr_scheduler'`` (a list in a tuple) or
    ``'nested'`` (dict > list > tuple > dict at the top)."""
    from mmxclip.weights import load_inert
    ckpt, _ = load_inert(OFFICIAL)
    ckpt = dict(ckpt, config=_as_cfgnode(ckpt['config']))
    if where == 'config':
        ckpt['config']['MODEL']['EVIL'] = payload
    elif where == 'optimizer':
        ckpt['optimizer']['state'][0]['evil'] = payload
    elif where == 'lr_scheduler':
        ckpt['lr_scheduler']['noise_range_t'] = [(payload, 1)]
    else:
        ckpt['extra'] = {'a': [({'b': payload}, )]}
    with fake_yacs():
        torch.save(ckpt, path)
    return path
