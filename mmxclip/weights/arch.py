"""Architecture from tensors, and loading checks that name what is wrong.

:func:`infer_model_config` reads an :class:`XCLIPRecognizer` config off a
state dict in mmxclip's names, the way the official ``build_model`` reads
CLIP's: width and patch from ``conv1``, resolution from the position grid,
depth from the block indices, frames from the MIT position embedding. What
tensors cannot tell (attention heads, the MLP activation) comes from a
HuggingFace ``config.json`` when there is one (read as transformers reads
it, :mod:`mmxclip.weights.hf_config`), else from the official constructor's
rules (heads = width / 64, OpenAI's QuickGELU).
"""
import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from torch import nn

from ..models.layers import default_num_heads
from .convert import StateDict
from .hf_config import HFConfig

# Published X-CLIP input normalisation (ImageNet statistics, RGB).
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]
# What CLIP weights leave at their random init in an X-CLIP model.
XCLIP_ONLY = re.compile(r'(\.message_|^neck\.|^cls_head\.prompts_)')


def _get(sd: StateDict, key: str):
    """``sd[key]`` with an error that says what the key is for."""
    if key not in sd:
        raise KeyError(f'{key} is missing, so the architecture cannot be '
                       'inferred; is this a CLIP / X-CLIP checkpoint with '
                       "CLIP's ViT block layout?")
    return sd[key]


def _count(sd: StateDict, prefix: str) -> int:
    """Number of blocks ``{prefix}{i}.*``."""
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
    indices = {int(m.group(1)) for m in map(pattern.match, sd) if m}
    return max(indices) + 1 if indices else 0


def _check_hf(hf: HFConfig, found: Dict[Tuple[str, str], Tuple[int, str]]
              ) -> None:
    """Refuse a ``config.json`` that contradicts the tensors beside it (as
    HF's own loading refuses weights of another size)."""
    for (section, key), (value, tensor) in found.items():
        if hf.get(section, key) != value:
            raise ValueError(f'{hf.where(section, key)}, but the weights '
                             f'have {value} ({tensor})')


def infer_model_config(state_dict: StateDict,
                       class_names: Union[str, Sequence[str]],
                       hf_config: Optional[HFConfig] = None,
                       num_frames: int = 8,
                       quick_gelu: bool = True,
                       use_message: Optional[bool] = None) -> Dict[str, Any]:
    """An :class:`XCLIPRecognizer` config that fits ``state_dict``.

    Args:
        state_dict: mmxclip keys; X-CLIP or CLIP-only (backbone and text).
        class_names: Names or a label-map file for the head.
        hf_config: A resolved HuggingFace ``config.json``: heads and
            activations from it, and every size it states checked against
            the tensors.
        num_frames: Frames T when the weights have no MIT (CLIP only).
        quick_gelu: Activation when no ``hf_config`` says; OpenAI CLIP and
            X-CLIP use QuickGELU, open_clip's LAION/DataComp runs GELU.
        use_message: Build message attention; None: when the weights have
            it, or have no MIT (CLIP weights, message tokens at their init).
            Formats whose model always has it pass True, so that missing
            message keys are an error, not an ablation.

    Returns:
        dict: Model config (backbone, neck, cls_head, data_preprocessor).

    Raises:
        KeyError: A tensor the architecture is read from is missing.
        ValueError: ``hf_config`` contradicts the tensors.
    """
    conv = _get(state_dict, 'backbone.conv1.weight')  # (D, 3, p, p)
    width, patch = conv.shape[0], conv.shape[-1]
    grid = math.isqrt(_get(state_dict, 'backbone.positional_embedding')
                      .shape[0] - 1)
    embed = _get(state_dict, 'backbone.proj').shape[1]  # (D, E)
    t = 'cls_head.text_encoder.'
    vocab, text_width = _get(state_dict, t + 'token_embedding.weight').shape
    context = _get(state_dict, t + 'positional_embedding').shape[0]
    mit_pos = state_dict.get('neck.positional_embedding')  # (1, T, E)
    layers = _count(state_dict, 'backbone.transformer.resblocks.')
    text_layers = _count(state_dict, t + 'transformer.resblocks.')
    mit_layers = _count(state_dict, 'neck.resblocks.')
    prompt_layers = _count(state_dict, 'cls_head.prompts_generator.decoder.')
    heads = dict(vision=default_num_heads(width),
                 text=default_num_heads(text_width),
                 mit=default_num_heads(embed), prompt=default_num_heads(embed))
    text_quick_gelu = quick_gelu
    if hf_config is not None:
        v, txt = 'vision_config', 'text_config'
        found = {(v, 'hidden_size'): (width, 'backbone.conv1.weight'),
                 (v, 'patch_size'): (patch, 'backbone.conv1.weight'),
                 (v, 'image_size'): (grid * patch,
                                     'backbone.positional_embedding'),
                 (v, 'num_hidden_layers'): (layers, 'backbone.transformer'),
                 ('', 'projection_dim'): (embed, 'backbone.proj'),
                 (txt, 'hidden_size'): (text_width, t + 'token_embedding'),
                 (txt, 'vocab_size'): (vocab, t + 'token_embedding'),
                 (txt, 'max_position_embeddings'): (
                     context, t + 'positional_embedding'),
                 (txt, 'num_hidden_layers'): (text_layers,
                                              t + 'transformer')}
        if mit_pos is not None:
            found.update({
                (v, 'num_frames'): (mit_pos.shape[1],
                                    'neck.positional_embedding'),
                (v, 'mit_hidden_size'): (mit_pos.shape[2],
                                         'neck.positional_embedding'),
                (v, 'mit_num_hidden_layers'): (mit_layers, 'neck.resblocks'),
                ('', 'prompt_layers'): (prompt_layers,
                                        'cls_head.prompts_generator')})
        _check_hf(hf_config, found)
        heads = dict(vision=hf_config.vision['num_attention_heads'],
                     text=hf_config.text['num_attention_heads'],
                     mit=hf_config.vision['mit_num_attention_heads'],
                     prompt=hf_config.top['prompt_num_attention_heads'])
        # HF's vision act drives its MIT too, so it is QuickGELU (checked).
        quick_gelu = True
        text_quick_gelu = hf_config.text['hidden_act'] == 'quick_gelu'
    if use_message is None:
        use_message = mit_pos is None or any('.message_' in k
                                             for k in state_dict)
    backbone = dict(
        type='CCTViT', input_resolution=grid * patch, patch_size=patch,
        width=width, layers=layers, heads=heads['vision'], output_dim=embed,
        quick_gelu=quick_gelu, use_message=use_message)
    neck = dict(
        type='MITNeck',
        num_frames=mit_pos.shape[1] if mit_pos is not None else num_frames,
        embed_dim=embed, layers=mit_layers or 1, heads=heads['mit'])
    text_cfg = dict(
        context_length=context, vocab_size=vocab, width=text_width,
        layers=text_layers, heads=heads['text'], quick_gelu=text_quick_gelu)
    prompt_cfg = dict(layers=prompt_layers or 2, heads=heads['prompt'])
    return dict(
        type='XCLIPRecognizer',
        backbone=backbone,
        neck=neck,
        cls_head=dict(type='XCLIPTextHead', class_names=class_names,
                      embed_dim=embed, vision_width=width, text_cfg=text_cfg,
                      prompt_cfg=prompt_cfg, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=IMAGENET_MEAN, std=IMAGENET_STD,
                               format_shape='NCTHW'))


