"""XCLIPRecognizer: multi-view fusion, training the new modules, activation
checkpointing, no neck, bf16 autocast."""

import pytest
import torch
from helpers.tiny_model import (UNIT, float32_layer_norm, one_view_at_a_time,
                                samples, tiny_xclip_cfg)
from mmaction.registry import MODELS
from torch import nn

from mmxclip.models.layers import transformer


@pytest.mark.parametrize('average', ['prob', 'score'])
@pytest.mark.parametrize('views', [1, 3])
def test_recognizer_predict_fuses_each_videos_views(average, views):
    """``predict`` on 2 videos x V views equals each view run on its own,
    fused as ``average_clips`` says: the mean of the views' softmax
    ('prob'), the mean of their logits ('score')."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_xclip_cfg(**UNIT, average_clips=average)).eval()
    x = torch.randn(2, views, 3, 4, 32, 32)
    logits = one_view_at_a_time(model, x)
    if views > 1:  # the views, and the videos, really differ
        assert logits.std(dim=1).min() > 1e-3
    expected = (logits.softmax(-1) if average == 'prob' else logits).mean(1)
    with torch.no_grad():
        out = model(x, samples(2), mode='predict')
    for s, e in zip(out, expected):
        assert s.pred_score.shape == (3, )
        torch.testing.assert_close(s.pred_score, e)
        assert s.pred_label.item() == e.argmax().item()


def test_max_testing_views_gives_same_scores():
    torch.manual_seed(0)
    model = MODELS.build(tiny_xclip_cfg(**UNIT, average_clips='score')).eval()
    x = torch.randn(1, 5, 3, 4, 32, 32)
    with torch.no_grad():
        ref = model(x, samples(1), mode='predict')[0].pred_score
        model.test_cfg = dict(max_testing_views=2)
        chunked = model(x, samples(1), mode='predict')[0].pred_score
    torch.testing.assert_close(chunked, ref, rtol=1e-5, atol=1e-6)


def test_loss_trains_new_modules_not_frozen_text():
    torch.manual_seed(0)
    model = MODELS.build(tiny_xclip_cfg(**UNIT, label_smooth_eps=0.1))
    x = torch.randn(2, 1, 3, 4, 32, 32)
    losses = model(x, samples(2), mode='loss')
    assert set(losses) >= {'loss_cls', 'top1_acc'}
    losses['loss_cls'].backward()
    head = model.cls_head
    assert all(p.grad is None for p in head.text_encoder.parameters())
    assert head.logit_scale.grad is None
    assert head.prompts_generator.alpha.grad.abs().sum() > 0
    assert model.backbone.transformer.resblocks[0].message_fc.weight.grad \
        .abs().sum() > 0
    assert model.neck.positional_embedding.grad.abs().sum() > 0


def test_activation_checkpointing_gives_the_same_loss_and_gradients(
        monkeypatch):
    """``backbone.with_cp=True`` recomputes every block in the backward
    pass (torch's checkpoint is called once per block) and gives exactly
    the loss and gradients of the plain model."""
    calls = []
    real = transformer.checkpoint
    monkeypatch.setattr(transformer, 'checkpoint', lambda *args, **kwargs: (
        calls.append(1), real(*args, **kwargs))[1])
    grads = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        cfg = tiny_xclip_cfg(**UNIT)
        cfg['backbone']['with_cp'] = with_cp
        model = MODELS.build(cfg)
        torch.manual_seed(1)
        loss = model(torch.randn(2, 1, 3, 4, 32, 32), samples(2),
                     mode='loss')['loss_cls']
        loss.backward()
        grads.append((loss.detach(), {n: p.grad for n, p in
                                      model.named_parameters()
                                      if p.grad is not None}))
    assert len(calls) == 2  # the backbone's 2 blocks, with_cp only
    assert torch.equal(grads[0][0], grads[1][0])
    assert grads[0][1].keys() == grads[1][1].keys()
    assert all(torch.equal(g, grads[1][1][n]) for n, g in grads[0][1].items())


def test_without_neck_video_is_mean_of_frames():
    torch.manual_seed(0)
    cfg = tiny_xclip_cfg(**UNIT)
    cfg['neck'] = None
    model = MODELS.build(cfg).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    video, _ = model.encode_video(x)
    torch.testing.assert_close(video,
                               model.backbone.forward_features(x)[0].mean(1))


def test_bf16_autocast_half_residual_stream_float32_logits(monkeypatch):
    """The model under bf16 autocast (layer norms in float32, as on CUDA):
    evaluation keeps the residual stream in bfloat16 and gives float32
    logits close to float32's; training keeps the stream in float32 and
    its loss and top-k accuracy (numpy, no bfloat16) work."""
    monkeypatch.setattr(nn.LayerNorm, 'forward', float32_layer_norm)
    torch.manual_seed(0)
    model = MODELS.build(tiny_xclip_cfg(**UNIT)).eval()
    x = torch.randn(2, 1, 3, 4, 32, 32)
    stream = []
    model.backbone.transformer.resblocks[0].register_forward_hook(
        lambda module, args, out: stream.append(out.dtype))
    with torch.no_grad():
        ref = model.extract_feat(x, stage='head')[0]
        with torch.autocast('cpu', dtype=torch.bfloat16):
            logits = model.extract_feat(x, stage='head')[0]
    assert stream == [torch.float32, torch.bfloat16]
    assert logits.dtype == torch.float32
    assert ref.std() > 0.1
    assert ((logits - ref).abs().max() / ref.abs().max()) < 3e-2
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(x, samples(2), mode='loss')
    assert stream[-1] == torch.float32
    assert losses['loss_cls'].dtype == torch.float32
    assert torch.isfinite(losses['loss_cls'])
    losses['loss_cls'].backward()
