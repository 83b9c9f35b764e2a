"""The recipe against the official X-CLIP code, through what the official
code computed (``tests/fixtures/official_recipe/make_fixtures.py``):
parameter groups, three AdamW updates, the lr schedule (against timm),
sampling, augmentation and blending."""
import glob
import json
import os.path as osp
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import ROOT
from helpers import official_recipe as R
from helpers.weight_files import load_tool, meta_build
from mmaction.registry import MODELS, PARAM_SCHEDULERS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper

from mmxclip.weights import official_to_mmxclip

HERE = osp.join(ROOT, 'tests', R.FIXTURES)
B16 = osp.join(ROOT, 'configs', 'xclip_b16_k400.py')
with open(osp.join(HERE, 'recipe.json')) as f:
    RECIPE = json.load(f)
PIPELINE = np.load(osp.join(HERE, 'pipeline.npz'))
schedule = load_tool('analysis/compare_lr_schedule.py')


def cpu_wrapper(cfg: Config) -> dict:
    """The config's optimizer wrapper as ``OptimWrapper`` (no CUDA here)."""
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper')
    wrapper.pop('loss_scale', None)
    return wrapper


def test_param_groups_equal_official_build_optimizer():
    """configs/xclip_b16_k400.py on the B/16 model against the official
    build_optimizer on the official B/16, parameter by parameter."""
    cfg = Config.fromfile(B16)
    cfg.model.cls_head.update(class_names=[f'c{i}' for i in range(400)])
    model = meta_build(cfg.model)
    optimizer = build_optim_wrapper(model, cpu_wrapper(cfg)).optimizer
    group = {id(p): g for g in optimizer.param_groups for p in g['params']}
    ours = {name: [group[id(p)]['lr'], group[id(p)]['weight_decay']]
            for name, p in model.named_parameters() if p.requires_grad}
    frozen = sorted(name for name, p in model.named_parameters()
                    if not p.requires_grad)
    official = RECIPE['param_groups']
    assert sorted(ours) == sorted(official['groups'])
    assert ours == official['groups']
    assert frozen == official['frozen']
    assert len(ours) > 150 and len(frozen) > 100
    lr = cfg.optim_wrapper.optimizer.lr
    assert {tuple(v) for v in ours.values()} == {
        (lr, 1e-3), (lr, 0.), (lr * 10, 1e-3), (lr * 10, 0.)}


def tiny_model(dtype: torch.dtype):
    """The tiny official model's twin, built from the B/16 config, with the
    fixture's weights; clips come normalised, targets already mixed."""
    cfg = Config.fromfile(B16)
    t = R.TINY
    cfg.merge_from_dict({
        'model.backbone': dict(
            input_resolution=t['image'], patch_size=t['patch'],
            width=t['embed_dim'], layers=t['vision_layers'], heads=1,
            output_dim=t['embed_dim'], init_cfg=None),
        'model.neck': dict(num_frames=t['frames'], embed_dim=t['embed_dim']),
        'model.cls_head': dict(
            class_names=R.CLASS_NAMES, num_classes=len(R.CLASS_NAMES),
            embed_dim=t['embed_dim'], vision_width=t['embed_dim'],
            text_cfg=dict(width=t['embed_dim'], layers=t['text_layers'],
                          heads=1), init_cfg=None),
    })
    cfg.model.data_preprocessor = dict(
        type='ActionDataPreprocessor', format_shape='NCTHW',
        to_float32=dtype == torch.float32)
    model = MODELS.build(cfg.model)
    # As the fixture: float64 draws, stored as float32 in the model.
    weights = {k: torch.from_numpy(v).float()
               for k, v in R.random_weights(RECIPE['shapes']).items()}
    model.load_state_dict(official_to_mmxclip(weights), strict=True)
    return cfg, model.to(dtype)


