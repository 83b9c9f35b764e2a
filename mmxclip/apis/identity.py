"""Which model made a feature file or a video index.

A file of features is only meaningful with the model and test pipeline that
computed it: features of another checkpoint, frame count or view layout
must never be mixed with it, nor scored by another model's text side.
"""
import hashlib
import json
from typing import Any, Dict

import torch
from torch import nn


def model_fingerprint(model: nn.Module) -> str:
    """sha256 of the model's state dict: names, dtypes, shapes and bytes.

    Cached on the model while no tensor is replaced or changed in place
    (keyed on storage and version, as the head's text cache is): a B/16
    hashes in about a second.

    Args:
        model: Any module.

    Returns:
        str: 64 hex digits.
    """
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
        dict: ``fingerprint`` (:func:`model_fingerprint`) and
        ``test_pipeline`` (frames and views sampled, crops), which decide
        the features; ``architecture`` (frames T, embed dim E, resolution,
        patch size) for people reading it.
    """
    backbone = model.backbone
    neck = getattr(model, 'neck', None)
    return dict(
        fingerprint=model_fingerprint(model),
        test_pipeline=json.loads(json.dumps(list(model.cfg.test_pipeline))),
        architecture=dict(
            num_frames=getattr(neck, 'num_frames', None),
            embed_dim=backbone.output_dim,
            input_resolution=backbone.input_resolution,
            patch_size=backbone.patch_size))
