"""The closed schema of a model config read from a file.

MMEngine builds a config by importing what it names: the module before the
dot of a ``type`` (``'xclip_helpers.XCLIPRecognizer'`` imports
``xclip_helpers.py`` from the working directory, ``'this.X'`` Python's
``this``), the ``registry`` module of a ``_scope_``, and any class of the
registry (MMAction2's ``CLIPSimilarity`` loads a path). So a model config
read from a file (a checkpoint's ``meta['model_cfg']`` or ``meta['cfg']``
text) is data that :func:`check_model_config` checks whole before anything
is imported or built:

* the top is an :class:`XCLIPRecognizer`; each argument a config is built
  from may name only the types :func:`_schema` lists for it (X-CLIP's own,
  MMAction2's data preprocessor, blendings and loss, MMEngine's
  ``Pretrained`` init), never a dotted or unknown ``type``;
* every dict has only the keyword arguments its class accepts, read from
  the class's signature (:func:`known_arguments`); arguments annotated as
  plain scalars get values of those types;
* no ``_scope_`` and no ``type`` anywhere else in the tree; every value is
  plain data (str, int, float, bool, None, lists, tuples, str-keyed dicts).

A refusal (:class:`ModelConfigError`) names the file and the key path:
``ckpt.pth: meta['model_cfg'].cls_head.type: 'this.X' ...``. Test pipelines
recorded in files (an index's or feature file's model record, ONNX
metadata) are compared, never built; :func:`check_pipeline` holds them to
registered transform names all the same. Configs the user passes to the
tools are Python, the user's own, and MMEngine reads them as usual.

The models are imported when first checked, not here: they import
:mod:`mmxclip.weights`, and must never import this module.
"""
import inspect
import types
import typing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Optional, Sequence, Tuple

PLAIN = (str, int, float, bool, type(None))
SCOPE = "a scope imports that package's registry"
# Where a refusal points readers: what a model config from a file may hold.
RULE = ("a model config read from a file may name only X-CLIP's own types "
        'with their known arguments; nothing in it was imported or built')


class ModelConfigError(ValueError):
    """A config read from a file that the schema refuses; the message names
    the file and the key path."""


@dataclass(frozen=True)
class Slot:
    """An argument a config is built from.

    Attributes:
        kinds: The :func:`_schema` kinds it may hold: types, or one untyped
            kind (a dict of a class's arguments without ``type``).
        many: Also a list of them (``init_cfg``, ``augments``).
    """
    kinds: Tuple[str, ...]
    many: bool = False


@dataclass(frozen=True)
class Kind:
    """A dict the schema knows: its arguments and which of them are slots.

    Attributes:
        arguments: Name -> parameter of the class it is passed to.
        slots: Arguments that are configs themselves.
        typed: Whether it is named by ``type`` (else it is an untyped dict
            of arguments, e.g. ``text_cfg``).
    """
    arguments: Dict[str, inspect.Parameter]
    slots: Dict[str, Slot] = field(default_factory=dict)
    typed: bool = True


def known_arguments(cls: type, set_by_owner: Sequence[str] = ()
                    ) -> Dict[str, inspect.Parameter]:
    """The keyword arguments ``cls(...)`` accepts, by name.

    Its ``__init__``'s and, while an ``__init__`` takes ``**kwargs``, its
    bases' (which receive them); the subclass's parameter wins.

    Args:
        cls: The class.
        set_by_owner: Arguments the code that creates ``cls`` passes itself
            (a config giving them would clash).
    """
    found: Dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if '__init__' not in vars(klass):
            continue
        params = list(inspect.signature(klass.__init__).parameters.values())
        for p in params[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                found.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return {k: v for k, v in found.items() if k not in set_by_owner}


def _keys(*names: str) -> Dict[str, inspect.Parameter]:
    """Arguments read by name from a plain dict (no class to read)."""
    return {n: inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY)
            for n in names}


