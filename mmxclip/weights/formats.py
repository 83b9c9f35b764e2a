"""Recognising and safely reading every weight format mmxclip accepts.

Formats (``Weights.format``):

* ``'openai'`` — OpenAI's CLIP releases (``ViT-B-16.pt`` ...): TorchScript
  archives, whose tensors are read from ``data.pkl`` as data
  (:func:`mmxclip.weights.inert.load_inert`); ``torch.jit.load``, which
  would run the archive's code, is never called.
* ``'clip'`` — a plain CLIP state dict with OpenAI's names: open_clip's
  ``open_clip_pytorch_model.bin`` / ``open_clip_model.safetensors``, an
  open_clip training checkpoint (``state_dict``, ``module.``-prefixed) or
  ``torch.save(clip_model.state_dict())``.
* ``'official'`` — microsoft/VideoX X-CLIP ``.pth`` files, releases and
  what its training writes (``model``, ``optimizer``, ``lr_scheduler``,
  ``config``: a yacs ``CfgNode``, ...): the state dict under ``model``,
  possibly ``module.``-prefixed.
* ``'hf'`` — a HuggingFace ``XCLIPModel`` folder (``config.json`` with
  ``model.safetensors`` or ``pytorch_model.bin``), or one of those files
  with its ``config.json`` beside it.
* ``'mmxclip'`` — an MMEngine checkpoint of :class:`XCLIPRecognizer`
  (``state_dict`` + ``meta``), as ``tools/convert_weights.py`` and training
  write them, or the folder of shards FSDP / DeepSpeed training writes
  (:mod:`mmxclip.weights.sharded`).

Pickled files are read by :func:`mmxclip.weights.inert.load_inert`: torch's
weights-only unpickler, where every object other than tensors, containers
and MMEngine's checkpoint types is built as inert data (and logged), never
as itself. safetensors files hold no code at all. Every tensor that becomes
a parameter must be floating point and finite.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import torch
from mmengine.logging import MMLogger
from torch import Tensor

from .arch import infer_model_config
from .convert import (StateDict, clip_to_mmxclip, hf_to_mmxclip,
                      is_non_parameter, official_to_mmxclip, strip_prefix)
from .hf_config import HFConfig, read_hf_config
from .inert import InertObject, describe_ignored, load_inert, module_tensors
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
# Formats whose model is always the whole X-CLIP, message attention
# included: a module missing from such a file is damage, not an ablation.
XCLIP_FORMATS = ('official', 'hf')
# Formats whose backbone activation is known: QuickGELU (OpenAI CLIP, X-CLIP;
# HF's vision config is checked to say so, its text tower's is read).
_QUICK_GELU_FORMATS = ('openai', 'official', 'hf')


@dataclass
class Weights:
    """Weights read from a file, renamed to :class:`XCLIPRecognizer`'s keys.

    Attributes:
        path: The file or folder read.
        format: One of :data:`FORMATS`.
        state_dict: mmxclip keys (``backbone.*``, ``neck.*``, ``cls_head.*``).
        hf_config: The resolved ``config.json`` (``'hf'`` only).
        meta: The ``meta`` of an mmxclip checkpoint (model config, class
            names), else empty.
    """
    path: str
    format: str
    state_dict: StateDict
    hf_config: Optional[HFConfig] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_xclip(self) -> bool:
        """Whether the weights hold a whole X-CLIP (not only CLIP)."""
        return self.format in XCLIP_FORMATS or any(
            k.startswith('neck.') for k in self.state_dict)

    @property
    def quick_gelu(self) -> Optional[bool]:
        """The backbone's MLP activation the file implies (QuickGELU: True),
        or None when it cannot tell (CLIP state dicts; mmxclip checkpoints,
        whose config says)."""
        return True if self.format in _QUICK_GELU_FORMATS else None

    def model_config(self, class_names: Any,
                     quick_gelu: Optional[bool] = None) -> Dict[str, Any]:
        """:func:`infer_model_config` for these weights.

        Args:
            class_names: Names or a label-map file for the head.
            quick_gelu: The activation, for files that do not imply one
                (QuickGELU when None); contradicting the file is an error.
        """
        known = self.quick_gelu
        if None not in (known, quick_gelu) and known != quick_gelu:
            raise ValueError(
                f'{self.path} ({self.format}) was trained with '
                f'{"QuickGELU" if known else "nn.GELU"}; asked to build '
                f'{"QuickGELU" if quick_gelu else "nn.GELU"}')
        gelu = known if known is not None else quick_gelu
        return infer_model_config(
            self.state_dict, class_names, hf_config=self.hf_config,
            quick_gelu=True if gelu is None else gelu,
            use_message=True if self.format in XCLIP_FORMATS else None)


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
        pickle.UnpicklingError: A pickle naming objects torch refuses even
            as inert data (``os``, ``sys``, a ``getattr`` chain).
        ValueError: Unknown format, a file that is not what ``src_format``
            says, an empty or damaged file, non-float or non-finite weights,
            a ``config.json`` mmxclip cannot build; the message names the
            file (and key).
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
    obj, ignored = load_inert(path)
    if ignored:
        MMLogger.get_current_instance().warning(
            describe_ignored(path, ignored))
    if isinstance(obj, InertObject) and obj.global_name.startswith(
            '__torch__.'):
        tensors = _parameters(path, module_tensors(obj))
        if 'visual.conv1.weight' not in tensors:
            raise ValueError(
                f"{path}: a TorchScript archive without CLIP's keys (it has "
                f'{list(tensors)[:5]}); known formats: {_describe()}')
        return Weights(path, 'openai', clip_to_mmxclip(tensors))
    return _classify(path, obj)


def _safetensors_load(path: str) -> Dict[str, Tensor]:
    """A safetensors file's tensors; a damaged file names itself."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    try:
        return load_file(path, device='cpu')
    except SafetensorError as e:
        raise ValueError(f'{path}: not a readable safetensors file ({e})') \
            from e


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


