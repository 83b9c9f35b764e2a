"""State-dict conversion between X-CLIP's formats and mmxclip's names.

Three namings meet here:

* **official** — microsoft/VideoX X-CLIP, a superset of OpenAI CLIP's names
  (``visual.*``, ``transformer.*``, ``token_embedding`` ...) plus
  ``visual.transformer.resblocks.{i}.message_*``, ``mit.*``,
  ``prompts_visual_ln``, ``prompts_visual_proj`` and ``prompts_generator.*``
  (whose cross-attention has separate ``q_proj``/``k_proj``/``v_proj`` and
  ``proj``). A CLIP checkpoint is the official naming without X-CLIP's parts.
* **hf** — ``transformers.XCLIPModel``: renamed modules, every fused
  ``in_proj`` split into q/k/v, projections stored as ``nn.Linear`` weights
  (the transpose of CLIP's matrices).
* **mmxclip** — :class:`XCLIPRecognizer`: ``backbone.*`` (= ``visual.*``),
  ``neck.*`` (= ``mit.*``) and ``cls_head.*`` (text encoder, prompts,
  ``logit_scale``), with fused ``in_proj`` everywhere.

HF is converted to official names first, so both X-CLIP formats reach
mmxclip through :func:`official_to_mmxclip`; OpenAI / open_clip CLIP state
dicts take the same road after :func:`clip_to_mmxclip` drops what is not a
parameter.
"""
import re
from typing import Dict, List, Tuple

import torch
from torch import Tensor

StateDict = Dict[str, Tensor]

# HF module paths -> official / OpenAI CLIP paths, applied in order.
_HF_RENAMES: List[Tuple[str, str]] = [
    (r'^vision_model\.embeddings\.class_embedding$',
     'visual.class_embedding'),
    (r'^vision_model\.embeddings\.patch_embedding\.', 'visual.conv1.'),
    (r'^vision_model\.embeddings\.position_embedding\.weight$',
     'visual.positional_embedding'),
    (r'^vision_model\.pre_layer?norm\.', 'visual.ln_pre.'),
    (r'^vision_model\.post_layernorm\.', 'visual.ln_post.'),
    (r'^vision_model\.encoder\.layers\.', 'visual.transformer.resblocks.'),
    (r'^text_model\.embeddings\.token_embedding\.', 'token_embedding.'),
    (r'^text_model\.embeddings\.position_embedding\.weight$',
     'positional_embedding'),
    (r'^text_model\.encoder\.layers\.', 'transformer.resblocks.'),
    (r'^text_model\.final_layer_norm\.', 'ln_final.'),
    (r'^mit\.position_embedding$', 'mit.positional_embedding'),
    (r'^mit\.encoder\.layers\.', 'mit.resblocks.'),
    (r'^prompts_visual_layernorm\.', 'prompts_visual_ln.'),
    (r'^prompts_visual_projection$', 'prompts_visual_proj'),
    (r'^prompts_generator\.layernorm\.', 'prompts_generator.norm.'),
    (r'\.self_attn\.out_proj\.', '.attn.out_proj.'),
    (r'\.layer_norm1\.', '.ln_1.'),
    (r'\.layer_norm2\.', '.ln_2.'),
    (r'\.mlp\.fc1\.', '.mlp.c_fc.'),
    (r'\.mlp\.fc2\.', '.mlp.c_proj.'),
]
# Linear weights in HF that are (transposed) parameters in CLIP.
_HF_TRANSPOSED = {
    'visual_projection.weight': 'visual.proj',
    'text_projection.weight': 'text_projection',
}
_QKV = re.compile(r'^(.*)\.(self_attn|message_attn)\.q_proj\.(weight|bias)$')


def hf_to_official(state_dict: StateDict) -> StateDict:
    """Rename a ``transformers.XCLIPModel`` state dict to official names.

    Args:
        state_dict: HF keys (``vision_model.*``, ``text_model.*``, ``mit.*``,
            ``prompts_*``, ``visual_projection.weight``, ...).

    Returns:
        dict: Official keys; q/k/v of self- and message attention fused to
        ``in_proj_*``; the prompt generator's cross-attention is left split,
        as the official code stores it.

    Raises:
        KeyError: A q projection without its k or v partner.
    """
    sd = {k: v for k, v in state_dict.items() if not is_non_parameter(k)}
    out: StateDict = {}
    for key in list(sd):
        match = _QKV.match(key)
        if not match:
            continue
        prefix, attn, kind = match.groups()
        parts = [f'{prefix}.{attn}.{p}_proj.{kind}' for p in 'qkv']
        missing = [p for p in parts if p not in sd]
        if missing:
            raise KeyError(f'HF state dict has {key} but not {missing}')
        name = 'attn' if attn == 'self_attn' else attn
        out[f'{prefix}.{name}.in_proj_{kind}'] = torch.cat(
            [sd.pop(p) for p in parts])
    for key, value in sd.items():
        if key in _HF_TRANSPOSED:
            out[_HF_TRANSPOSED[key]] = value.t().contiguous()
            continue
        for pattern, repl in _HF_RENAMES:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return _prefix_attn_keys(out)