@lru_cache(maxsize=None)
def _schema() -> Dict[str, Kind]:
    """Every kind of dict a model config from a file may hold, by name."""
    from mmaction.models import (ActionDataPreprocessor, CrossEntropyLoss,
                                 CutmixBlending, MixupBlending,
                                 RandomBatchAugment)
    from mmengine.model.weight_init import PretrainedInit

    from ..models import (CCTViT, CLIPTextEncoder, MITNeck, PromptGenerator,
                          XCLIPRecognizer, XCLIPTextHead)
    init = Slot(('Pretrained', ), many=True)
    blendings = ('CutmixBlending', 'MixupBlending')
    return {
        'XCLIPRecognizer': Kind(known_arguments(XCLIPRecognizer), dict(
            backbone=Slot(('CCTViT', )), neck=Slot(('MITNeck', )),
            cls_head=Slot(('XCLIPTextHead', )),
            data_preprocessor=Slot(('ActionDataPreprocessor', )),
            train_cfg=Slot(('train_cfg', )), test_cfg=Slot(('test_cfg', )),
            init_cfg=init)),
        'CCTViT': Kind(known_arguments(CCTViT), dict(init_cfg=init)),
        'MITNeck': Kind(known_arguments(MITNeck), dict(init_cfg=init)),
        # The head sets BaseHead's in_channels (embed_dim) and the towers'
        # embed_dim itself.
        'XCLIPTextHead': Kind(
            known_arguments(XCLIPTextHead, ('in_channels', )), dict(
                text_cfg=Slot(('text_cfg', )),
                prompt_cfg=Slot(('prompt_cfg', )),
                loss_cls=Slot(('CrossEntropyLoss', )), init_cfg=init)),
        'ActionDataPreprocessor': Kind(
            known_arguments(ActionDataPreprocessor), dict(
                blending=Slot(('RandomBatchAugment', *blendings)))),
        'RandomBatchAugment': Kind(known_arguments(RandomBatchAugment),
                                   dict(augments=Slot(blendings, many=True))),
        'CutmixBlending': Kind(known_arguments(CutmixBlending)),
        'MixupBlending': Kind(known_arguments(MixupBlending)),
        'CrossEntropyLoss': Kind(known_arguments(CrossEntropyLoss)),
        'Pretrained': Kind(known_arguments(PretrainedInit)),
        'text_cfg': Kind(known_arguments(CLIPTextEncoder, ('embed_dim', )),
                         typed=False),
        'prompt_cfg': Kind(known_arguments(PromptGenerator, ('embed_dim', )),
                           typed=False),
        # What XCLIPRecognizer reads of them.
        'test_cfg': Kind(_keys('max_testing_views'), typed=False),
        'train_cfg': Kind(_keys(), typed=False),
    }


def _scalars(param: inspect.Parameter) -> Optional[Tuple[type, ...]]:
    """The plain types an argument's annotation allows, or None when it is
    not only plain scalars (lists, dicts, anything: checked as plain data)."""
    hint = param.annotation
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint, )
    if not options or not all(o in PLAIN for o in options):
        return None
    if param.default is None:  # ``heads: int = None``
        options += (type(None), )
    return options


def _fits(value: Any, kinds: Tuple[type, ...]) -> bool:
    """Whether ``value`` has one of ``kinds`` (an int is a float; a bool is
    not an int)."""
    if type(value) is bool:
        return bool in kinds
    if type(value) is int:
        return int in kinds or float in kinds
    return type(value) in kinds


def _refuse(where: str, what: str) -> ModelConfigError:
    """The refusal of what is at ``where`` (file and key path)."""
    return ModelConfigError(f'{where}: {what}; {RULE}')


