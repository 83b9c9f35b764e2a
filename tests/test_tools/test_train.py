"""tools/train.py, tools/test.py and tools/dist_train.sh on the toy config,
in subprocesses, from another working directory, on generated videos."""
import glob
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest
import torch
from helpers import ROOT, load_tool
from helpers.tiny_model import one_view_at_a_time
from helpers.toy_data import make_videos
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.fileio import load
from mmengine.runner import Runner, load_checkpoint

TOY = osp.join(ROOT, 'configs', 'xclip_toy.py')
tools_test = load_tool('test.py')


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp('toy'))


def toy_options(videos, batch_size: int = 8, **extra) -> list:
    """--cfg-options pointing the toy config at ``videos``, no workers."""
    opts = toy_settings(videos, batch_size, **extra)
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def toy_settings(videos, batch_size: int = 8, **extra) -> dict:
    """:func:`toy_options` as a dict."""
    opts = {'model.cls_head.class_names': videos['class_file'],
            'default_hooks.logger.interval': 1}
    for split in ('train', 'val', 'test'):
        key = f'{split}_dataloader'
        ann = videos['ann_file' if split == 'train' else 'val_ann_file']
        opts.update({
            f'{key}.dataset.ann_file': ann,
            f'{key}.dataset.data_prefix.video': videos['data_prefix'],
            f'{key}.num_workers': 0,
            f'{key}.persistent_workers': False,
        })
    opts['train_dataloader.batch_size'] = batch_size
    opts.update(extra)
    return opts


def run(args, cwd, env=None) -> str:
    """Run a command from ``cwd``; return its output, fail with it."""
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


def train_losses(work_dir) -> dict:
    """Training step -> loss from the newest run's scalars.json."""
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    with open(runs[-1]) as f:
        rows = [json.loads(line) for line in f]
    return {r['step']: r['loss'] for r in rows if 'loss' in r}


TRAIN = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), TOY]
# Constant lr (no warm-up) so that 8 steps on 8 videos show learning.
CONSTANT_LR = {'param_scheduler': '[]'}


# Validation and a checkpoint every 4 epochs (the last one too), all kept.
CHECKPOINTS = {'train_cfg.val_interval': 4,
               'default_hooks.checkpoint.interval': 4,
               'default_hooks.checkpoint.max_keep_ckpts': 3}


# Misspelt --cfg-options (top-level and nested) that MMEngine would ignore
# silently: they match nothing.
MISSPELT = {'randomnes.seed': 3, 'env_cfg.cudnn_benchmrk': True}


@pytest.fixture(scope='module')
def trained(videos, tmp_path_factory):
    """10 epochs (one step each) of the toy config through tools/train.py,
    run from another directory; checkpoints every 4 epochs and the last;
    two misspelt options. Returns the work dir and the output."""
    tmp = tmp_path_factory.mktemp('trained')
    work_dir = tmp / 'work'
    out = run(TRAIN + ['--work-dir', str(work_dir)] + toy_options(
        videos, **CONSTANT_LR, **MISSPELT,
        **CHECKPOINTS, **{'train_cfg.max_epochs': 10}), cwd=tmp)
    return work_dir, out


def test_train_warns_about_options_matching_nothing(trained):
    _, out = trained
    assert ("--cfg-options randomnes.seed=3: the config has no key "
            "'randomnes' (did you mean 'randomness'?)") in out
    assert ("--cfg-options env_cfg.cudnn_benchmrk=True: env_cfg has no key "
            "'cudnn_benchmrk' (did you mean 'cudnn_benchmark'?)") in out
    assert out.count('--cfg-options ') == 2  # the matching ones: silent


def test_train_loss_falls(trained):
    trained, _ = trained
    losses = train_losses(trained)
    assert sorted(losses) == list(range(1, 11))  # one step per epoch
    first, last = losses[1] + losses[2], losses[7] + losses[8]
    assert last < first - 0.1, losses
    ckpt = torch.load(trained / 'epoch_8.pth', weights_only=False)
    assert ckpt['meta']['epoch'] == 8


def test_resume_continues_from_the_saved_checkpoint(trained, videos,
                                                    tmp_path):
    """``--resume`` (no path: the work dir's last checkpoint, here epoch 8
    of the 10-epoch run) trains epochs 9 and 10 to exactly the losses and
    weights of the uninterrupted run."""
    work_dir = tmp_path / 'work'
    shutil.copytree(trained[0], work_dir)
    for stale in ('epoch_10.pth', 'last_checkpoint'):
        os.remove(work_dir / stale)
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_8.pth'))
    out = run(TRAIN + ['--work-dir', str(work_dir), '--resume'] + toy_options(
        videos, **CONSTANT_LR, **CHECKPOINTS,
        **{'train_cfg.max_epochs': 10}), cwd=tmp_path)
    assert 'resumed epoch: 8' in out
    resumed, full = train_losses(work_dir), train_losses(trained[0])
    assert sorted(resumed) == [9, 10]
    assert [resumed[i] for i in (9, 10)] == [full[i] for i in (9, 10)]
    ours = torch.load(work_dir / 'epoch_10.pth', weights_only=False)
    theirs = torch.load(trained[0] / 'epoch_10.pth', weights_only=False)
    assert ours['meta']['epoch'] == ours['meta']['iter'] == 10
    assert all(torch.equal(ours['state_dict'][k], v)
               for k, v in theirs['state_dict'].items())