def _prefix_attn_keys(sd: StateDict) -> StateDict:
    """Rename fused ``{prefix}.attn`` keys that came from message attention
    back into place (``message_attn`` stays ``message_attn``)."""
    for key in list(sd):
        for pattern, repl in _HF_RENAMES:
            new = re.sub(pattern, repl, key)
            if new != key:
                sd[new] = sd.pop(key)
                key = new
    return sd


_CROSS_QKV = re.compile(
    r'^prompts_generator\.decoder\.(\d+)\.cross_attn\.q_proj\.weight$')


def official_to_mmxclip(state_dict: StateDict) -> StateDict:
    """Map official X-CLIP (or OpenAI CLIP) names onto
    :class:`XCLIPRecognizer`.

    Args:
        state_dict: Official keys, without a ``module.`` prefix.

    Returns:
        dict: mmxclip keys. CLIP-only checkpoints give only the backbone and
        text-encoder keys.

    Raises:
        KeyError: A key this naming does not know, or a split cross-attention
            with a missing part; the message names the key.
    """
    sd = dict(state_dict)
    out: StateDict = {}
    for key in list(sd):
        match = _CROSS_QKV.match(key)
        if match:
            base = key[:-len('q_proj.weight')]
            parts = [f'{base}{p}_proj.weight' for p in 'qkv']
            missing = [p for p in parts if p not in sd]
            if missing:
                raise KeyError(f'state dict has {key} but not {missing}')
            out['cls_head.' + base + 'in_proj_weight'] = torch.cat(
                [sd.pop(p) for p in parts])
    for key, value in sd.items():
        out[_official_key_to_mmxclip(key)] = value
    return out


_TEXT_KEYS = ('token_embedding.', 'positional_embedding', 'transformer.',
              'ln_final.', 'text_projection')


def _official_key_to_mmxclip(key: str) -> str:
    """One official key -> its mmxclip key."""
    if key.startswith('visual.'):
        return 'backbone.' + key[len('visual.'):]
    if key.startswith('mit.'):
        return 'neck.' + key[len('mit.'):]
    if key.startswith('prompts_'):
        key = re.sub(r'\.cross_attn\.proj\.', '.cross_attn.out_proj.', key)
        return 'cls_head.' + key
    if key == 'logit_scale':
        return 'cls_head.logit_scale'
    if key.startswith(_TEXT_KEYS):
        return 'cls_head.text_encoder.' + key
    raise KeyError(f'unexpected key {key!r}: not an OpenAI CLIP or official '
                   'X-CLIP parameter name')


def hf_to_mmxclip(state_dict: StateDict) -> StateDict:
    """``transformers.XCLIPModel`` state dict -> :class:`XCLIPRecognizer`."""
    return official_to_mmxclip(hf_to_official(state_dict))


# Entries that are not parameters: the ints OpenAI's TorchScript archives
# carry beside the tensors, the causal masks older open_clip / OpenAI code
# stored as buffers, HF's position ids.
_NON_PARAMETERS = re.compile(
    r'(^|\.)(input_resolution|context_length|vocab_size|attn_mask|'
    r'position_ids)$')


def is_non_parameter(key: str) -> bool:
    """Whether ``key`` of a CLIP / HF state dict is not a parameter."""
    return bool(_NON_PARAMETERS.search(key))


def strip_prefix(state_dict: StateDict, prefix: str = 'module.') -> StateDict:
    """Remove ``prefix`` (DDP's ``module.``) from the keys that have it."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v
            for k, v in state_dict.items()}


def clip_to_mmxclip(state_dict: StateDict) -> StateDict:
    """OpenAI / open_clip CLIP state dict -> :class:`XCLIPRecognizer` keys.

    Only CLIP's own block layout is in scope (``visual.conv1``,
    ``visual.transformer.resblocks``, ...); open_clip models with other
    towers (timm trunks, custom text towers) fail in
    :func:`official_to_mmxclip` with the key that does not fit.

    Args:
        state_dict: CLIP keys, possibly with the three ints of an OpenAI
            TorchScript archive and ``attn_mask`` buffers.

    Returns:
        dict: ``backbone.*``, ``cls_head.text_encoder.*`` and
        ``cls_head.logit_scale``.
    """
    sd = {k: v for k, v in strip_prefix(state_dict).items()
          if not is_non_parameter(k)}
    return official_to_mmxclip(sd)
