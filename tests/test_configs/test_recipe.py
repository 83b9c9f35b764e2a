"""The K400 recipe as the configs state it, on tiny models: parameter groups,
mixup / cutmix soft labels in the loss, multi-view fusion, and CCTViT under
MMAction2's stock recognizer and heads; tools/train.py --amp and
--auto-scale-lr on the K400 configs. (Against the official code:
test_official_recipe.py.)"""
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from helpers import ROOT
from helpers.tiny_model import one_view_at_a_time
from helpers.weight_files import load_tool
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import Runner

B16 = osp.join(ROOT, 'configs', 'xclip_b16_k400.py')
CLASSES = [f'class {i}' for i in range(5)]
NEW_MODULES = ('message_', 'neck.', 'prompts')


def tiny_b16_recipe() -> Config:
    """configs/xclip_b16_k400.py with the model shrunk (recipe unchanged)."""
    cfg = Config.fromfile(B16)
    cfg.merge_from_dict({
        'model.backbone': dict(input_resolution=32, width=64, layers=2,
                               output_dim=32, heads=2, init_cfg=None),
        'model.neck': dict(num_frames=4, embed_dim=32),
        'model.cls_head': dict(class_names=CLASSES, num_classes=5,
                               embed_dim=32, vision_width=64,
                               text_cfg=dict(width=32, layers=1, heads=2),
                               init_cfg=None),
    })
    for blend in cfg.model.data_preprocessor.blending.augments:
        blend.num_classes = 5
    return cfg


def test_param_groups_follow_the_published_recipe():
    cfg = tiny_b16_recipe()
    model = MODELS.build(cfg.model)
    # AmpOptimWrapper needs a GPU; the groups come from the constructor.
    optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('loss_scale')
    optimizer = build_optim_wrapper(model, optim_cfg).optimizer
    group_of = {id(p): g for g in optimizer.param_groups for p in g['params']}
    checked = 0
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert name.startswith(('cls_head.text_encoder.',
                                    'cls_head.logit_scale'))
            continue
        group = group_of[id(param)]
        new = any(key in name for key in NEW_MODULES)
        assert group['lr'] == pytest.approx(8e-5 if new else 8e-6), name
        no_decay = param.ndim <= 1 or 'positional_embedding' in name
        assert group['weight_decay'] == (0. if no_decay else 1e-3), name
        checked += 1
    assert checked > 50


def test_mixup_cutmix_soft_labels_reach_the_loss():
    """Blending makes float (K,) targets; the head's loss is the soft
    cross-entropy of its logits with label smoothing folded in."""
    cfg = tiny_b16_recipe()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = dict(
        inputs=[torch.randint(0, 255, (1, 3, 4, 32, 32), dtype=torch.uint8)
                for _ in range(4)],
        data_samples=[ActionDataSample().set_gt_label(torch.tensor(i))
                      for i in range(4)])
    batch = model.data_preprocessor(data, training=True)
    labels = torch.stack([s.gt_label for s in batch['data_samples']])
    assert labels.dtype == torch.float32 and labels.shape == (4, 5)
    torch.testing.assert_close(labels.sum(dim=1), torch.ones(4))
    assert (labels > 0).sum() > 4  # two classes mixed in some rows

    losses = model(**batch, mode='loss')
    feats, _ = model.extract_feat(batch['inputs'])
    logits = model.cls_head(feats)
    target = 0.9 * labels + 0.1 / 5
    expected = -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(losses['loss_cls'], expected)


def test_multi_view_predict_is_the_mean_of_view_softmax():
    """The recipe fuses test views by the mean of their softmax: predict on
    2 videos x 3 views equals each view run on its own, fused so (not by the
    softmax of the mean logit)."""
    cfg = tiny_b16_recipe()
    assert cfg.model.cls_head.average_clips == 'prob'
    torch.manual_seed(1)
    model = MODELS.build(cfg.model).eval()
    inputs = torch.randn(2, 3, 3, 4, 32, 32)  # 2 videos x 3 views
    logits = one_view_at_a_time(model, inputs)
    with torch.no_grad():
        out = model(inputs, [ActionDataSample() for _ in range(2)],
                    mode='predict')
    fused = logits.softmax(dim=-1).mean(dim=1)
    torch.testing.assert_close(torch.stack([s.pred_score for s in out]),
                               fused)
    assert not torch.allclose(fused, logits.mean(1).softmax(-1))


STOCK_HEADS = {
    'timesformer': (dict(type='TimeSformerHead', in_channels=32), 'pooled'),
    'i3d_pooled': (dict(type='I3DHead', in_channels=32, spatial_type=None),
                   'pooled'),
    'i3d_avg': (dict(type='I3DHead', in_channels=32, spatial_type='avg'),
                'frames'),
}


