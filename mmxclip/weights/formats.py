"""Recognising and safely reading every weight format mmxclip accepts.

Formats (``Weights.format``):

* ``'openai'`` — OpenAI's CLIP releases (``ViT-B-16.pt`` ...): TorchScript
  archives, read with TorchScript's own loader (``torch.jit.load``), never
  unpickled.
* ``'clip'`` — a plain CLIP state dict with OpenAI's names: open_clip's
  ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors``, an
  open_clip training checkpoint (``state_dict``, ``module.``-prefixed) or
  ``torch.save(clip_model.state_dict())``.
* ``'official'`` — microsoft/VideoX X-CLIP ``.pth`` releases: the state
  dict under ``model``, possibly ``module.``-prefixed.
* ``'hf'`` — a HuggingFace ``XCLIPModel`` folder (``config.json`` with
  ``model.safetensors`` or ``pytorch_model.bin``), or one of those files
  with its ``config.json`` beside it.
* ``'mmxclip'`` — an MMEngine checkpoint of :class:`XCLIPRecognizer`
  (``state_dict`` + ``meta``), as ``tools/convert_weights.py`` and training
  write them, or the folder of shards FSDP / DeepSpeed training writes
  (:mod:`mmxclip.weights.sharded`).

Pickled files are read with ``torch.load(weights_only=True)`` plus only the
types MMEngine itself writes into checkpoints
(:func:`mmxclip.compat.mmengine_safe_globals`); a file that needs any
other object is refused, not run. safetensors files hold no code at all.
"""
import json
import os
import os.path as osp
import pickle
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import torch
from torch import Tensor

from ..compat import mmengine_safe_globals, safe_torch_load
from .convert import (StateDict, clip_to_mmxclip, hf_to_mmxclip,
                      official_to_mmxclip, strip_prefix)
from .sharded import is_sharded_checkpoint, read_sharded_checkpoint

FORMATS = ('openai', 'clip', 'official', 'hf', 'mmxclip')
# ``tools/convert_weights.py --src-format`` -> the formats it accepts.
SRC_FORMATS = {
    'openai': ('openai', 'clip'),
    'open_clip': ('clip', 'openai'),
    'official': ('official', ),
    'hf': ('hf', ),
    'mmxclip': ('mmxclip', ),
}
HF_WEIGHT_FILES = ('model.safetensors', 'pytorch_model.bin')
_XCLIP_PARTS = ('mit.', 'prompts_', '.message_')


@dataclass
class Weights:
    """Weights read from a file, renamed to :class:`XCLIPRecognizer`'s keys.

    Attributes:
        path: The file or folder read.
        format: One of :data:`FORMATS`.
        state_dict: mmxclip keys (``backbone.*``, ``neck.*``, ``cls_head.*``).
        hf_config: HuggingFace ``config.json`` contents (``'hf'`` only).
        meta: The ``meta`` of an mmxclip checkpoint (model config, class
            names), else empty.
    """
    path: str
    format: str
    state_dict: StateDict
    hf_config: Optional[Dict[str, Any]] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_xclip(self) -> bool:
        """Whether the weights hold a whole X-CLIP (not only CLIP)."""
        return any(k.startswith('neck.') for k in self.state_dict)


def read_weights(path: str, src_format: Optional[str] = None) -> Weights:
    """Detect the format of a weight file or folder and read it safely.

    Args:
        path: File or HuggingFace folder.
        src_format: When given, a key of :data:`SRC_FORMATS`; a file of
            another format is an error.

    Returns:
        Weights: The format and the state dict in mmxclip's names.

    Raises:
        FileNotFoundError: ``path`` (or a file a HF folder needs) is missing.
        ValueError: Unknown format, a file that is not what ``src_format``
            says, or a pickle that asks for anything but tensors and
            containers; the message names the file.
    """
    if src_format is not None and src_format not in SRC_FORMATS:
        raise ValueError(f'--src-format {src_format!r} is not one of '
                         f'{sorted(SRC_FORMATS)}')
    path = osp.expanduser(str(path))
    if not osp.exists(path):
        raise FileNotFoundError(f'weight file not found: {path}')
    weights = _read(path)
    if src_format and weights.format not in SRC_FORMATS[src_format]:
        raise ValueError(
            f'{path} was given as {src_format!r} weights but looks like '
            f'{weights.format!r} ({_describe(weights.format)})')
    return weights


def _read(path: str) -> Weights:
    """Read ``path`` and classify what it holds."""
    if is_sharded_checkpoint(path):
        state_dict, meta = read_sharded_checkpoint(path)
        return _classify(path, dict(state_dict=state_dict, meta=meta))
    if osp.isdir(path):
        return _read_hf_folder(path)
    if path.endswith('.safetensors'):
        return _classify(path, _safetensors_load(path))
    if _is_torchscript(path):
        # TorchScript's own loader reads OpenAI's archives without
        # unpickling Python objects; torch.load(weights_only=True) refuses
        # them (see environment.md #4).
        state_dict = torch.jit.load(path, map_location='cpu').state_dict()
        return Weights(path, 'openai', clip_to_mmxclip(state_dict))
    return _classify(path, _torch_load(path))


