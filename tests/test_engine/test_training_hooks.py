"""Nothing lost: exact resume after a kill, NaN stop, atomic checkpoints.

Training runs use ``tools/train.py`` on ``configs/xclip_toy.py`` (tiny
dataset, a few iterations) with the test hooks of
``tests/helpers/train_hooks.py``.
"""
import copy
import io
import json
import logging
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from helpers.runs import (ROOT, LoggedMessages, make_toy_dataset, run_tool,
                          toy_config)
from helpers.weight_files import load_tool
from mmengine.config import Config
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from mmxclip.engine import ExactResumeHook, atomic_io, exact_resume_hook
from mmxclip.weights import load_from_local

# 16 training videos, batch 4: 4 iterations per epoch, 2 epochs.
ITERS_PER_EPOCH, EPOCHS = 4, 2


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(str(tmp_path_factory.mktemp('toy')), 2, 1,
                            num_frames=8)


def _train_config(toy, work_dir, loop='epoch', extra_hooks=()):
    """Toy config with main-process randomness (mixup, drop path), worker
    randomness (crops, colour jitter, 2 persistent workers) and a checkpoint
    every 3 iterations, i.e. inside epoch 1 and inside epoch 2."""
    if loop == 'epoch':
        train_cfg = dict(_delete_=True, type='EpochBasedTrainLoop',
                         max_epochs=EPOCHS, val_interval=1)
    else:
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop',
                         max_iters=EPOCHS * ITERS_PER_EPOCH, val_interval=5)
    return toy_config(
        toy['out_dir'], work_dir, **{
            'custom_imports.imports': ['mmxclip', 'helpers.train_hooks'],
            'model.backbone.drop_path_rate': 0.2,
            'model.data_preprocessor.blending': dict(
                _delete_=True, type='RandomBatchAugment', augments=[
                    dict(type='MixupBlending', alpha=0.4, num_classes=8)]),
            'train_dataloader.batch_size': 4,
            'val_dataloader.batch_size': 8,
            'train_cfg': train_cfg,
            'default_hooks.checkpoint': dict(
                type='CheckpointHook', by_epoch=False, interval=3,
                save_best=None, max_keep_ckpts=-1),
            'default_hooks.logger.interval': 1,
            'log_processor.by_epoch': loop == 'epoch',
            'custom_hooks': [dict(type='ExactResumeHook')] + list(
                extra_hooks),
        })


def _final_weights(work_dir):
    ckpt = load_from_local(osp.join(work_dir,
                                    f'iter_{EPOCHS * ITERS_PER_EPOCH}.pth'))
    return ckpt['state_dict']


def _train(cfg_path, work_dir, *extra):
    return run_tool(['tools/train.py', cfg_path, '--work-dir', work_dir,
                     *extra])


def test_killed_run_resumes_bit_identically(toy, tmp_path):
    """Kill (SIGKILL) in epoch 2, one iteration after the checkpoint of
    iteration 3 (inside epoch 1); ``--resume`` replays epoch 1's first 3
    batches, restores the random generators and must end with exactly the
    weights of an uninterrupted run."""
    full, killed = str(tmp_path / 'full'), str(tmp_path / 'killed')
    cfg_full = str(tmp_path / 'full.py')
    _train_config(toy, full).dump(cfg_full)
    cfg_killed = str(tmp_path / 'killed.py')
    _train_config(toy, killed,
                  extra_hooks=[dict(type='KillAtIterHook', iteration=5)]
                  ).dump(cfg_killed)

    done = _train(cfg_full, full)
    assert done.returncode == 0, done.stderr[-3000:]
    crashed = _train(cfg_killed, killed)
    assert crashed.returncode == -9, crashed.stderr[-3000:]
    assert not osp.exists(osp.join(killed, 'iter_6.pth'))
    # Resume from the checkpoint of iteration 3, without the kill hook.
    with open(osp.join(killed, 'last_checkpoint')) as f:
        assert f.read().strip().endswith('iter_3.pth')
    resumed = _train(cfg_full, killed, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    a, b = _final_weights(full), _final_weights(killed)
    assert a.keys() == b.keys()
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a), f'max |diff| {diff}'
    # ...and the same logged loss at every iteration.
    assert _losses(full) == _losses(killed)