@pytest.mark.parametrize('head', sorted(STOCK_HEADS))
@pytest.mark.parametrize('views', [1, 3])
def test_cctvit_in_stock_recognizer3d(head, views):
    head_cfg, out_type = STOCK_HEADS[head]
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='Recognizer3D',
        backbone=dict(type='CCTViT', input_resolution=32, patch_size=16,
                      width=64, layers=1, output_dim=32, out_type=out_type),
        cls_head=dict(head_cfg, num_classes=5, average_clips='prob'),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               format_shape='NCTHW')))
    inputs = torch.randn(2, views, 3, 4, 32, 32)
    samples = [ActionDataSample().set_gt_label(torch.tensor(i))
               for i in range(2)]
    losses = model(inputs[:, :1], samples, mode='loss')  # training: 1 view
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None
    model.eval()
    with torch.no_grad():
        out = model(inputs, samples, mode='predict')
        feats, _ = model.extract_feat(inputs, test_mode=True)
    assert feats.shape[0] == 2 * views
    # Each video's views fused by the mean of their softmax.
    torch.testing.assert_close(
        torch.stack([s.pred_score for s in out]),
        one_view_at_a_time(model, inputs).softmax(-1).mean(1))


def test_clip_init_cfg_loads_backbone_and_text_encoder():
    """The configs' init_cfg (backbone prefix ``backbone.``, head prefix
    ``cls_head.``) takes CLIP's weights in mmxclip's names, as the
    ``clip://`` scheme returns them; X-CLIP's new modules keep their init."""
    from mmengine.runner.checkpoint import CheckpointLoader
    cfg = tiny_b16_recipe()
    cfg.model.backbone.init_cfg = Config.fromfile(B16).model.backbone.init_cfg
    cfg.model.cls_head.init_cfg = Config.fromfile(B16).model.cls_head.init_cfg
    torch.manual_seed(1)
    source = MODELS.build(cfg.model).state_dict()
    clip = {k: v for k, v in source.items()
            if k.startswith(('backbone.', 'cls_head.text_encoder.',
                             'cls_head.logit_scale'))
            and 'message_' not in k}
    for part in ('backbone', 'cls_head'):
        init = cfg.model[part].init_cfg
        assert init.checkpoint == 'clip://ViT-B/16'
        init.checkpoint = 'testclip://ViT-B/16'
    CheckpointLoader.register_scheme(
        'testclip://', lambda filename, map_location=None: clip, force=True)
    try:
        torch.manual_seed(2)
        model = MODELS.build(cfg.model)
        model.init_weights()
    finally:
        CheckpointLoader._schemes.pop('testclip://')
    loaded = model.state_dict()
    for key in ('backbone.conv1.weight', 'backbone.proj',
                'cls_head.text_encoder.token_embedding.weight',
                'cls_head.logit_scale'):
        torch.testing.assert_close(loaded[key], source[key])
    for key in ('cls_head.prompts_visual_proj',
                'backbone.transformer.resblocks.0.message_fc.weight'):
        assert not torch.equal(loaded[key], source[key])


@pytest.mark.parametrize('config,gpus', [
    ('xclip_b16_k400.py', 8), ('xclip_b16_k400.py', 4),
    ('xclip_l14_k400.py', 8), ('xclip_l14_336_16f_k400.py', 8),
    ('xclip_toy.py', 1)])
def test_train_tool_amp_and_auto_scale_lr(config, gpus, monkeypatch):
    """``tools/train.py CONFIG --amp --auto-scale-lr`` on ``gpus`` GPUs: an
    AmpOptimWrapper with dynamic loss scale that keeps the config's
    accumulation, and every group's lr scaled by MMEngine's
    ``Runner.scale_lr`` by GPUs x batch / base_batch_size: unchanged on the
    published 8 GPUs, halved on 4."""
    path = osp.join(ROOT, 'configs', config)
    tool = load_tool('train.py')
    args = tool.get_args([path, '--amp', '--auto-scale-lr'])
    cfg = tool.merge_train_args(Config.fromfile(path), args)
    wrapper_cfg = cfg.optim_wrapper
    assert (wrapper_cfg.type,
            wrapper_cfg.loss_scale) == ('AmpOptimWrapper', 'dynamic')
    assert cfg.auto_scale_lr.enable
    # The wrapper's constructor refuses CPU-only machines; nothing else
    # about it needs CUDA here.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    wrapper = build_optim_wrapper(MODELS.build(tiny_b16_recipe().model),
                                  wrapper_cfg)
    assert type(wrapper).__name__ == 'AmpOptimWrapper'
    assert wrapper._accumulative_counts == wrapper_cfg.get(
        'accumulative_counts', 1)
    before = [g['lr'] for g in wrapper.optimizer.param_groups]
    runner = SimpleNamespace(
        world_size=gpus, _train_dataloader=cfg.train_dataloader,
        logger=MMLogger.get_current_instance(), param_schedulers=None)
    Runner.scale_lr(runner, wrapper, cfg.auto_scale_lr)
    ratio = gpus * cfg.train_dataloader.batch_size / \
        cfg.auto_scale_lr.base_batch_size
    assert ratio == (0.5 if gpus == 4 else 1.)
    assert [g['lr'] for g in wrapper.optimizer.param_groups] == [
        lr * ratio for lr in before]


def test_train_tool_amp_refuses_other_wrappers(tmp_path):
    path = tmp_path / 'other.py'
    path.write_text(f"_base_ = [{B16!r}]\n"
                    "optim_wrapper = dict(type='ApexOptimWrapper')\n")
    tool = load_tool('train.py')
    with pytest.raises(ValueError, match='--amp needs optim_wrapper.type '
                       "OptimWrapper or AmpOptimWrapper in .*other.py, got "
                       "'ApexOptimWrapper'"):
        tool.merge_train_args(Config.fromfile(str(path)),
                              tool.get_args([str(path), '--amp']))
