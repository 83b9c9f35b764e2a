"""Unit behaviour of the X-CLIP modules."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from timm.layers import build_sincos2d_pos_embed
from torch import nn

from mmxclip.models.heads import CLIPTextEncoder, load_class_names, tokenize
from mmxclip.models.layers import LayerNorm, sincos_1d_pos_embed, transformer

NAMES = ['archery', 'bowling', 'juggling balls']


def tiny_cfg(**head):
    return dict(
        type='XCLIPRecognizer',
        backbone=dict(type='CCTViT', input_resolution=32, patch_size=8,
                      width=64, layers=2, output_dim=32),
        neck=dict(type='MITNeck', num_frames=4, embed_dim=32),
        cls_head=dict(type='XCLIPTextHead', class_names=NAMES, embed_dim=32,
                      vision_width=64,
                      text_cfg=dict(width=32, layers=1, vocab_size=49408),
                      **head),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               format_shape='NCTHW'))


def samples(n, label=True):
    out = []
    for i in range(n):
        s = ActionDataSample()
        if label:
            s.set_gt_label(torch.tensor(i % len(NAMES)))
        out.append(s)
    return out


def test_backbone_shapes_and_out_types():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 32, 32)
    bb = MODELS.build(dict(type='CCTViT', input_resolution=32, patch_size=8,
                           width=64, layers=2, output_dim=32)).eval()
    frames, tokens = bb.forward_features(x)
    assert frames.shape == (2, 4, 32) and tokens.shape == (2, 4, 16, 64)
    torch.testing.assert_close(bb(x), frames.mean(1))
    bb.out_type = 'frames'
    assert bb(x).shape == (2, 32, 4, 1, 1)


def test_message_tokens_carry_information_across_frames():
    """With message tokens a change in frame 3 reaches frame 0's embedding;
    without them frames are encoded independently."""
    torch.manual_seed(0)
    x = torch.randn(1, 3, 4, 32, 32)
    y = x.clone()
    y[:, :, 3] += 1
    for use_message, changes in ((True, True), (False, False)):
        bb = MODELS.build(dict(type='CCTViT', input_resolution=32,
                               patch_size=8, width=64, layers=2,
                               output_dim=32, use_message=use_message)).eval()
        with torch.no_grad():
            f0 = bb.forward_features(x)[0][0, 0]
            f1 = bb.forward_features(y)[0][0, 0]
        assert (not torch.allclose(f0, f1, atol=1e-6)) is changes


def test_backbone_rejects_wrong_input():
    bb = MODELS.build(dict(type='CCTViT', input_resolution=32, patch_size=8,
                           width=64, layers=1, output_dim=32))
    with pytest.raises(ValueError, match='built for 32x32 frames, got 24x24'):
        bb(torch.randn(1, 3, 2, 24, 24))
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        bb(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='not divisible by patch_size'):
        MODELS.build(dict(type='CCTViT', input_resolution=30, patch_size=8))


@pytest.mark.parametrize('cfg, expected, min_dist', [
    (dict(type='CCTViT', input_resolution=32, patch_size=8, width=64,
          layers=1, output_dim=32),
     torch.cat([torch.zeros(1, 64), build_sincos2d_pos_embed([4, 4], 64)]),
     0.1),
    (dict(type='MITNeck', num_frames=8, embed_dim=32),
     sincos_1d_pos_embed(8, 32), 0.5),
], ids=['CCTViT', 'MITNeck'])
def test_sincos_position_init(cfg, expected, min_dist):
    """'sincos' starts a position table from fixed sine-cosine codes:
    timm's 2D table on CCTViT's patch grid with the class token's slot at 0,
    the 1D table on MIT's frames. The codes are distinct, loaded weights
    still replace them, other values are refused."""
    module = MODELS.build(dict(cfg, pos_embed_init='sincos'))
    pos = module.positional_embedding.detach()
    rows = pos.reshape(-1, pos.shape[-1])
    torch.testing.assert_close(rows, expected)
    assert torch.cdist(rows, rows).add(torch.eye(len(rows))).min() > min_dist
    other = MODELS.build(cfg)
    module.load_state_dict(other.state_dict())
    torch.testing.assert_close(module.positional_embedding,
                               other.positional_embedding)
    with pytest.raises(ValueError, match="pos_embed_init must be 'normal' "
                       "or 'sincos', got 'learned'"):
        MODELS.build(dict(cfg, pos_embed_init='learned'))


def test_sincos_1d_table_matches_timm_axis():
    """The 1D table is the second axis of timm's 2D one on a 1 x T grid
    (timm lays out sin(h), sin(w), cos(h), cos(w))."""
    table = sincos_1d_pos_embed(8, 64)
    timm_2d = build_sincos2d_pos_embed([1, 8], 128)
    torch.testing.assert_close(table,
                               torch.cat([timm_2d[:, 32:64], timm_2d[:, 96:]],
                                         dim=1))
    torch.testing.assert_close(table[3, :32], torch.sin(3 * torch.logspace(
        0, -31 / 32 * 4, 32)))
    with pytest.raises(ValueError, match='even dim, got 63'):
        sincos_1d_pos_embed(8, 63)


def test_mit_neck_residual_mean_and_frame_check():
    neck = MODELS.build(dict(type='MITNeck', num_frames=4, embed_dim=32))
    x = torch.randn(2, 4, 32)
    out, aux = neck(x)
    assert out.shape == (2, 32) and aux == {}
    h = x + neck.positional_embedding
    for blk in neck.resblocks:
        h = blk(h)
    torch.testing.assert_close(out, (h + x).mean(1))
    with pytest.raises(ValueError, match='num_frames=4'):
        neck(torch.randn(2, 8, 32))


def test_text_encoder_cut_after_eot_is_exact():
    """Cutting the batch after the last end-of-text token gives the same
    features as running the full 77-token context."""
    torch.manual_seed(0)
    enc = CLIPTextEncoder(embed_dim=16, width=32, layers=2).eval()
    tokens = tokenize(NAMES)
    eot = tokens.argmax(-1)
    with torch.no_grad():
        x = enc.token_embedding(tokens) + enc.positional_embedding
        full = enc.ln_final(enc.transformer(x))[torch.arange(3), eot]
        full = full @ enc.text_projection
        cut = enc(tokens)
    assert int(eot.max()) + 1 < 77
    torch.testing.assert_close(cut, full, rtol=1e-5, atol=1e-6)


def test_tokenize_rejects_too_long_names():
    with pytest.raises(ValueError, match='more than the context length 8'):
        tokenize(['a very long class name indeed with many words'], 8)


def test_class_names_validation(tmp_path):
    f = tmp_path / 'labels.txt'
    f.write_text('a\nb\nc\n')
    assert load_class_names(str(f), 3) == ['a', 'b', 'c']
    with pytest.raises(ValueError, match='3 class names, but num_classes=4'):
        load_class_names(str(f), 4)
    f.write_text('a\n\nc\n')
    with pytest.raises(ValueError, match='labels.txt: line 2 is blank'):
        load_class_names(str(f))
    f.write_text('a\nb\na\n')
    with pytest.raises(ValueError, match="'a' on line 3 duplicates line 1"):
        load_class_names(str(f))
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        load_class_names(str(tmp_path / 'missing.txt'))


def one_view_at_a_time(model, inputs):
    """Logits (N, V, K) of every view run through the model on its own: one
    video, one view per call, so no order of videos and views can mix."""
    n, v = inputs.shape[:2]
    with torch.no_grad():
        return torch.stack([torch.stack([
            model.extract_feat(inputs[i:i + 1, j:j + 1], stage='head')[0][0]
            for j in range(v)]) for i in range(n)])


@pytest.mark.parametrize('average', ['prob', 'score'])
@pytest.mark.parametrize('views', [1, 3])
def test_recognizer_predict_fuses_each_videos_views(average, views):
    """``predict`` on 2 videos x V views equals each view run on its own,
    fused as ``average_clips`` says: the mean of the views' softmax
    ('prob'), the mean of their logits ('score')."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(average_clips=average)).eval()
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
    model = MODELS.build(tiny_cfg(average_clips='score')).eval()
    x = torch.randn(1, 5, 3, 4, 32, 32)
    with torch.no_grad():
        ref = model(x, samples(1), mode='predict')[0].pred_score
        model.test_cfg = dict(max_testing_views=2)
        chunked = model(x, samples(1), mode='predict')[0].pred_score
    torch.testing.assert_close(chunked, ref, rtol=1e-5, atol=1e-6)


