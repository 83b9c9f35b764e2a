"""Reading weights from files that also hold foreign objects, as data only.

Official X-CLIP training checkpoints hold a yacs ``CfgNode`` beside the
weights, OpenAI's CLIP releases are TorchScript archives whose modules are
TorchScript classes, and any file may carry a planted object. The strict
policy (:mod:`mmxclip.weights.safe_load`) refuses all of them; for reading
weights, :func:`load_inert` reads them with the same unpickler (torch's
weights-only one, which calls only what its allowlist maps a name to) and
maps every name beyond tensors, containers and MMEngine's types to an
*inert stand-in*, never to the real object:

* ``yacs.config.CfgNode`` (and :data:`DICT_LIKE`) -> a plain ``OrderedDict``
  with the node's entries, so ``config['DATA']['NUM_FRAMES']`` reads as data.
* anything else -> an :class:`InertObject` of that name: creating one
  (``REDUCE``, ``NEWOBJ``) stores the arguments, restoring its state
  (``BUILD``) stores the state; it has no other behaviour and nothing it holds
  is ever called. ``builtins.exec``, ``eval``, ``__import__``,
  ``subprocess.Popen`` ... so become records of the call they would make.

What torch itself refuses stays refused: globals of ``os``, ``posix``,
``sys``, ``nt`` (blocked before any allowlist), ``getattr`` beyond MMEngine's
two uses, calling or indexing into a stand-in (only allowlisted callables are
called; only plain dicts and lists are filled).

TorchScript archives are read the same way, from their ``data.pkl``:
``torch.jit.load`` would compile and run the archive's ``code/`` (its
classes' ``__setstate__`` run while loading) and read ``constants.pkl``;
neither is read here.
"""
import io
import zipfile
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import torch

from .allowlist import allowed_names, mmengine_safe_globals
from .safe_load import named_errors

# Dict subclasses pickled with their items (SETITEMS): torch fills only exact
# dicts, so their stand-in is one.
DICT_LIKE = frozenset({'yacs.config.CfgNode'})
# Classes of TorchScript modules and its list builders: expected in an
# archive, not worth a warning.
TORCHSCRIPT = ('__torch__.', 'torch.jit._pickle.')
KINDS = 'a torch.save file or a TorchScript archive'
EXPECTED = ('expected weights in tensors; other objects are read as inert '
            'data, but torch refuses these outright')


class InertObject:
    """Stands in for an object a file names; holds data, does nothing.

    Attributes:
        global_name: The name the file gave (``module.Qualname``).
        args: Arguments it would have been created or called with.
        state: The state it would have been restored with.
    """

    global_name = '?'

    def __new__(cls, *args: Any, **kwargs: Any) -> 'InertObject':
        obj = super().__new__(cls)
        obj.args, obj.state = args, None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to initialise: :meth:`__new__` stored the arguments."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f'<inert {self.global_name}>'


class _InertDict:
    """Stand-in whose instances are plain ``OrderedDict`` s."""

    def __new__(cls, *args: Any, **kwargs: Any) -> OrderedDict:
        return OrderedDict()


def _stand_in(name: str) -> Tuple[type, str]:
    """A fresh stand-in class for ``name``, in ``safe_globals``' form."""
    base = _InertDict if name in DICT_LIKE else InertObject
    cls = type(f'inert {name}', (base, ), dict(global_name=name,
                                               __module__=__name__))
    return cls, name


def _pickle_globals(path: str) -> Tuple[List[str], bool]:
    """The globals ``path``'s pickle names (a static scan: nothing is
    created), and whether it is a TorchScript archive."""
    from torch import _weights_only_unpickler as unpickler
    names: set = set()
    with open(path, 'rb') as f:
        zipped = f.read(4) == b'PK\x03\x04'
    if zipped or zipfile.is_zipfile(path):  # torch's reader names damage
        reader = torch._C.PyTorchFileReader(path)
        data = io.BytesIO(reader.get_record('data.pkl'))
        names |= unpickler.get_globals_in_pkl(data)
        return sorted(names), reader.has_record('constants.pkl')
    with open(path, 'rb') as f:
        # torch.save's legacy format: magic number, protocol, system info,
        # then the object; each its own pickle.
        for _ in range(4):
            names |= unpickler.get_globals_in_pkl(f)
    return sorted(names), False


def load_inert(path: str) -> Tuple[Any, List[str]]:
    """Unpickle ``path`` with foreign objects made inert.

    Args:
        path: A ``torch.save`` file (zip or legacy) or a TorchScript archive.

    Returns:
        tuple: The object (a TorchScript archive gives its top module as an
        :class:`InertObject`), and the names made inert (TorchScript's own
        classes excepted), sorted.

    Raises:
        pickle.UnpicklingError: What torch refuses outright; names the file
            and the object.
        ValueError: An empty, truncated or damaged file; names it.
    """
    with named_errors(path, EXPECTED, KINDS):
        names, torchscript = _pickle_globals(path)
        foreign = sorted(set(names) - allowed_names())
        safe = mmengine_safe_globals() + [_stand_in(n) for n in foreign]
        with torch.serialization.safe_globals(safe):
            if torchscript:
                from torch import _weights_only_unpickler as unpickler

                # torch.load hands TorchScript archives to torch.jit.load;
                # this is the zip reader it uses for everything else.
                obj = torch.serialization._load(
                    torch._C.PyTorchFileReader(path), 'cpu', unpickler,
                    weights_only=True)
            else:
                obj = torch.load(path, map_location='cpu', weights_only=True)
    return obj, [n for n in foreign if not n.startswith(TORCHSCRIPT)]


def module_tensors(module: InertObject, prefix: str = '') -> Dict[str, Any]:
    """The tensors of an inert TorchScript module tree, by dotted name, as
    ``torch.jit.load(...).state_dict()`` names them."""
    tensors = {}
    state = module.state if isinstance(module.state, dict) else {}
    for name, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[prefix + name] = value
        elif isinstance(value, InertObject):
            tensors.update(module_tensors(value, f'{prefix}{name}.'))
    return tensors


def describe_ignored(path: str, names: List[str]) -> str:
    """The warning for what :func:`load_inert` made inert."""
    parts = [f'{n} (read as a plain dict)' if n in DICT_LIKE else n
             for n in names]
    return (f'{path}: read as data only; these objects in the file were not '
            f'created and nothing in them was run: {", ".join(parts)}')