def _hf_config(file: str) -> HFConfig:
    """The ``config.json`` beside a HF weight file, resolved."""
    config = osp.join(osp.dirname(file), 'config.json')
    if not osp.isfile(config):
        raise FileNotFoundError(
            f'{file} has HuggingFace X-CLIP keys but no config.json beside '
            'it; keep the save_pretrained folder together')
    return read_hf_config(config)


def _classify(path: str, obj: Any) -> Weights:
    """Tell the format from the structure and key names of ``obj``."""
    if not isinstance(obj, dict):
        what = (f'an object named {obj.global_name} (not created)'
                if isinstance(obj, InertObject) else
                f'a {type(obj).__name__}')
        raise ValueError(f'{path}: holds {what}, not a state dict; known '
                         f'formats: {_describe()}')
    meta: Dict[str, Any] = {}
    if 'state_dict' in obj and isinstance(obj['state_dict'], dict):
        meta = obj.get('meta') or {}
        sd = strip_prefix(obj['state_dict'])
    elif 'model' in obj and isinstance(obj['model'], dict):
        sd = strip_prefix(obj['model'])
        if not any(k.startswith('visual.') for k in sd):
            raise ValueError(f"{path}: 'model' holds no visual.* keys, so it "
                             'is not an official X-CLIP checkpoint')
        return Weights(path, 'official',
                       official_to_mmxclip(_parameters(path, sd)))
    else:
        sd = strip_prefix(obj)
    keys = list(sd)
    if any(k.startswith('backbone.') for k in keys):
        return Weights(path, 'mmxclip', _parameters(path, sd),
                       meta=meta if isinstance(meta, dict) else {})
    if any(k.startswith('vision_model.') for k in keys):
        return Weights(path, 'hf', hf_to_mmxclip(_parameters(path, sd)),
                       hf_config=_hf_config(path))
    if 'visual.conv1.weight' in sd:
        sd = _parameters(path, sd)
        if any(part in k for k in keys for part in _XCLIP_PARTS):
            return Weights(path, 'official', official_to_mmxclip(sd))
        return Weights(path, 'clip', clip_to_mmxclip(sd))
    raise ValueError(f'{path}: unknown weight format; its first keys are '
                     f'{keys[:5]}. Known formats: {_describe()}')


def _parameters(path: str, sd: Dict[str, Any]) -> StateDict:
    """Check that every value is a tensor and every parameter a finite
    floating-point one (non-parameters such as OpenAI's ``vocab_size`` or
    HF's ``position_ids`` are dropped later).

    Raises:
        ValueError: Naming the file, the key and what it holds.
    """
    for key, value in sd.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'{path}: {key!r} is a {type(value).__name__}, '
                             'expected a tensor')
        if is_non_parameter(key):
            continue
        if not value.is_floating_point():
            raise ValueError(f'{path}: {key!r} is a {value.dtype} tensor; '
                             'expected floating-point weights')
        # Any NaN or inf makes the sum NaN or inf: one pass, no mask (430M
        # values of L/14 in a fraction of the mask's time). Only a
        # non-finite sum (possibly an overflow of finite values) is counted.
        if torch.isfinite(value.sum()):
            continue
        bad = value.numel() - int(torch.isfinite(value).sum())
        if bad:
            raise ValueError(f'{path}: {key!r} has {bad} of {value.numel()} '
                             'values NaN or infinite; expected finite weights')
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