def test_loss_trains_new_modules_not_frozen_text():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg(label_smooth_eps=0.1))
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
        cfg = tiny_cfg()
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


def test_set_class_names_changes_scores():
    """After ``set_class_names`` the scores are those of a model built with
    the new names and the same weights."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg()).eval()
    built = MODELS.build(dict(tiny_cfg(), cls_head=dict(
        tiny_cfg()['cls_head'], class_names=['a', 'b']))).eval()
    built.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 3, 4, 32, 32)
    with torch.no_grad():
        before = model(x, samples(2, label=False), mode='predict')
        model.set_class_names(['a', 'b'])
        after = model(x, samples(2, label=False), mode='predict')
        expected = built(x, samples(2, label=False), mode='predict')
    assert model.cls_head.num_classes == 2
    assert model.cls_head.class_names == ['a', 'b']
    for old, new, ref in zip(before, after, expected):
        assert old.pred_score.shape == (3, )
        torch.testing.assert_close(new.pred_score, ref.pred_score)
    assert not torch.allclose(after[0].pred_score, before[0].pred_score[:2])


def test_without_neck_video_is_mean_of_frames():
    torch.manual_seed(0)
    cfg = tiny_cfg()
    cfg['neck'] = None
    model = MODELS.build(cfg).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    video, _ = model.encode_video(x)
    torch.testing.assert_close(video,
                               model.backbone.forward_features(x)[0].mean(1))


def _float32_layer_norm(self, x):
    """CUDA autocast's policy for layer norms: computed, and returned, in
    float32 (CPU autocast keeps bfloat16, so the tests below emulate it)."""
    return F.layer_norm(x.float(), self.normalized_shape, self.weight,
                        self.bias, self.eps)


def test_layer_norm_is_nn_layer_norm_and_keeps_half_precision(monkeypatch):
    """CLIP's LayerNorm: ``nn.LayerNorm`` exactly in float32 and float64;
    under an autocast that computes it in float32 it returns the input's
    dtype without gradients (half-precision inference) and float32 with
    them (AMP training)."""
    ln = LayerNorm(64)
    nn.init.normal_(ln.weight)
    nn.init.normal_(ln.bias)
    for dtype in (torch.float32, torch.float64):
        layer = copy.deepcopy(ln).to(dtype)
        x = torch.randn(2, 5, 64, dtype=dtype)
        assert torch.equal(layer(x), F.layer_norm(
            x, (64, ), layer.weight, layer.bias, layer.eps))
    monkeypatch.setattr(nn.LayerNorm, 'forward', _float32_layer_norm)
    x = torch.randn(2, 5, 64).bfloat16()
    with torch.no_grad():
        out = ln(x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, _float32_layer_norm(ln, x).bfloat16())
    assert ln(x).dtype == torch.float32


def test_bf16_autocast_half_residual_stream_float32_logits(monkeypatch):
    """The model under bf16 autocast (layer norms in float32, as on CUDA):
    evaluation keeps the residual stream in bfloat16 and gives float32
    logits close to float32's; training keeps the stream in float32 and
    its loss and top-k accuracy (numpy, no bfloat16) work."""
    monkeypatch.setattr(nn.LayerNorm, 'forward', _float32_layer_norm)
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg()).eval()
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


def test_backbone_compiles_without_graph_breaks():
    """The backbone's forward is one dynamo graph (what ``torch.compile``
    with ``fullgraph=True`` needs; tools/benchmark.py compiles it so on
    CUDA)."""
    import torch._dynamo
    backbone = MODELS.build(dict(
        type='CCTViT', input_resolution=32, patch_size=16, width=64,
        layers=2, output_dim=32)).eval()
    torch._dynamo.reset()
    try:
        with torch.no_grad():
            explained = torch._dynamo.explain(backbone.forward_features)(
                torch.randn(1, 3, 4, 32, 32))
    finally:
        torch._dynamo.reset()
    assert (explained.graph_count, explained.graph_break_count) == (1, 0)
