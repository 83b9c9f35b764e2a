"""mmxclip reproduces HuggingFace's X-CLIP numerically (float32)."""
import pytest
import torch
from helpers.hf_reference import (hf_logits, mmxclip_config_for,
                                  random_hf_model, random_videos)
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from mmxclip.weights import hf_to_mmxclip

CONFIGS = [dict(patch=16, frames=4, layers=2, image=32),
           dict(patch=32, frames=8, layers=3, image=64)]


def build_converted(hf_model):
    model = MODELS.build(mmxclip_config_for(hf_model)).eval()
    missing, unexpected = model.load_state_dict(
        hf_to_mmxclip(hf_model.state_dict()), strict=False)
    assert not unexpected
    assert not missing
    return model


def config_id(c):
    return 'p{patch}f{frames}l{layers}'.format(**c)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize('cfg', CONFIGS, ids=config_id)
def test_predict_matches_hf_logits(cfg):
    hf = random_hf_model(seed=cfg['frames'], **cfg)
    model = build_converted(hf)
    for seed in (11, 12):  # fresh inputs each time
        videos, inputs = random_videos(hf, batch=3, seed=seed)
        ref = hf_logits(hf, videos)
        samples = [ActionDataSample() for _ in range(3)]
        with torch.no_grad():
            out = model(inputs, samples, mode='predict')
        ours = torch.stack([s.pred_score for s in out])
        err = rel_err(ours, ref)
        print(f'{cfg}: max|d|/max|ref| = {err:.3g}')
        assert err <= 1e-5
        assert ref.std() > 0.1  # the logits discriminate, not a constant


@pytest.mark.parametrize('cfg', CONFIGS, ids=config_id)
def test_backbone_matches_hf_vision_model(cfg):
    hf = random_hf_model(seed=3, **cfg)
    model = build_converted(hf)
    videos, inputs = random_videos(hf, batch=2, seed=21)
    b, t = videos.shape[:2]
    with torch.no_grad():
        vis = hf.vision_model(pixel_values=videos.flatten(0, 1))
        ref_frames = hf.visual_projection(vis.pooler_output).view(b, t, -1)
        ref_tokens = vis.last_hidden_state[:, 1:].unflatten(0, (b, t))
        frames, tokens = model.backbone.forward_features(inputs[:, 0])
    assert rel_err(frames, ref_frames) <= 1e-5
    assert rel_err(tokens, ref_tokens) <= 1e-5
    with torch.no_grad():
        ref_video = hf.get_video_features(pixel_values=videos).pooler_output
        video, _ = model.neck(frames)
    assert rel_err(video, ref_video) <= 1e-5


def test_conversion_is_not_vacuous():
    """A wrong weight (here: one q/k/v slice swapped) breaks equivalence."""
    hf = random_hf_model(seed=5, **CONFIGS[0])
    model = build_converted(hf)
    w = model.backbone.transformer.resblocks[0].attn.in_proj_weight
    d = w.shape[1]
    with torch.no_grad():
        w.copy_(torch.cat([w[d:2 * d], w[:d], w[2 * d:]]))
    videos, inputs = random_videos(hf, batch=2, seed=31)
    with torch.no_grad():
        out = model(inputs, [ActionDataSample() for _ in range(2)],
                    mode='predict')
    ours = torch.stack([s.pred_score for s in out])
    assert rel_err(ours, hf_logits(hf, videos)) > 1e-3
