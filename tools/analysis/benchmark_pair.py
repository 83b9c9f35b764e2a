"""mmxclip's ``XCLIPRecognizer`` and HuggingFace's ``XCLIPModel`` on equal
weights, and the calls ``tools/benchmark.py`` times for each mode.

Both models are built at a size of :data:`SPECS` (random weights: HF's own
init, converted with :func:`mmxclip.weights.hf_to_mmxclip`):

* ``eval``: the full eval forward with ``K`` class texts. HF gets the
  ``input_ids`` of the K class names on every call, as a user of
  ``XCLIPModel`` passes them; mmxclip runs ``XCLIPRecognizer.predict``,
  whose head caches the class features.
* ``vision``: the video path alone (CCT backbone + MIT), HF's
  ``get_video_features``.
* ``train`` / ``train_cp``: forward + backward + AdamW step with the text
  encoder frozen (as published), without / with activation checkpointing.
"""
import contextlib
import dataclasses
import warnings
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmaction.utils import register_all_modules
from torch import Tensor, nn

import mmxclip  # noqa: F401  (stack fixes, registries)
from mmxclip.models.heads import tokenize
from mmxclip.models.layers import default_num_heads
from mmxclip.weights import (hf_to_mmxclip, infer_model_config,
                             resolve_hf_config)

register_all_modules(init_default_scope=True)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Sizes of one X-CLIP variant (OpenAI CLIP's, plus X-CLIP's defaults).

    Attributes:
        image: Frame size.
        patch: Patch size.
        width: Vision width D (heads D / 64).
        layers: Vision blocks.
        embed: Joint embedding dim E (MIT and prompt heads E / 64).
        text_width: Text transformer width (heads width / 64).
        text_layers: Text transformer blocks.
    """
    image: int
    patch: int
    width: int
    layers: int
    embed: int
    text_width: int
    text_layers: int


SPECS: Dict[str, ModelSpec] = {
    'B/32': ModelSpec(224, 32, 768, 12, 512, 512, 12),
    'B/16': ModelSpec(224, 16, 768, 12, 512, 512, 12),
    'L/14': ModelSpec(224, 14, 1024, 24, 768, 768, 12),
    'tiny': ModelSpec(32, 16, 64, 2, 64, 64, 2),
}

_VERBS = ('playing', 'riding', 'cleaning', 'throwing', 'carrying', 'washing',
          'cutting', 'painting', 'folding', 'catching', 'kicking', 'pushing',
          'climbing', 'juggling', 'building', 'shaking', 'opening', 'tying',
          'cooking', 'repairing')
_OBJECTS = ('guitar', 'bike', 'the dishes', 'a ball', 'wood', 'a car',
            'the windows', 'a fence', 'clothes', 'a frisbee', 'a tire',
            'a rope', 'a ladder', 'eggs', 'sand castles', 'hands', 'a present',
            'shoelaces', 'pasta', 'a watch')


def class_names(k: int) -> List[str]:
    """``k`` distinct action-like class names of Kinetics-400's length."""
    names = [f'{v} {o}' for o in _OBJECTS for v in _VERBS]
    names += [f'{n} outdoors' for n in names]
    if k > len(names):
        raise ValueError(f'at most {len(names)} class names, asked for {k}')
    return names[:k]


def hf_config(spec: ModelSpec, frames: int):
    """``transformers.XCLIPConfig`` of a spec."""
    from transformers import XCLIPConfig
    w, e, tw = spec.width, spec.embed, spec.text_width
    return XCLIPConfig(
        projection_dim=e,
        prompt_layers=2,
        prompt_alpha=0.1,
        prompt_num_attention_heads=default_num_heads(e),
        text_config=dict(hidden_size=tw, intermediate_size=4 * tw,
                         num_hidden_layers=spec.text_layers,
                         num_attention_heads=default_num_heads(tw)),
        vision_config=dict(hidden_size=w, intermediate_size=4 * w,
                           num_hidden_layers=spec.layers,
                           num_attention_heads=default_num_heads(w),
                           image_size=spec.image, patch_size=spec.patch,
                           num_frames=frames, mit_hidden_size=e,
                           mit_intermediate_size=4 * e,
                           mit_num_hidden_layers=1,
                           mit_num_attention_heads=default_num_heads(e)))


def build_pair(spec: ModelSpec, frames: int, names: Sequence[str],
               device: str, with_hf: bool = True, seed: int = 0):
    """mmxclip's recognizer and HF's ``XCLIPModel`` with the same weights.

    Args:
        spec: Model sizes.
        frames: T.
        names: Class names of mmxclip's head.
        device: Where both models go.
        with_hf: Keep the HF model (else only its weights are used).
        seed: Seed of HF's random init.

    Returns:
        tuple: ``(mmxclip, hf or None)``, both in eval mode.
    """
    from transformers import XCLIPModel
    torch.manual_seed(seed)
    cfg = hf_config(spec, frames)
    cfg._attn_implementation = 'sdpa'
    hf = XCLIPModel(cfg).eval()
    sd = hf_to_mmxclip(hf.state_dict())
    mmx = MODELS.build(infer_model_config(
        sd, list(names), hf_config=resolve_hf_config(cfg.to_dict(),
                                                     'XCLIPConfig')))
    mmx.load_state_dict(sd)
    mmx.eval().to(device)
    return mmx, (hf.to(device) if with_hf else None)