def fingerprint_error(ours: dict, ref: dict) -> float:
    """Largest difference of the fingerprints (two projections, norm) over
    all tensors, relative to each reference tensor's norm."""
    assert sorted(ours) == sorted(ref)
    err = 0.
    for name, (a, b) in ((k, (ours[k], ref[k])) for k in ref):
        assert b[2] > 0, name
        err = max(err, max(abs(x - y) for x, y in zip(a, b)) / b[2])
    return err


@pytest.mark.parametrize('dtype,tol', [('float32', 1e-4), ('float64', 1e-9)])
def test_three_adamw_updates_equal_official_training(dtype, tol):
    """12 iterations (3 updates of 4 accumulated batches) through MMEngine's
    train_step, optimizer wrapper and param schedulers against the official
    train_one_epoch from the same weights, clips and soft targets: losses,
    accumulated gradients at each update and, in float64, the weights'
    change after the 3 updates (the lr and weight decay of every group)."""
    torch_dtype = getattr(torch, dtype)
    cfg, model = tiny_model(torch_dtype)
    assert model.cls_head.class_tokens.tolist() == RECIPE['tokens']
    start = {k: p.detach().clone() for k, p in model.named_parameters()}
    wrapper = build_optim_wrapper(model, cpu_wrapper(cfg))
    epochs = cfg.train_cfg.max_epochs
    schedulers = [PARAM_SCHEDULERS.build(
        dict(s, end=epochs), default_args=dict(
            optimizer=wrapper, epoch_length=R.ITERS_PER_EPOCH))
        for s in cfg.param_scheduler]
    wrapper.initialize_count_status(model, 0, epochs * R.ITERS_PER_EPOCH)
    grads, lrs = [], []

    def record(optimizer, args, kwargs):
        grads.append({k: R.projections(k, p.grad.double().numpy())
                      for k, p in model.named_parameters()
                      if p.grad is not None})
        lrs.append(sorted({g['lr'] for g in optimizer.param_groups}))

    wrapper.optimizer.register_step_pre_hook(record)
    losses = []
    model.train()
    for i in range(R.ITERS):
        clips, targets = R.batch(i)
        data = dict(
            inputs=[torch.from_numpy(c).to(torch_dtype).transpose(0, 1)[None]
                    for c in clips],
            data_samples=[ActionDataSample().set_gt_label(
                torch.from_numpy(y).to(torch_dtype)) for y in targets])
        losses.append(model.train_step(data, wrapper)['loss'].item())
        for s in schedulers:  # ParamSchedulerHook.after_train_iter
            s.step()
    ref = RECIPE[dtype]
    loss_err = np.abs(np.subtract(losses, ref['losses'])).max() / np.abs(
        ref['losses']).max()
    grad_err = max(fingerprint_error(o, r)
                   for o, r in zip(grads, ref['grads']))
    print(f'{dtype}: losses {loss_err:.2g}, gradients {grad_err:.2g}')
    assert len(grads) == len(ref['grads']) == 3
    assert loss_err <= tol and grad_err <= tol
    official_lrs = RECIPE['float64']['update_lrs']
    assert lrs == [sorted(set(u)) for u in official_lrs]
    if dtype == 'float64':
        delta = {k: R.projections(k, (p.detach() - start[k]).numpy())
                 for k, p in model.named_parameters() if p.requires_grad}
        delta_err = fingerprint_error(delta, ref['delta'])
        print(f'weight change after 3 updates: {delta_err:.2g}')
        assert delta_err <= 1e-8


def training_configs():
    """Every config that trains (not the toy ones)."""
    paths = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')) +
                   glob.glob(osp.join(ROOT, 'configs', 'few_shot', '*.py')))
    return [p for p in paths if 'toy' not in p]


@pytest.mark.parametrize('path', training_configs(),
                         ids=lambda p: osp.basename(p)[:-3])
def test_lr_of_every_update_equals_timm_as_main_py_drives_it(path):
    cfg = Config.fromfile(path)
    steps = cfg.optim_wrapper.accumulative_counts
    result = schedule.compare(cfg, 2 * steps)
    assert result['same_iters']
    assert result['first'] == ([0., 0.], [0., 0.])  # timm's warmup_lr_init
    assert result['max_rel'] <= 1e-12