def _run_in_process(cfg, work_dir, resume_from=None):
    """Train ``cfg`` in this process (the same threads for every run, so
    float results compare bit for bit), from scratch or resumed from a
    checkpoint, into ``work_dir``: the final weights, and what the run
    logged at WARNING or above."""
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = osp.basename(work_dir)  # one logger per run
    cfg.log_level = 'WARNING'  # not the optimizer's 300 lines per run
    if resume_from:
        cfg.merge_from_dict(dict(load_from=resume_from, resume=True))
    runner = Runner.from_cfg(cfg)
    logged = LoggedMessages(logging.WARNING)
    runner.logger.addHandler(logged)
    logged.messages = []
    runner.train()
    # Stop the persistent workers now: left to the garbage collector, each
    # takes torch's 5 s join timeout later, inside another test.
    for loop in (runner.train_loop, runner.val_loop):
        iterator = getattr(getattr(loop, 'dataloader', None), '_iterator',
                           None)
        if iterator is not None:
            iterator._shutdown_workers()
    return _final_weights(str(work_dir)), logged.messages


# Checkpoints (every 2 iterations; and every epoch in the epoch loop) to
# resume from, and where they lie.
RESUME_POINTS = {
    'epoch': [
        'iter_4.pth',  # after epoch 1's last iteration, before its end
        'epoch_1.pth',  # at epoch 1's end, followed by validation
        'iter_6.pth',  # inside epoch 2
    ],
    'iter': [
        'iter_2.pth',  # inside the loader's first pass
        'iter_6.pth',  # in its second pass, followed by validation
    ],
}


@pytest.mark.parametrize('loop', ['epoch', 'iter'])
def test_resumed_run_is_bit_identical_from_every_checkpoint(
        toy, tmp_path, one_thread, loop):
    """An uninterrupted run with validation (after each epoch; every 3
    iterations in the iteration loop), and runs resumed from each of its
    checkpoints in fresh work dirs: the same final weights, bit for bit.
    The resumed runs skip the validations before their checkpoint, so
    validation must leave the generators as training left them. Past the
    first epoch, the epoch loop needs ``persistent_workers=False``; with
    persistent workers, the resumed run says it is not exact."""
    cfg = _train_config(toy, '', loop)
    cfg.default_hooks.checkpoint.interval = 2
    # Validation in this process: each pass still draws from torch's
    # generator (every DataLoader iterator takes a base seed from it).
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    if loop == 'epoch':
        cfg.train_dataloader.persistent_workers = False
        cfg.custom_hooks.append(dict(type='CheckpointHook', by_epoch=True,
                                     interval=1, max_keep_ckpts=-1))
    else:
        cfg.train_cfg.val_interval = 3
    full, _ = _run_in_process(cfg, tmp_path / 'full')
    for name in RESUME_POINTS[loop]:
        resumed, logged = _run_in_process(cfg, tmp_path / name,
                                          str(tmp_path / 'full' / name))
        diff = max((full[k].float() - resumed[k].float()).abs().max().item()
                   for k in full)
        assert all(torch.equal(full[k], resumed[k]) for k in full), \
            f'resumed from {name}: max |diff| {diff}'
        assert not any('ExactResumeHook' in m for m in logged), logged
    if loop == 'epoch':
        cfg.train_dataloader.persistent_workers = True
        _, logged = _run_in_process(cfg, tmp_path / 'persistent',
                                    str(tmp_path / 'full' / 'iter_6.pth'))
        assert any('ExactResumeHook: resuming in epoch 2 with persistent '
                   'dataloader workers' in m and 'persistent_workers=False'
                   in m for m in logged), logged


def test_diff_rank_seed_keeps_ranks_apart_and_says_so(monkeypatch):
    """``tools/train.py --diff-rank-seed`` (the official per-rank seeds)
    sets ``randomness.diff_rank_seed``; on several ranks ExactResumeHook
    then does not restore rank 0's generators on every rank, and warns."""
    train = load_tool('train.py')
    toy = osp.join(ROOT, 'configs', 'xclip_toy.py')
    cfg = train.merge_train_args(Config.fromfile(toy),
                                 train.get_args([toy, '--diff-rank-seed']))
    assert cfg.randomness == dict(seed=0, deterministic=True,
                                  diff_rank_seed=True)
    state = dict(torch=torch.get_rng_state())
    logger = logging.getLogger('test_diff_rank_seed')
    logged = LoggedMessages(logging.WARNING)
    logger.addHandler(logged)
    logged.messages = []
    runner = SimpleNamespace(_randomness_cfg=cfg.randomness, logger=logger)
    hook = ExactResumeHook()
    hook.after_load_checkpoint(runner, {hook.CHECKPOINT_KEY: state})
    monkeypatch.setattr(exact_resume_hook.dist, 'get_world_size', lambda: 2)
    assert hook._state_to_restore(runner) is None
    assert any('diff_rank_seed=True' in m for m in logged.messages)
    monkeypatch.setattr(exact_resume_hook.dist, 'get_world_size', lambda: 1)
    assert hook._state_to_restore(runner) is state


