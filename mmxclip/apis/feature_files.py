"""One video's features as a safetensors file.

safetensors holds tensors and a string-to-string header, nothing that can
run: a feature file is read as data whoever wrote it. Files are written
atomically (:func:`mmxclip.engine.atomic_io.atomic_write`): a file under its
final name is complete, so an interrupted run is resumed by skipping the
files that exist.

Tensors: ``frame_embeddings`` (V, T, E), ``view_embeddings`` (V, E),
``visual_tokens`` (V, N, E), ``video_embedding`` (E,), float32, and
``frame_inds`` (num_clips, T) int64 (:class:`VideoFeatures`). Header:
``format``, ``video`` (absolute path), ``checkpoint`` and ``model``
(:func:`model_identity` as JSON).
"""
import json
import os.path as osp
from typing import Any, Dict, Tuple

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from ..engine.atomic_io import atomic_write
from .features import VideoFeatures
from .identity import check_model_record, identity_mismatch, recorded

FORMAT = 'mmxclip-video-features/1'


def save_features(path: str, video: str, features: VideoFeatures,
                  identity: Dict[str, Any], checkpoint: str) -> None:
    """Write ``features`` of ``video`` to ``path`` atomically.

    Args:
        path: Output file.
        video: The video file.
        features: Its features.
        identity: :func:`model_identity` of the model that computed them.
        checkpoint: The weights it was built from.
    """
    tensors = {name: value.float().contiguous() for name, value in
               zip(VideoFeatures._fields[:4], features[:4])}
    tensors['frame_inds'] = torch.from_numpy(features.frame_inds.astype(
        'int64'))
    meta = dict(format=FORMAT, video=osp.abspath(video),
                checkpoint=osp.abspath(checkpoint),
                model=json.dumps(identity, sort_keys=True))
    atomic_write(save_bytes(tensors, metadata=meta), path)


def read_header(path: str) -> Dict[str, Any]:
    """The header of a feature file, ``model`` parsed.

    Raises:
        ValueError: Not a feature file of this format, naming ``path``.
    """
    try:
        with safe_open(path, framework='pt') as f:
            meta = dict(f.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise ValueError(f'{path}: not a safetensors file ({err})') from err
    if meta.get('format') != FORMAT:
        raise ValueError(f'{path}: format {meta.get("format")!r}, expected '
                         f'{FORMAT!r}')
    try:
        meta['model'] = json.loads(meta['model'])
    except (KeyError, ValueError) as err:
        raise ValueError(f'{path}: header has no readable model '
                         'identity') from err
    if not isinstance(meta['model'], dict):
        raise ValueError(f'{path}: header model is '
                         f'{json.dumps(meta["model"])[:80]}, expected the '
                         'model identity (a JSON object)')
    check_model_record(meta['model'], f"{path}: header['model']")
    return meta


def load_features(path: str) -> Tuple[VideoFeatures, Dict[str, Any]]:
    """A feature file's features and header (:func:`read_header`).

    Raises:
        ValueError: Not a feature file, or tensors missing.
    """
    meta = read_header(path)
    with open(path, 'rb') as f:
        tensors = load_bytes(f.read())
    missing = [k for k in VideoFeatures._fields if k not in tensors]
    if missing:
        raise ValueError(f'{path}: tensors {missing} missing')
    tensors['frame_inds'] = tensors['frame_inds'].numpy()
    return VideoFeatures(**{k: tensors[k]
                            for k in VideoFeatures._fields}), meta


def is_done(path: str, identity: Dict[str, Any]) -> bool:
    """Whether ``path`` already holds this model's features.

    Returns:
        bool: False when there is no file.

    Raises:
        ValueError: A file is there but is no feature file, or was made by
            another model or test pipeline (it is left as it is: choose
            another output folder, or delete it).
    """
    if not osp.exists(path):
        return False
    theirs = read_header(path)['model']
    key = identity_mismatch(theirs, identity)
    if key is not None:
        raise ValueError(
            f'{path} exists but was made with another {key} '
            f'({json.dumps(recorded(theirs, key))[:80]} vs this run\'s '
            f'{json.dumps(identity[key])[:80]}); use another --out-dir '
            'or delete it')
    return True