def _hint(key: str, ckpt: tuple, model: tuple) -> str:
    """What a shape mismatch of ``key`` means in architecture terms."""
    if key.endswith('conv1.weight'):
        return f'patch size {ckpt[-1]} vs {model[-1]}'
    if key.endswith('token_embedding.weight'):
        return f'vocabulary {ckpt[0]} vs {model[0]}'
    return f'width {ckpt[-1]} vs {model[-1]}'


def _resizable(key: str, ckpt: tuple, model: tuple) -> bool:
    """Tables interpolated on load: the backbone's position grid (CCTViT)
    and MIT's temporal table (MITNeck), for the same width."""
    if key.endswith('backbone.positional_embedding'):
        return ckpt[1:] == model[1:]
    if key.endswith('neck.positional_embedding'):
        return len(ckpt) == 3 and ckpt[::2] == model[::2]
    return False


def check_state_dict(model: nn.Module,
                     state_dict: StateDict,
                     source: str,
                     allow_missing: Optional[re.Pattern] = None) -> List[str]:
    """Compare a state dict with a model before loading it.

    Args:
        model: The model to load into.
        state_dict: mmxclip keys.
        source: The file, named in the error.
        allow_missing: Model keys the weights may lack (e.g.
            :data:`XCLIP_ONLY` for CLIP weights).

    Returns:
        list[str]: The model keys left at their initialisation.

    Raises:
        ValueError: Unexpected keys, missing keys not allowed, or shape
            mismatches (other than a position grid the backbone resizes);
            every problem is named with both shapes.
    """
    own = model.state_dict()
    problems = []
    unexpected = sorted(set(state_dict) - set(own))
    if unexpected:
        problems.append(f'unexpected keys: {_short(unexpected)}')
    missing = sorted(set(own) - set(state_dict))
    left = [k for k in missing if allow_missing and allow_missing.search(k)]
    missing = [k for k in missing if k not in left]
    if missing:
        problems.append(f'missing keys: {_short(missing)}')
    for key in sorted(set(own) & set(state_dict)):
        ckpt, mine = tuple(state_dict[key].shape), tuple(own[key].shape)
        if ckpt != mine and not _resizable(key, ckpt, mine):
            problems.append(f'{key}: checkpoint {ckpt} vs model {mine} - '
                            f'{_hint(key, ckpt, mine)}')
    if problems:
        raise ValueError(f'{source} does not fit the model:\n  ' +
                         '\n  '.join(problems))
    return left


def _short(keys: List[str], n: int = 8) -> str:
    """The first ``n`` keys and how many more."""
    more = f' ... and {len(keys) - n} more' if len(keys) > n else ''
    return ', '.join(keys[:n]) + more
