"""Distributed agreement and exactly-once evaluation, on CPU with gloo.

* 2 processes x batch 4 and 1 process x batch 8 train the toy model to the
  same loss curve and weights (float tolerance).
* A few hundred generated videos, multi-view testing, several dataloader
  workers: every sample is scored exactly once, by 1 process and by 2
  (``tools/dist_test.sh``) with a dataset size that does not divide by 2
  (the distributed sampler pads; MMEngine's ``collect_results`` must drop
  the padding), and both give each video the same scores.
"""
import math
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from helpers.runs import (PYTHON, free_port, launch, lockstep_toy_config,
                          loss_curve, make_toy_dataset, run_tool, toy_config)
from mmaction.registry import MODELS
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

from mmxclip.weights import load_from_local


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(str(tmp_path_factory.mktemp('toy')), 2, 1,
                            num_frames=8)


def _train(toy, tmp_path, nproc, batch_size):
    """Deterministic data (no random crops or jitter), no drop path or
    mixup: the only difference between the runs is how the batch is
    split over processes. Each iteration sees all 16 videos, so the loss
    curve is one objective's, step after step."""
    work = str(tmp_path / f'np{nproc}')
    cfg = lockstep_toy_config(toy['out_dir'], work, batch_size)
    path = str(tmp_path / f'np{nproc}.py')
    cfg.dump(path)
    out = launch('train.py', path, nproc)
    assert out.returncode == 0, out.stderr[-3000:]
    curve = loss_curve(work, nproc)
    return curve, load_from_local(osp.join(work, 'epoch_2.pth'))


def test_two_process_gloo_matches_one_process(toy, tmp_path):
    single, ckpt1 = _train(toy, tmp_path, 1, 16)
    double, ckpt2 = _train(toy, tmp_path, 2, 8)
    assert len(single) == len(double) == 2  # 16 videos / 16, 2 epochs
    assert np.abs(single - double).max() <= 1e-5 * np.abs(single).max(), (
        single, double)
    # It trained: one warm-up step (lr 1e-5, MIT 1e-4) lowered the loss of the
    # same 16 videos. (Later steps at full lr may overshoot: CLIP's logit scale
    # of 100 makes a random model's loss surface steep.)
    assert single[1] < single[0]
    w1, w2 = ckpt1['state_dict'], ckpt2['state_dict']
    diff = max((w1[k] - w2[k]).abs().max().item() for k in w1)
    # AdamW divides by sqrt(v): float-rounding differences of the gradient
    # all-reduce reach the weights at about lr x 1e-2 (lr = 1e-3).
    assert diff <= 1e-4, diff
    print(f'loss max |diff| {np.abs(single - double).max():.3g}, '
          f'weights max |diff| {diff:.3g}')


NUM_VIDEOS = 301  # odd: 2 ranks get padded to 302 by the sampler


@pytest.fixture(scope='module')
def many(tmp_path_factory):
    """301 tiny videos, a random-init toy checkpoint, a 2x3-view config."""
    root = tmp_path_factory.mktemp('many')
    data = make_toy_dataset(str(root / 'data'), 0, 38, num_frames=8)
    with open(data['ann_files']['val']) as f:
        lines = f.readlines()[:NUM_VIDEOS]
    ann = str(root / 'ann.txt')
    with open(ann, 'w') as f:
        f.writelines(lines)
    cfg = toy_config(data['out_dir'], str(root / 'work'), **{
        # Logit scale 10, not CLIP's 100: at 100 a random model gives every
        # video almost the same one-hot scores, and equal scores could not
        # show that each video got its own.
        'model.cls_head.logit_scale_init': math.log(10),
        'test_dataloader.dataset.ann_file': ann,
        'test_dataloader.dataset.type': 'RobustVideoDataset',
        'test_dataloader.num_workers': 3,
        'test_dataloader.batch_size': 8,
        'test_dataloader.dataset.pipeline.6.meta_keys': ('img_shape',
                                                         'filename'),
    })
    cfg_path = str(root / 'many.py')
    cfg.dump(cfg_path)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    ckpt = str(root / 'random.pth')
    save_checkpoint(dict(state_dict=MODELS.build(cfg.model).state_dict(),
                         meta={}), ckpt)
    names = [osp.join(data['data_prefix'], line.split()[0]) for line in lines]
    return cfg_path, ckpt, names


def _scores(many, tmp_path, nproc):
    """``tools/test.py`` on 1 process, ``tools/dist_test.sh`` on 2 (CPU
    processes over gloo)."""
    cfg_path, ckpt, names = many
    dump = str(tmp_path / f'dump{nproc}.pkl')
    args = [ckpt, '--dump', dump, '--work-dir', str(tmp_path / f'w{nproc}')]
    if nproc == 1:
        out = launch('test.py', cfg_path, 1, *args)
    else:
        out = run_tool(['bash', 'tools/dist_test.sh', cfg_path, args[0],
                        str(nproc), *args[1:]], timeout=600, env=dict(
                            PYTHON=PYTHON, PORT=str(free_port())))
        assert 'Distributed training: True' in out.stdout
        assert "'backend': 'gloo'" in out.stdout
    assert out.returncode == 0, out.stderr[-3000:]
    with open(dump, 'rb') as f:
        results = pickle.load(f)
    files = [r['filename'] for r in results]
    # Exactly once each, in dataset order: no drops, no duplicates (the
    # sampler's padding sample must not survive).
    assert len(results) == NUM_VIDEOS
    assert files == names
    for r in results:
        assert tuple(r['pred_score'].shape) == (8, )
        assert abs(float(r['pred_score'].sum()) - 1) < 1e-4  # fused probs
    return torch.stack([r['pred_score'] for r in results])


def test_every_sample_scored_exactly_once(many, tmp_path):
    single = _scores(many, tmp_path, 1)
    double = _scores(many, tmp_path, 2)
    assert (single - double).abs().max() <= 1e-5
    # The scores depend on the video, so equal scores mean "its own video".
    assert single.std(0).max() > 1e-3