def _losses(work_dir):
    """Logged ``loss`` per iteration of the newest run(s) in ``work_dir``."""
    losses = {}
    for run in sorted(os.listdir(work_dir)):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                for line in f:
                    rec = json.loads(line)
                    if 'loss' in rec:
                        losses[rec['step']] = rec['loss']
    return [losses[i] for i in sorted(losses)]


def test_nan_loss_stops_with_iteration_and_key(toy, tmp_path):
    work = str(tmp_path / 'nan')
    cfg = _train_config(toy, work, extra_hooks=[
        dict(type='FiniteLossHook'),
        dict(type='PoisonParamHook', iteration=4)])
    cfg.default_hooks.checkpoint.interval = 1
    cfg.dump(str(tmp_path / 'nan.py'))
    out = _train(str(tmp_path / 'nan.py'), work)
    assert out.returncode != 0
    assert ('FloatingPointError: non-finite loss at iteration 4 (epoch 1) on '
            'this rank: loss=nan, loss_cls=nan; expected finite values for '
            'every loss key (loss, loss_cls)') in out.stderr
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth', 'iter_3.pth']


def _crash_during_write(monkeypatch, module):
    """Make ``open()`` in ``module`` write half of the data, then fail as a
    crash would (the exception stands in for the process dying)."""
    real_open = open

    class HalfFile(io.FileIO):

        def write(self, data):
            super().write(bytes(data)[:len(data) // 2])
            self.flush()
            raise KeyboardInterrupt('simulated crash while saving')

    def crashing_open(file, mode='r', *args, **kwargs):
        if 'w' in mode:
            return HalfFile(file, 'w')
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(module, 'open', crashing_open, raising=False)


@pytest.mark.parametrize('backend', ['atomic', 'stock'])
def test_crash_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch,
                                                      backend):
    """Re-saving a checkpoint (same file name, as ``save_last`` or a resumed
    run does) crashes halfway. With mmxclip's backend the previous file is
    intact and loads; MMEngine's stock backend leaves it truncated."""
    path = str(tmp_path / 'epoch_1.pth')
    good = dict(state_dict={'w': torch.arange(10000.)}, meta=dict(epoch=1))
    save_checkpoint(good, path)
    if backend == 'stock':
        from mmengine.fileio import LocalBackend
        from mmengine.fileio.backends import local_backend
        monkeypatch.setattr(atomic_io.AtomicLocalBackend, 'put',
                            LocalBackend.put)
        _crash_during_write(monkeypatch, local_backend)
    else:
        _crash_during_write(monkeypatch, atomic_io)
    bad = dict(state_dict={'w': torch.zeros(10000)}, meta=dict(epoch=2))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(bad, path)
    monkeypatch.undo()
    if backend == 'stock':
        with pytest.raises(Exception):
            load_from_local(path)
        return
    loaded = load_from_local(path)
    assert torch.equal(loaded['state_dict']['w'], good['state_dict']['w'])
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # temp file cleaned up


def _one_epoch_config(toy, work_dir, checkpoint_type):
    cfg = _train_config(toy, work_dir)
    cfg.merge_from_dict({
        'custom_imports.imports': ['mmxclip'], 'custom_hooks': [],
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 1, 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None,
        'default_hooks.checkpoint': dict(
            _delete_=True, type=checkpoint_type, by_epoch=False, interval=2,
            max_keep_ckpts=1)})
    return cfg


@pytest.mark.parametrize('hook', ['SafeCheckpointHook', 'CheckpointHook'])
def test_crash_while_saving_keeps_the_only_checkpoint(toy, tmp_path,
                                                      monkeypatch, one_thread,
                                                      hook):
    """``max_keep_ckpts=1``: the run crashes while saving its second
    checkpoint. SafeCheckpointHook still has the first one, intact;
    MMEngine's CheckpointHook has already deleted it."""
    real_put = atomic_io.AtomicLocalBackend.put

    def put(self, obj, filepath):
        if filepath.endswith('iter_4.pth'):
            raise KeyboardInterrupt('simulated crash while saving')
        real_put(self, obj, filepath)

    monkeypatch.setattr(atomic_io.AtomicLocalBackend, 'put', put)
    work = tmp_path / 'w'
    with pytest.raises(KeyboardInterrupt):
        Runner.from_cfg(_one_epoch_config(toy, str(work), hook)).train()
    saved = sorted(f for f in os.listdir(work) if f.endswith('.pth'))
    if hook == 'CheckpointHook':
        assert saved == []
        return
    assert saved == ['iter_2.pth']
    assert load_from_local(str(work / 'iter_2.pth'))['meta']['iter'] == 2