def test_test_tool_two_clips_three_crops(trained, videos, tmp_path,
                                         one_thread):
    """tools/test.py scores each val video by its 2 clips x 3 crops, run
    one view at a time here and fused by the mean of their softmax."""
    dump = tmp_path / 'preds.pkl'
    ckpt = str(trained[0] / 'epoch_10.pth')
    out = run([sys.executable, osp.join(ROOT, 'tools', 'test.py'), TOY,
               ckpt, '--work-dir', str(tmp_path / 'work'), '--dump',
               str(dump)] +
              toy_options(videos, **{
                  'test_dataloader.dataset.data_prefix.vido': 'x'}),
              cwd=tmp_path)
    assert ("--cfg-options test_dataloader.dataset.data_prefix.vido=x: "
            "test_dataloader.dataset.data_prefix has no key 'vido' (did you "
            "mean 'video'?)") in out
    results = load(str(dump))
    assert [int(r['gt_label']) for r in results] == list(range(8))
    scores = torch.stack([r['pred_score'] for r in results])
    cfg = Config.fromfile(TOY)
    cfg.merge_from_dict(toy_settings(videos))
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, ckpt)
    for i, result in enumerate(results):
        batch = model.data_preprocessor(pseudo_collate([dataset[i]]))
        assert batch['inputs'].shape == (1, 6, 3, 8, 32, 32)
        expected = one_view_at_a_time(model, batch['inputs']).softmax(-1)
        torch.testing.assert_close(scores[i], expected[0].mean(0))
    top1 = (scores.argmax(1) == torch.arange(8)).float().mean().item()
    assert f'acc/top1: {top1:.4f}' in out
    # test_cfg=dict(type='TestLoop', fp16=True): MMEngine's autocast (on
    # CPU bfloat16), float32 scores within bfloat16's rounding: 8 bits of
    # mantissa (0.4 %) through the blocks move the logits (scale 100) by
    # ~0.1, the softmax scores by up to ~0.05 (measured 0.039).
    half = str(tmp_path / 'half.pkl')
    cfg.merge_from_dict(dict(
        work_dir=str(tmp_path / 'half'), load_from=ckpt,
        test_cfg=dict(type='TestLoop', fp16=True),
        test_evaluator=[cfg.test_evaluator,
                        dict(type='DumpResults', out_file_path=half)]))
    Runner.from_cfg(cfg).test()
    half_scores = torch.stack([r['pred_score'] for r in load(half)])
    assert half_scores.dtype == torch.float32
    assert 0 < (half_scores - scores).abs().max() < 0.1
    # tools/test.py --precision int8: PrecisionTestLoop quantises the
    # loaded checkpoint; the scores move (so it ran: by up to 0.24 here,
    # logit scale 100 on a width-64 model after 10 steps). Near-ties may
    # flip (2 of 8 top-1s did); a clear float32 decision (top-1 ahead of
    # top-2 by 0.3) stays.
    args = tools_test.get_args([TOY, ckpt, '--precision', 'int8'])
    cfg = tools_test.merge_test_args(Config.fromfile(TOY), args)
    assert cfg.test_cfg == dict(type='PrecisionTestLoop', precision='int8')
    int8 = str(tmp_path / 'int8.pkl')
    cfg.merge_from_dict(dict(
        toy_settings(videos), work_dir=str(tmp_path / 'int8'),
        test_evaluator=[cfg.test_evaluator,
                        dict(type='DumpResults', out_file_path=int8)]))
    Runner.from_cfg(cfg).test()
    int8_scores = torch.stack([r['pred_score'] for r in load(int8)])
    assert (int8_scores - scores).abs().max() > 0
    top2 = scores.topk(2).values
    clear = top2[:, 0] - top2[:, 1] > 0.3
    assert clear.any()
    assert torch.equal(int8_scores.argmax(1)[clear], scores.argmax(1)[clear])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='checks the CPU (gloo) path of dist_train.sh')
def test_dist_train_two_cpu_processes(videos, tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               OMP_NUM_THREADS='1')
    out = run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), TOY, '2',
               '--work-dir', str(work_dir)] + toy_options(
                   videos, batch_size=4, **{'train_cfg.max_epochs': 1}),
              cwd=tmp_path, env=env)
    assert 'Distributed training: True' in out
    assert "'backend': 'gloo'" in out
    # 8 videos / 2 processes / batch 4: one step per process.
    assert sorted(train_losses(work_dir)) == [1]
    assert (work_dir / 'epoch_1.pth').is_file()
