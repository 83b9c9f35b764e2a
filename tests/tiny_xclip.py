"""A tiny random XCLIPRecognizer saved as an mmxclip checkpoint (no
HuggingFace needed), for the API and tool tests of issue 16."""
import copy
from typing import Dict, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

LABELS = ['a square moving right', 'a dog', 'cooking pasta', 'swimming']


def tiny_xclip_cfg(num_frames: int = 8,
                   class_names: Sequence[str] = LABELS) -> Dict:
    """32 px frames, patch 16 (4 patches), width 64, E = 32."""
    return dict(
        type='XCLIPRecognizer',
        backbone=dict(type='CCTViT', input_resolution=32, patch_size=16,
                      width=64, layers=2, heads=2, output_dim=32),
        neck=dict(type='MITNeck', num_frames=num_frames, embed_dim=32,
                  heads=2),
        cls_head=dict(type='XCLIPTextHead', class_names=list(class_names),
                      embed_dim=32, vision_width=64,
                      text_cfg=dict(width=32, layers=1, heads=1),
                      prompt_cfg=dict(heads=2), average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               mean=[122.8, 116.7, 104.1],
                               std=[68.5, 66.6, 70.3], format_shape='NCTHW'))


def tiny_xclip(num_frames: int = 8, seed: int = 0,
               class_names: Sequence[str] = LABELS):
    """The model in eval mode, non-trivial everywhere: random norm affines,
    biases, prompt alpha, and a temporal table of unit scale (X-CLIP's init,
    std 0.02, would hide what interpolating it does)."""
    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_xclip_cfg(num_frames, class_names)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or name.endswith('alpha'):
                p.add_(0.1 * torch.randn_like(p))
            elif 'ln' in name or 'norm' in name:
                p.add_(0.1 * torch.randn_like(p))
        model.neck.positional_embedding.normal_()
    return model


def save_tiny_xclip(path: str, num_frames: int = 8, seed: int = 0) -> str:
    """An mmxclip checkpoint (``meta['model_cfg']``, as
    ``tools/convert_weights.py`` writes) of :func:`tiny_xclip`."""
    model = tiny_xclip(num_frames, seed)
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(model_cfg=copy.deepcopy(tiny_xclip_cfg(num_frames)))),
        path)
    return path