def _is_torchscript(path: str) -> bool:
    """A TorchScript archive is a zip with ``constants.pkl`` and ``code/``;
    ``torch.save`` zips have neither."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('/constants.pkl') for n in zf.namelist())


def _safetensors_load(path: str) -> Dict[str, Tensor]:
    """A safetensors file's tensors; a damaged file names itself."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(path, device='cpu')
    except SafetensorError as e:
        raise ValueError(f'{path}: not a readable safetensors file ({e})') \
            from e


def _unpickler_reason(error: Exception) -> str:
    """The informative line of torch's weights-only refusal (its first
    lines are boilerplate)."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if 'GLOBAL' in line:
            return line
        if line.endswith('WeightsUnpickler error:') and i + 1 < len(lines):
            return lines[i + 1]
    return lines[-1] if lines else type(error).__name__


def _torch_load(path: str) -> Any:
    """``torch.load(weights_only=True)`` with MMEngine's checkpoint types."""
    try:
        return safe_torch_load(path, 'cpu', mmengine_safe_globals())
    except pickle.UnpicklingError as e:
        first = _unpickler_reason(e)
        if 'GLOBAL' not in first:
            raise ValueError(
                f'{path}: refused to unpickle: not a file the safe '
                f'(weights_only) loader can read ({first}); expected a '
                'torch.save file of tensors, safetensors or TorchScript') \
                from e
        raise ValueError(
            f'{path}: refused to unpickle: it needs Python objects beyond '
            f'tensors and plain containers ({first}). mmxclip never runs '
            'code from weight files; convert it where you trust it, e.g. to '
            'safetensors') from e
    except RuntimeError as e:
        raise ValueError(f'{path}: not a readable PyTorch file: {e}') from e


def _read_hf_folder(folder: str) -> Weights:
    """A ``save_pretrained`` folder: ``config.json`` + the weights."""
    for name in HF_WEIGHT_FILES:
        file = osp.join(folder, name)
        if osp.isfile(file):
            return _read(file)
    raise FileNotFoundError(
        f'{folder}: a HuggingFace model folder needs one of '
        f'{list(HF_WEIGHT_FILES)} (and config.json); it has '
        f'{sorted(os.listdir(folder))}')


def _hf_config(file: str) -> Dict[str, Any]:
    """The ``config.json`` beside a HF weight file."""
    config = osp.join(osp.dirname(file), 'config.json')
    if not osp.isfile(config):
        raise FileNotFoundError(
            f'{file} has HuggingFace X-CLIP keys but no config.json beside '
            'it; keep the save_pretrained folder together')
    with open(config, encoding='utf-8') as f:
        cfg = json.load(f)
    if cfg.get('model_type') != 'xclip':
        raise ValueError(f'{config}: model_type is '
                         f"{cfg.get('model_type')!r}, expected 'xclip'")
    return cfg


def _classify(path: str, obj: Any) -> Weights:
    """Tell the format from the structure and key names of ``obj``."""
    if not isinstance(obj, dict):
        raise ValueError(f'{path}: holds a {type(obj).__name__}, not a state '
                         f'dict; known formats: {_describe()}')
    meta: Dict[str, Any] = {}
    if 'state_dict' in obj and isinstance(obj['state_dict'], dict):
        meta = obj.get('meta') or {}
        sd = strip_prefix(obj['state_dict'])
    elif 'model' in obj and isinstance(obj['model'], dict):
        sd = strip_prefix(obj['model'])
        if not any(k.startswith('visual.') for k in sd):
            raise ValueError(f"{path}: 'model' holds no visual.* keys, so it "
                             'is not an official X-CLIP checkpoint')
        return Weights(path, 'official', official_to_mmxclip(_tensors(path,
                                                                      sd)))
    else:
        sd = strip_prefix(obj)
    keys = list(sd)
    if any(k.startswith('backbone.') for k in keys):
        return Weights(path, 'mmxclip', _tensors(path, sd), meta=meta)
    if any(k.startswith('vision_model.') for k in keys):
        return Weights(path, 'hf', hf_to_mmxclip(_tensors(path, sd)),
                       hf_config=_hf_config(path))
    if 'visual.conv1.weight' in sd:
        if any(part in k for k in keys for part in _XCLIP_PARTS):
            return Weights(path, 'official',
                           official_to_mmxclip(_tensors(path, sd)))
        return Weights(path, 'clip', clip_to_mmxclip(sd))
    raise ValueError(f'{path}: unknown weight format; its first keys are '
                     f'{keys[:5]}. Known formats: {_describe()}')


def _tensors(path: str, sd: Dict[str, Any]) -> StateDict:
    """Check that every value is a tensor."""
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'{path}: {key!r} is a {type(value).__name__}, '
                             'expected a tensor')
    return sd


_DESCRIPTIONS = {
    'openai': 'OpenAI CLIP TorchScript archive',
    'clip': 'CLIP state dict with OpenAI names: visual.*, token_embedding.*',
    'official': "official X-CLIP: 'model' -> visual.*, mit.*, prompts_*",
    'hf': 'HuggingFace XCLIPModel: vision_model.*, text_model.* + '
    'config.json',
    'mmxclip': "mmxclip / MMEngine: 'state_dict' -> backbone.*, cls_head.*",
}


def _describe(fmt: Optional[str] = None) -> str:
    """Human description of one format, or of all."""
    if fmt is not None:
        return _DESCRIPTIONS[fmt]
    return '; '.join(f'{k} ({v})' for k, v in _DESCRIPTIONS.items())