def check_plain(value: Any, where: str) -> None:
    """Refuse anything but plain data, and ``type`` or ``_scope_`` keys
    anywhere in it (it is never built).

    Raises:
        ModelConfigError: Naming the key path of the first problem.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _refuse(where, f'key {key!r} is a '
                              f'{type(key).__name__}, not a str')
            if key in ('type', '_scope_'):
                raise _refuse(f'{where}.{key}', f'{item!r}: no config is '
                              'built here, so it may name no type or scope')
            check_plain(item, f'{where}.{key}')
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, f'{where}[{i}]')
    elif not isinstance(value, PLAIN):
        raise _refuse(where, f'{type(value).__name__} is not plain data')


def _check_type(value: Dict[str, Any], kinds: Sequence[str], where: str,
                expected: Optional[str] = None) -> str:
    """The type a config dict names, checked against ``kinds`` (described
    as ``expected`` in messages; default: listed)."""
    if '_scope_' in value:
        raise _refuse(f'{where}._scope_', f'{value["_scope_"]!r}: {SCOPE}')
    kind = value.get('type')
    allowed = expected or ' or '.join(repr(k) for k in kinds)
    if not isinstance(kind, str):
        raise _refuse(f'{where}.type', f'{kind!r}; expected {allowed}')
    if '.' in kind:
        raise _refuse(f'{where}.type', f'{kind!r}: a dotted type imports '
                      f'the module before the dot; expected {allowed}')
    if kind not in kinds:
        raise _refuse(f'{where}.type', f'{kind!r} is not built here; '
                      f'expected {allowed}')
    return kind


def _check_config(value: Any, slot: Slot, where: str) -> None:
    """Check one config (or a list of them, where ``slot`` allows)."""
    if value is None:
        return
    if slot.many and isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_config(item, Slot(slot.kinds), f'{where}[{i}]')
        return
    if not isinstance(value, dict):
        raise _refuse(where, 'expected a config dict, got '
                      f'{type(value).__name__}')
    schema = _schema()
    untyped = not schema[slot.kinds[0]].typed
    name = (slot.kinds[0] if untyped else
            _check_type(value, slot.kinds, where))
    kind = schema[name]
    for key, item in value.items():
        at = f'{where}.{key}'
        if key == 'type' and not untyped:
            continue
        if key == '_scope_':
            raise _refuse(at, f'{item!r}: {SCOPE}')
        if key not in kind.arguments:
            raise _refuse(at, f'unknown argument of {name}; known: '
                          f'{", ".join(sorted(kind.arguments)) or "none"}')
        if key in kind.slots:
            _check_config(item, kind.slots[key], at)
            continue
        check_plain(item, at)
        scalars = _scalars(kind.arguments[key])
        if scalars and not _fits(item, scalars):
            raise _refuse(at, f'{item!r} is {type(item).__name__}; '
                          'expected ' + ' or '.join(
                              t.__name__ for t in scalars))


def check_model_config(cfg: Any, where: str) -> Dict[str, Any]:
    """Check a model config read from a file against the closed schema
    (the module docstring); nothing is imported or built.

    Args:
        cfg: The config, as read.
        where: The file and key it comes from, e.g.
            ``"ckpt.pth: meta['model_cfg']"``; key paths are appended.

    Returns:
        dict: ``cfg``, to build.

    Raises:
        ModelConfigError: The first thing the schema refuses, naming
            ``where`` and the key path.
    """
    if cfg is None:
        raise _refuse(where, 'expected a config dict, got None')
    _check_config(cfg, Slot(('XCLIPRecognizer', )), where)
    return cfg


def check_pipeline(steps: Any, where: str) -> list:
    """Check a test pipeline recorded in a file (never built from it): a
    list of dicts whose ``type`` is a transform registered in MMAction2's
    ``TRANSFORMS`` (or its parents), undotted; no ``_scope_``; plain data.

    Raises:
        ModelConfigError: Naming ``where`` and the step.
    """
    from mmaction.registry import TRANSFORMS
    names = set()
    registry = TRANSFORMS
    while registry is not None:
        names.update(registry.module_dict)
        registry = registry.parent
    if not isinstance(steps, list):
        raise _refuse(where, 'expected a list of transform configs, got '
                      f'{type(steps).__name__}')
    for i, step in enumerate(steps):
        at = f'{where}[{i}]'
        if not isinstance(step, dict):
            raise _refuse(at, 'expected a transform config, got '
                          f'{type(step).__name__}')
        _check_type(step, names, at, 'a registered transform')
        check_plain({k: v for k, v in step.items() if k != 'type'}, at)
    return steps
