"""Which model made a feature file or a video index.

A file of features is only meaningful with the model and test pipeline that
computed it: features of another checkpoint, frame count or view layout
must never be mixed with it, nor scored by another model's text side.
"""
import hashlib
import json
import re
from typing import Any, Dict, Optional

import torch
from torch import nn

from ..models.precision import PRECISIONS, model_precision
from ..weights import ModelConfigError, check_pipeline, check_plain

# ``model_identity``'s architecture keys (None: the model has no such part).
ARCHITECTURE = ('num_frames', 'embed_dim', 'input_resolution', 'patch_size')
# What an index records beside the identity: the weights and the
# ``init_xclip`` arguments its queries rebuild the model with
# (:func:`mmxclip.retrieval.index_model`).
REBUILD = ('checkpoint', 'num_frames', 'num_clips', 'num_crops')
# What decides a model's features: files and indexes made with another value
# of any of these are refused. Files from before precisions existed hold
# float32 features (and have no ``precision`` key).
IDENTITY_KEYS = ('fingerprint', 'precision', 'test_pipeline')
_BEFORE = dict(precision='fp32')


def model_fingerprint(model: nn.Module) -> str:
    """sha256 of the model's state dict: names, dtypes, shapes and bytes.

    Cached on the model while no tensor is replaced or changed in place
    (keyed on storage and version, as the head's text cache is): a B/16
    hashes in about a second. A model given another precision
    (:func:`~mmxclip.models.precision.apply_precision`) keeps the
    fingerprint of its float32 weights, the weights file's.

    Args:
        model: Any module.

    Returns:
        str: 64 hex digits.
    """
    if hasattr(model, 'weights_fingerprint'):
        return model.weights_fingerprint
    state = model.state_dict(keep_vars=True)
    key = tuple((k, t.data_ptr(), t._version) for k, t in state.items())
    cached = getattr(model, '_mmxclip_fingerprint', None)
    if cached is not None and cached[0] == key:
        return cached[1]
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f'{name}:{tensor.dtype}:{tuple(tensor.shape)};'.encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
    model._mmxclip_fingerprint = (key, digest.hexdigest())
    return model._mmxclip_fingerprint[1]


def model_identity(model: nn.Module) -> Dict[str, Any]:
    """What the features of ``model`` depend on, as plain data.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (:func:`init_xclip`).

    Returns:
        dict: ``fingerprint`` (:func:`model_fingerprint`), ``precision``
        (:func:`~mmxclip.models.precision.model_precision`) and
        ``test_pipeline`` (frames and views sampled, crops), which decide
        the features; ``architecture`` (frames T, embed dim E, resolution,
        patch size) for people reading it.
    """
    backbone = model.backbone
    neck = getattr(model, 'neck', None)
    return dict(
        fingerprint=model_fingerprint(model),
        precision=model_precision(model),
        test_pipeline=json.loads(json.dumps(list(model.cfg.test_pipeline))),
        architecture=dict(zip(ARCHITECTURE, (
            getattr(neck, 'num_frames', None), backbone.output_dim,
            backbone.input_resolution, backbone.patch_size))))


def _positive(value: Any, none: bool = False) -> bool:
    """Whether ``value`` is an int >= 1 (or None, where ``none``)."""
    return (none and value is None) or (type(value) is int and value >= 1)


def check_model_record(record: Any, where: str,
                       rebuild: bool = False) -> Dict[str, Any]:
    """Check the model record a file holds (a feature file's header, an
    index's ``model``; ``rebuild``: with the :data:`REBUILD` keys) before
    anything uses it: exactly :func:`model_identity`'s keys, a sha256
    fingerprint, a test pipeline of registered transforms
    (:func:`~mmxclip.weights.check_pipeline`), positive sizes.

    Args:
        record: As read (parsed JSON).
        where: The file and key, for messages.
        rebuild: Whether the record is an index's.

    Returns:
        dict: ``record``.

    Raises:
        ModelConfigError: Naming ``where``, the key and what was expected.
    """
    keys = ('fingerprint', 'test_pipeline', 'architecture',
            *(REBUILD if rebuild else ()))
    # ``precision`` is absent from records made before precisions existed.
    if not isinstance(record, dict) or set(record) - {'precision'} != set(
            keys):
        found = sorted(record) if isinstance(record, dict) else \
            type(record).__name__
        raise ModelConfigError(f'{where}: {found}; expected a model record '
                               f'with exactly the keys {sorted(keys)}')
    check_plain({k: v for k, v in record.items() if k != 'test_pipeline'},
                where)
    if not (isinstance(record['fingerprint'], str)
            and re.fullmatch('[0-9a-f]{64}', record['fingerprint'])):
        raise ModelConfigError(f'{where}.fingerprint: expected 64 hex '
                               'digits (a sha256)')
    if recorded(record, 'precision') not in PRECISIONS[1:]:
        raise ModelConfigError(f'{where}.precision: '
                               f"{record['precision']!r}; expected one of "
                               f'{PRECISIONS[1:]}')
    check_pipeline(record['test_pipeline'], f'{where}.test_pipeline')
    arch = record['architecture']
    if not isinstance(arch, dict) or set(arch) != set(ARCHITECTURE) or \
            not all(_positive(v, none=True) for v in arch.values()):
        raise ModelConfigError(f'{where}.architecture: expected positive '
                               f'ints (or null) for exactly {ARCHITECTURE}')
    if rebuild:
        crops = record['num_crops']
        for key, ok, expected in (
                ('checkpoint', isinstance(record['checkpoint'], str),
                 'a path'),
                ('num_frames', _positive(record['num_frames'], none=True),
                 'a positive int or null'),
                ('num_clips', _positive(record['num_clips']),
                 'a positive int'),
                ('num_crops', type(crops) is int and crops in (1, 3),
                 '1 or 3')):
            if not ok:
                raise ModelConfigError(f'{where}.{key}: {record[key]!r}; '
                                       f'expected {expected}')
    return record


def recorded(identity: Dict[str, Any], key: str) -> Any:
    """``identity[key]`` as recorded, ``precision`` ``'fp32'`` in records
    from before precisions existed."""
    return identity.get(key, _BEFORE.get(key))


def identity_mismatch(theirs: Dict[str, Any],
                      mine: Dict[str, Any]) -> Optional[str]:
    """The first of :data:`IDENTITY_KEYS` on which a recorded identity
    (``theirs``) and a model's (``mine``) differ; None when they agree."""
    for key in IDENTITY_KEYS:
        if recorded(theirs, key) != mine[key]:
            return key
    return None
