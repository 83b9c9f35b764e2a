"""Which model made a feature file or a video index.

A file of features is only meaningful with the model and test pipeline that
computed it: features of another checkpoint, frame count or view layout
must never be mixed with it, nor scored by another model's text side.
"""
import hashlib
import json
from typing import Any, Dict, Optional

import torch
from torch import nn

from ..models.precision import model_precision

# What decides a model's features: files and indexes made with another value
# of any of these are refused. Files from before precisions existed hold
# float32 features.
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
        architecture=dict(
            num_frames=getattr(neck, 'num_frames', None),
            embed_dim=backbone.output_dim,
            input_resolution=backbone.input_resolution,
            patch_size=backbone.patch_size))


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
