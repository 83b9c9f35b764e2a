"""Tiny random HuggingFace X-CLIP models and their mmxclip twins (tests
only)."""
from typing import Dict, Tuple

import torch
from transformers import XCLIPConfig, XCLIPModel

from mmxclip.models.heads import tokenize

CLASS_NAMES = ['playing guitar', 'riding a bike', 'swimming', 'cooking pasta',
               'dancing ballet']


def tiny_hf_config(patch: int = 16, frames: int = 4, layers: int = 2,
                   image: int = 32, width: int = 64, embed: int = 32):
    """A small ``XCLIPConfig`` with CLIP's vocabulary and context."""
    return XCLIPConfig(
        projection_dim=embed,
        prompt_layers=2,
        prompt_alpha=0.1,
        prompt_num_attention_heads=2,
        text_config=dict(vocab_size=49408, hidden_size=48,
                         intermediate_size=192, num_hidden_layers=2,
                         num_attention_heads=3, max_position_embeddings=77),
        vision_config=dict(hidden_size=width, intermediate_size=4 * width,
                           num_hidden_layers=layers, num_attention_heads=4,
                           image_size=image, patch_size=patch,
                           num_frames=frames, mit_hidden_size=embed,
                           mit_intermediate_size=4 * embed,
                           mit_num_hidden_layers=1,
                           mit_num_attention_heads=2))


def random_hf_model(seed: int = 0, config=None, **cfg):
    """A randomly initialised ``XCLIPModel`` in eval mode, non-trivial
    everywhere (random layer-norm affine, biases and alpha), for ``config``
    or ``tiny_hf_config(**cfg)``."""
    torch.manual_seed(seed)
    model = XCLIPModel(config or tiny_hf_config(**cfg)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'layer_norm' in name or 'layernorm' in name or 'norm' in name:
                p.copy_(1 + 0.1 * torch.randn_like(p) if name.endswith(
                    'weight') else 0.1 * torch.randn_like(p))
            elif name.endswith('bias') or name.endswith('alpha'):
                p.copy_(0.1 * torch.randn_like(p))
            elif 'position_embedding' in name and p.dim() == 3:
                p.copy_(0.02 * torch.randn_like(p))
    return model


def mmxclip_config_for(hf_model) -> Dict:
    """The :class:`XCLIPRecognizer` config matching an HF model."""
    c = hf_model.config
    v, t = c.vision_config, c.text_config
    return dict(
        type='XCLIPRecognizer',
        backbone=dict(type='CCTViT', input_resolution=v.image_size,
                      patch_size=v.patch_size, width=v.hidden_size,
                      layers=v.num_hidden_layers, heads=v.num_attention_heads,
                      output_dim=c.projection_dim),
        neck=dict(type='MITNeck', num_frames=v.num_frames,
                  embed_dim=c.projection_dim,
                  layers=v.mit_num_hidden_layers,
                  heads=v.mit_num_attention_heads),
        cls_head=dict(
            type='XCLIPTextHead', class_names=CLASS_NAMES,
            embed_dim=c.projection_dim, vision_width=v.hidden_size,
            text_cfg=dict(context_length=t.max_position_embeddings,
                          vocab_size=t.vocab_size, width=t.hidden_size,
                          layers=t.num_hidden_layers,
                          heads=t.num_attention_heads),
            prompt_cfg=dict(layers=c.prompt_layers, alpha=c.prompt_alpha,
                            heads=c.prompt_num_attention_heads),
            average_clips='score'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               format_shape='NCTHW'))


def hf_logits(hf_model, videos: torch.Tensor) -> torch.Tensor:
    """HF's ``logits_per_video`` for videos (B, T, C, H, W)."""
    ids = tokenize(CLASS_NAMES)
    with torch.no_grad():
        return hf_model(input_ids=ids, pixel_values=videos).logits_per_video


def random_videos(hf_model, batch: int = 2,
                  seed: int = 1) -> Tuple[torch.Tensor, torch.Tensor]:
    """Random videos as HF takes them (B, T, C, H, W) and as mmxclip's
    recognizer takes them (B, 1, C, T, H, W)."""
    v = hf_model.config.vision_config
    g = torch.Generator().manual_seed(seed)
    videos = torch.randn(batch, v.num_frames, 3, v.image_size, v.image_size,
                         generator=g)
    return videos, videos.transpose(1, 2).unsqueeze(1)