@dataclasses.dataclass
class Inputs:
    """One batch in both layouts, the class token ids and labels."""
    hf_videos: Tensor    # (B, T, C, H, W)
    mmx_videos: Tensor   # (B, 1, C, T, H, W)
    input_ids: Tensor    # (K, L)
    labels: Tensor       # (B,)

    def samples(self, with_labels: bool = False) -> List[ActionDataSample]:
        """MMAction2 data samples of the batch."""
        out = []
        for label in self.labels.tolist():
            s = ActionDataSample()
            if with_labels:
                s.set_gt_label(label)
            out.append(s)
        return out


def make_inputs(spec: ModelSpec, frames: int, batch: int,
                names: Sequence[str], device: str, padding: str) -> Inputs:
    """Random videos, and the names' ids as an HF user passes them."""
    g = torch.Generator().manual_seed(batch * 1000 + frames)
    v = torch.randn(batch, frames, 3, spec.image, spec.image, generator=g)
    ids = tokenize(list(names))
    if padding == 'longest':
        ids = ids[:, :int(ids.argmax(-1).max()) + 1]
    labels = torch.randint(len(names), (batch, ), generator=g)
    return Inputs(v.to(device), v.transpose(1, 2).unsqueeze(1).to(device),
                  ids.to(device), labels.to(device))


def _autocast(device: str, dtype: str):
    if dtype == 'fp32':
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def compiled(mmx: nn.Module, hf: Optional[nn.Module]) -> Iterator[None]:
    """Run both models' eval paths through ``torch.compile``.

    mmxclip: the backbone with ``fullgraph=True`` (a graph break is an
    error), and the neck; the head's text cache stays eager. HF: ``forward``
    and ``get_video_features``, graph breaks allowed.
    """
    patched = [(mmx.backbone, 'forward_features', dict(fullgraph=True)),
               (mmx.neck, 'forward', {})]
    if hf is not None:
        patched += [(hf, 'forward', {}), (hf, 'get_video_features', {})]
    for obj, name, kwargs in patched:
        # static shapes: one graph per batch size, as each row times one
        setattr(obj, name, torch.compile(getattr(obj, name), dynamic=False,
                                         **kwargs))
    try:
        yield
    finally:
        for obj, name, _ in patched:
            delattr(obj, name)


def eval_fns(mmx, hf, x: Inputs, dtype: str) -> Dict[str, Callable]:
    """Full eval forward: logits over the K classes."""
    samples = x.samples()

    def run_mmx():
        with torch.no_grad(), _autocast(x.hf_videos.device.type, dtype):
            return mmx(x.mmx_videos, samples, mode='predict')

    def run_hf():
        with torch.no_grad(), _autocast(x.hf_videos.device.type, dtype):
            return hf(input_ids=x.input_ids,
                      pixel_values=x.hf_videos).logits_per_video

    return {'mmxclip': run_mmx, **({'hf': run_hf} if hf else {})}


def vision_fns(mmx, hf, x: Inputs, dtype: str) -> Dict[str, Callable]:
    """Video path alone: CCT backbone and MIT, video embeddings (B, E)."""
    clips = x.mmx_videos[:, 0]

    def run_mmx():
        with torch.no_grad(), _autocast(clips.device.type, dtype):
            return mmx.encode_video(clips)

    def run_hf():
        with torch.no_grad(), _autocast(clips.device.type, dtype):
            return hf.get_video_features(pixel_values=x.hf_videos)

    return {'mmxclip': run_mmx, **({'hf': run_hf} if hf else {})}


def _freeze_hf_text(hf) -> None:
    """Freeze what the published recipe freezes (text side, logit scale)."""
    for name, p in hf.named_parameters():
        if name.startswith(('text_model.', 'text_projection', 'logit_scale')):
            p.requires_grad_(False)


def train_fns(mmx, hf, x: Inputs, dtype: str,
              with_cp: bool) -> Dict[str, Callable]:
    """Training step: forward, backward, AdamW step, gradients freed."""
    samples = x.samples(with_labels=True)
    device = x.hf_videos.device.type
    mmx.train()
    mmx.backbone.transformer.with_cp = with_cp
    opt_m = torch.optim.AdamW(
        [p for p in mmx.parameters() if p.requires_grad], lr=1e-6)

    def run_mmx():
        with _autocast(device, dtype):
            loss = mmx(x.mmx_videos, samples, mode='loss')['loss_cls']
        loss.backward()
        opt_m.step()
        opt_m.zero_grad(set_to_none=True)
        return loss

    fns = {'mmxclip': run_mmx}
    if hf is not None:
        hf.train()
        _freeze_hf_text(hf)
        with warnings.catch_warnings():  # renamed activation_* in 5.2x
            warnings.simplefilter('ignore', FutureWarning)
            if with_cp:
                hf.gradient_checkpointing_enable(dict(use_reentrant=False))
            else:
                hf.gradient_checkpointing_disable()
        opt_h = torch.optim.AdamW(
            [p for p in hf.parameters() if p.requires_grad], lr=1e-6)

        def run_hf():
            with _autocast(device, dtype):
                logits = hf(input_ids=x.input_ids,
                            pixel_values=x.hf_videos).logits_per_video
                loss = F.cross_entropy(logits.float(), x.labels)
            loss.backward()
            opt_h.step()
            opt_h.zero_grad(set_to_none=True)
            return loss

        fns['hf'] = run_hf
    return fns