def test_schedule_when_epochs_do_not_divide_into_updates():
    """The one documented difference: with n % A != 0 the official code
    restarts accumulation each epoch (n % A batches per epoch are dropped);
    MMEngine accumulates across epochs. The lr is still timm's at the
    previous update, lr(i - A), at each of MMEngine's updates."""
    from timm.scheduler.cosine_lr import CosineLRScheduler
    cfg = Config.fromfile(B16)
    n, steps = 11, cfg.optim_wrapper.accumulative_counts
    epochs, lr = cfg.train_cfg.max_epochs, cfg.optim_wrapper.optimizer.lr
    result = schedule.compare(cfg, n)
    assert not result['same_iters']
    assert len(result['official'][0]) == epochs * (n // steps)
    assert len(result['ours'][0]) == -(-epochs * n // steps)
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr)
    timm = CosineLRScheduler(optimizer, t_initial=epochs * n, lr_min=lr / 100,
                             warmup_t=5 * n, t_in_epochs=False)
    iters, lrs = result['ours']
    expected = [timm._get_lr(max(i - steps, 0))[0] for i in iters]
    np.testing.assert_allclose(lrs[:, 0], expected, rtol=1e-12, atol=0)


def test_sampling_equals_official_sample_frames():
    """Train, test and 4-view indices against the official SampleFrames
    (clip_len=1, num_clips=8) on the same numpy seeds; 6 video lengths."""
    from mmxclip.datasets import SegmentSampleFrames
    for key, ref in RECIPE['sampling'].items():
        mode, total, seed = key.split('/')
        sampler = SegmentSampleFrames(8, 4 if mode == 'multiview' else 1,
                                      test_mode=mode == 'test')
        np.random.seed(int(seed))
        out = sampler(dict(total_frames=int(total), start_index=0))
        assert out['frame_inds'].tolist() == ref, key
        assert (out['clip_len'], out['num_clips']) == (8, len(ref) // 8)
    views = RECIPE['sampling']['multiview/300/0']
    assert views[:8] != views[8:16]  # independent draws per view


def test_seeded_views_follow_the_video_not_the_stream():
    from mmxclip.datasets import SegmentSampleFrames
    sampler = SegmentSampleFrames(8, num_views=4, seed=0)

    def draw(name):
        return sampler(dict(total_frames=300, start_index=0,
                            filename=name))['frame_inds']

    np.random.seed(1)
    a = draw('a.mp4')
    state = np.random.get_state()[1].copy()
    np.random.seed(2)
    b = draw('a.mp4')
    assert (a == b).all()  # whatever the global stream
    assert (np.random.get_state()[1] != state).any()  # restored, not reset
    assert not (draw('b.mp4') == a).all()
    # The file name, not its folder: a moved or re-encoded copy of the
    # dataset gets the same frames.
    assert (draw('/data/k400/videos_val/a.mp4') == a).all()
    assert (draw('/prepared/videos_val/a.mp4') == a).all()
    assert len({tuple(v) for v in a.reshape(4, 8)}) == 4
    segments = a.reshape(4, 8) // (300 // 8)
    assert (segments == np.arange(8)).all()  # one frame per segment


def test_fixed_views_spread_inside_the_segments():
    from mmxclip.datasets import SegmentSampleFrames
    views = SegmentSampleFrames(8, num_views=4, test_mode=True)(
        dict(total_frames=320, start_index=0))['frame_inds'].reshape(4, 8)
    assert (views[:, 0] == [5, 15, 25, 35]).all()  # (k + 0.5) / 4 of 40
    assert (views - views[:, :1] == np.arange(8) * 40).all()
    with pytest.raises(ValueError, match='seed is for random draws'):
        SegmentSampleFrames(8, test_mode=True, seed=0)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def scaled(pipeline, short=36, size=32):
    """A 224 px pipeline at ``size`` (short side 256 -> ``short``), as the
    official pipeline scales with DATA.INPUT_SIZE."""
    sizes = {256: short, 224: size}
    return [dict(t, **{k: tuple(sizes.get(v, v) for v in t[k])
                       if isinstance(t[k], tuple) else sizes[t[k]]
                       for k in ('scale', 'input_size', 'crop_size')
                       if k in t}) for t in pipeline]


def transforms_after_decoding(pipeline):
    names = [t['type'] for t in pipeline]
    return pipeline[names.index('GatedVideoDecode') + 1:names.index(
        'FormatShape')]


def test_train_augmentation_equals_official_bit_for_bit():
    """The config's train pipeline after decoding (resize, multi-scale
    crop, resize, flip, per-frame colour jitter, grayscale) against the
    official chain on the same frames and seeds, one of them gray."""
    cfg = Config.fromfile(B16)
    chain = Compose(scaled(transforms_after_decoding(cfg.train_pipeline)))
    seeds = [int(k.split('/')[1]) for k in PIPELINE if k.startswith('train')]
    gray = 0
    for seed in seeds:
        frames = R.random_frames(seed)
        seed_all(seed)
        out = np.stack(chain(dict(imgs=list(frames), modality='RGB',
                                  img_shape=frames.shape[1:3]))['imgs'])
        np.testing.assert_array_equal(out, PIPELINE[f'train/{seed}'])
        gray += (out == out[..., :1]).all()
    assert gray == 1 and len(seeds) == 4


def test_test_crops_equal_official():
    cfg = Config.fromfile(B16)
    frames = R.random_frames(100)
    for name, pipeline in (('center', cfg.val_pipeline),
                           ('three', cfg.test_pipeline)):
        chain = Compose(scaled(transforms_after_decoding(pipeline)))
        out = chain(dict(imgs=list(frames), modality='RGB',
                         img_shape=frames.shape[1:3]))
        np.testing.assert_array_equal(np.stack(out['imgs']),
                                      PIPELINE[f'test/{name}'])


def test_colour_jitter_per_frame_equals_official():
    from mmxclip.datasets import VideoColorJitter
    jitter = VideoColorJitter(p=1.)
    for seed in range(3):
        frames = R.random_frames(seed)
        seed_all(seed)
        out = jitter(dict(imgs=list(frames)))['imgs']
        np.testing.assert_array_equal(np.stack(out),
                                      PIPELINE[f'jitter/{seed}'])


@pytest.mark.parametrize('per_frame', [True, False])
def test_colour_jitter_parameters_per_frame_or_per_clip(per_frame):
    """8 copies of one frame: per frame, 8 different results; per clip,
    8 equal ones, all jittered."""
    from mmxclip.datasets import VideoColorJitter
    frame = R.random_frames(3)[0]
    torch.manual_seed(0)
    out = VideoColorJitter(p=1., per_frame=per_frame)(
        dict(imgs=[frame] * 8))['imgs']
    distinct = {o.tobytes() for o in out}
    assert len(distinct) == (8 if per_frame else 1)
    assert frame.tobytes() not in distinct


@pytest.mark.parametrize('name', ['VideoColorJitter', 'VideoGrayscale'])
def test_gates_are_drawn_once_per_clip(name):
    from mmaction.registry import TRANSFORMS
    transform = TRANSFORMS.build(dict(type=name, p=0.5))
    frames = R.random_frames(4)
    random.seed(0)
    torch.manual_seed(0)
    changed = []
    for _ in range(200):
        out = transform(dict(imgs=list(frames)))['imgs']
        same = [np.array_equal(o, f) for o, f in zip(out, frames)]
        assert len(set(same)) == 1  # all frames or none
        changed.append(not same[0])
    assert 70 <= sum(changed) <= 130  # p = 0.5 of 200 clips, +- 4 sigma


def test_grayscale_equals_official():
    from mmxclip.datasets import VideoGrayscale
    for seed in range(3):
        frames = R.random_frames(seed)
        out = VideoGrayscale(p=1.)(dict(imgs=list(frames)))['imgs']
        np.testing.assert_array_equal(np.stack(out), PIPELINE[f'gray/{seed}'])


def test_blending_smoothing_and_loss_equal_official():
    """The config's RandomBatchAugment, then the head's label smoothing and
    soft cross-entropy, against the official CutmixMixupBlending (smoothing
    folded into the one-hot targets) and SoftTargetCrossEntropy, on the
    same batch and seeds (both cutmix and mixup among them)."""
    cfg = Config.fromfile(B16)
    for blend in cfg.model.data_preprocessor.blending.augments:
        blend.num_classes = 5
    blending = MODELS.build(cfg.model.data_preprocessor.blending)
    head = MODELS.build(dict(
        cfg.model.cls_head, class_names=R.CLASS_NAMES, num_classes=5,
        embed_dim=64, vision_width=64, init_cfg=None,
        text_cfg=dict(width=64, layers=1, heads=1)))
    imgs = torch.from_numpy(PIPELINE['blend_imgs'])  # (B, T, C, H, W)
    labels = PIPELINE['blend_labels']
    logits = torch.randn(len(labels), 5)
    for seed in range(4):
        seed_all(seed)
        samples = [ActionDataSample().set_gt_label(torch.tensor(int(y)))
                   for y in labels]
        ours, samples = blending(imgs.transpose(1, 2)[:, None].clone(),
                                 samples)
        np.testing.assert_allclose(
            ours[:, 0].transpose(1, 2), PIPELINE[f'blend/{seed}/imgs'],
            rtol=0, atol=1e-6)
        target = torch.from_numpy(PIPELINE[f'blend/{seed}/target'])
        loss = head.loss_by_feat(logits, samples)['loss_cls']
        expected = -(target * F.log_softmax(logits, 1)).sum(1).mean()
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=0)


# Per config: the official yaml (configs/<dataset>/<arch>_<frames>.yaml):
# frames, per-GPU batch, accumulation, epochs, lr.
OFFICIAL_YAML = {
    'xclip_b32_k400': (8, 8, 4, 30, 8e-6),  # k400/32_8
    'xclip_b32_16f_k400': (16, 8, 4, 30, 8e-6),  # k400/32_16
    'xclip_b16_k400': (8, 8, 4, 30, 8e-6),  # k400/16_8
    'xclip_b16_16f_k400': (16, 4, 8, 30, 8e-6),  # k400/16_16
    'xclip_b16_32f_k400': (32, 4, 8, 10, 8e-6),  # k400/16_32, 10 epochs
    'xclip_l14_k400': (8, 4, 8, 30, 8e-6),  # k400/14_8
    'xclip_l14_336_16f_k400': (16, 1, 32, 30, 8e-6),  # k400/14_16_336
    'xclip_b16_k600': (8, 8, 4, 30, 8e-6),  # k600/16_8
    'few_shot': (32, 4, 2, 50, 2e-6),  # hmdb51/16_32, ucf101/16_32
}


@pytest.mark.parametrize('path', training_configs(),
                         ids=lambda p: osp.basename(p)[:-3])
def test_config_follows_its_official_yaml(path):
    name = osp.basename(path)[:-3]
    frames, batch, steps, epochs, lr = OFFICIAL_YAML[
        'few_shot' if 'few_shot' in name else name]
    cfg = Config.fromfile(path)
    loader = cfg.train_dataloader
    assert cfg.model.neck.num_frames == frames
    sampler = [t for t in cfg.train_pipeline
               if t['type'] == 'SegmentSampleFrames']
    assert sampler == [dict(type='SegmentSampleFrames', num_segments=frames)]
    assert loader.batch_size == batch and loader.drop_last
    assert loader.sampler == dict(type='DefaultSampler', shuffle=True, seed=0)
    assert cfg.optim_wrapper.accumulative_counts == steps
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.auto_scale_lr.base_batch_size == 8 * batch
    assert cfg.randomness.seed == 1024


@pytest.mark.parametrize('world,rank', [(1, 0), (8, 3)])
def test_train_order_equals_the_official_distributed_sampler(
        world, rank, monkeypatch):
    """DefaultSampler(seed=0) of the configs = torch's DistributedSampler
    (seed 0) of the official loader, per epoch, padding included."""
    import mmengine.dataset.sampler as mm_sampler
    from mmengine.registry import DATA_SAMPLERS
    from torch.utils.data import DistributedSampler
    monkeypatch.setattr(mm_sampler, 'get_dist_info', lambda: (rank, world))
    dataset = list(range(203))
    cfg = Config.fromfile(B16).train_dataloader.sampler
    ours = DATA_SAMPLERS.build(cfg, default_args=dict(dataset=dataset))
    official = DistributedSampler(dataset, num_replicas=world, rank=rank,
                                  shuffle=True)
    for epoch in (0, 5):
        ours.set_epoch(epoch)
        official.set_epoch(epoch)
        assert list(ours) == list(official)


def test_readme_fixed_views_option():
    """docs/training.md's --cfg-options for fixed test views, through
    tools/test.py's parser: seed-free views at (k + 0.5) / 4 of each
    segment instead of the default seeded random draws."""
    from mmaction.registry import TRANSFORMS
    test_tool = load_tool('test.py')
    args = test_tool.get_args([
        B16, 'ckpt.pth', '--cfg-options',
        'test_dataloader.dataset.pipeline.1.test_mode=True',
        'test_dataloader.dataset.pipeline.1.seed=None'])
    cfg = test_tool.merge_test_args(Config.fromfile(B16), args)
    cfg.merge_from_dict(args.cfg_options)  # as finish_config does
    video = dict(total_frames=320, start_index=0, filename='v.mp4')
    default = TRANSFORMS.build(Config.fromfile(B16).test_pipeline[1])
    fixed = TRANSFORMS.build(cfg.test_dataloader.dataset.pipeline[1])
    views = fixed(dict(video))['frame_inds'].reshape(4, 8)
    assert (views[:, 0] == [5, 15, 25, 35]).all()
    assert not (default(dict(video))['frame_inds'].reshape(4, 8) ==
                views).all()


def test_train_and_eval_mode_agree_without_drop_path():
    """The official validation runs in train mode (cache_text calls
    train()); with the published drop path 0 that changes nothing."""
    _, model = tiny_model(torch.float32)
    clips, _ = R.batch(0)
    inputs = torch.from_numpy(clips).float().transpose(1, 2)[:, None]
    with torch.no_grad():
        train = model.extract_feat(inputs, stage='head')[0]
        model.eval()
        test = model.extract_feat(inputs, stage='head')[0]
    torch.testing.assert_close(train, test, rtol=0, atol=0)


def test_transform_arguments_and_frames_are_checked():
    from mmxclip.datasets import (SegmentSampleFrames, VideoColorJitter,
                                  VideoGrayscale)
    with pytest.raises(ValueError, match='num_segments and num_views must '
                       'be >= 1, got 8 and 0'):
        SegmentSampleFrames(8, num_views=0)
    for transform in (VideoColorJitter, VideoGrayscale):
        with pytest.raises(ValueError, match=r'p must be in \[0, 1\], got '
                           '1.5'):
            transform(p=1.5)
        floats = [np.zeros((4, 4, 3), np.float32)]
        with pytest.raises(TypeError, match=f'{transform.__name__} needs '
                           r'\(H, W, 3\) uint8 frames; frame 0 is float32'):
            transform(p=1.)(dict(imgs=floats))
    with pytest.raises(ValueError, match='the video has no frames'):
        SegmentSampleFrames(8)(dict(total_frames=0, start_index=0))
