"""Resume past damage: a damaged latest checkpoint is named and the newest
intact one resumed from; an empty or dangling ``last_checkpoint`` is named;
``last_checkpoint`` and the best-checkpoint rotation survive a crash while
they are written."""
import os
import os.path as osp
import uuid

import pytest
import torch
from helpers.runs import LoggedMessages, make_toy_dataset, toy_config
from mmaction.registry import RUNNERS
from mmengine.hooks import CheckpointHook
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import Runner
from mmengine.runner.checkpoint import save_checkpoint

from mmxclip.engine import SafeCheckpointHook, atomic_io, resumable_checkpoint

# Training runs in this process: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')


def _ckpt(path, epoch):
    save_checkpoint(dict(state_dict={'w': torch.full((100, ), epoch * 1.0)},
                         meta=dict(epoch=epoch)), str(path))
    return str(path)


def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.fixture
def work(tmp_path):
    """epoch_1.pth and epoch_2.pth, written in that order;
    last_checkpoint names epoch_2.pth."""
    first = _ckpt(tmp_path / 'epoch_1.pth', 1)
    second = _ckpt(tmp_path / 'epoch_2.pth', 2)
    os.utime(first, (1, 1))
    (tmp_path / 'last_checkpoint').write_text(second)
    return tmp_path


@pytest.mark.parametrize('damage,problem', [
    ('truncate', '{w}/epoch_2.pth (named by {p}) is damaged: not a complete '
     'zip archive as torch.save writes (File is not a zip file)'),
    ('empty_pointer', '{p} is empty'),
    ('dangling_pointer', '{p} names {w}/epoch_9.pth, which does not exist'),
], ids=['damaged_latest', 'empty_pointer', 'dangling_pointer'])
def test_falls_back_to_newest_intact(work, damage, problem):
    pointer = str(work / 'last_checkpoint')
    if damage == 'truncate':
        _truncate(work / 'epoch_2.pth')
        os.utime(work / 'epoch_2.pth', (2, 2))
        expected = str(work / 'epoch_1.pth')
    else:
        (work / 'last_checkpoint').write_text(
            '' if damage == 'empty_pointer' else f'{work}/epoch_9.pth\n')
        expected = str(work / 'epoch_2.pth')
    with LoggedMessages() as logged:
        found = resumable_checkpoint(str(work),
                                     MMLogger.get_current_instance())
    assert found == expected
    assert logged == [
        problem.format(p=pointer, w=work) + f'; resuming from {expected}, '
        f'the newest intact checkpoint in {work}']


def test_nothing_intact_is_an_error(work):
    _truncate(work / 'epoch_1.pth')
    (work / 'last_checkpoint').write_text('')
    (work / 'epoch_2.pth').write_bytes(b'')
    with pytest.raises(FileNotFoundError) as info:
        resumable_checkpoint(str(work), MMLogger.get_current_instance())
    assert str(info.value) == (
        f'{work}/last_checkpoint is empty, and there is no intact checkpoint '
        f'to resume from in {work} (epoch_2.pth: the file is empty; '
        'epoch_1.pth: not a complete zip archive as torch.save writes (File '
        'is not a zip file)); train without --resume to start from scratch')


def test_intact_latest_is_resumed_quietly(work):
    with LoggedMessages() as logged:
        found = resumable_checkpoint(str(work),
                                     MMLogger.get_current_instance())
    assert found == str(work / 'epoch_2.pth') and logged == []


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(str(tmp_path_factory.mktemp('toy')), 2, 1,
                            num_frames=8)


def _config(toy, work_dir, epochs, resume=False):
    """The toy config: 1 iteration per epoch, a checkpoint every epoch."""
    return toy_config(toy['out_dir'], work_dir, **{
        'custom_hooks': [], 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.batch_size': 16, 'train_cfg.max_epochs': epochs,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
        'default_hooks.checkpoint': dict(
            _delete_=True, type='SafeCheckpointHook', interval=1),
        'resume': resume})


@pytest.mark.parametrize('runner', ['SafeRunner', 'Runner'])
def test_training_resumes_past_a_damaged_checkpoint(toy, tmp_path, runner):
    """A run of 2 epochs, its epoch_2.pth truncated: ``--resume`` to 3
    epochs with mmxclip's runner warns and resumes from epoch 1 (MMEngine's
    runner stops on the damaged file)."""
    work = str(tmp_path / 'w')
    RUNNERS.build(_config(toy, work, 2)).train()
    _truncate(osp.join(work, 'epoch_2.pth'))
    cfg = _config(toy, work, 3, resume=True)
    if runner == 'Runner':
        with pytest.raises(ValueError, match='epoch_2.pth: not a complete '
                           'PyTorch file'):
            Runner.from_cfg(cfg).train()
        return
    resumed = RUNNERS.build(cfg)
    with LoggedMessages() as logged:
        resumed.train()
    assert any(m.startswith(f'{work}/epoch_2.pth (named by {work}/'
                            'last_checkpoint) is damaged') and
               m.endswith(f'resuming from {work}/epoch_1.pth, the newest '
                          f'intact checkpoint in {work}') for m in logged)
    assert resumed.epoch == 3
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == osp.join(work, 'epoch_3.pth')


class _FakeRunner:
    """What CheckpointHook uses of a runner; saving can be made to crash."""

    def __init__(self, work_dir):
        self.work_dir = str(work_dir)
        self.logger = MMLogger.get_current_instance()
        # A fresh name: MessageHub keeps every instance, and an id() can be
        # reused, which would hand this runner an old best score.
        self.message_hub = MessageHub.get_instance(f'fake{uuid.uuid4().hex}')
        self.epoch = self.iter = 0
        self.crash = False

    def save_checkpoint(self, out_dir, filename, *args, **kwargs):
        if self.crash:
            raise KeyboardInterrupt('simulated crash while saving')
        _ckpt(osp.join(out_dir, filename), self.epoch)


def _best_files(folder):
    return sorted(f for f in os.listdir(folder) if f.startswith('best_'))


@pytest.mark.parametrize('hook', [SafeCheckpointHook, CheckpointHook])
def test_crash_while_saving_a_new_best_keeps_the_old(tmp_path, hook):
    runner = _FakeRunner(tmp_path)
    ckpt = hook(interval=1, save_best='acc', rule='greater')
    ckpt.before_train(runner)
    runner.epoch = 1
    ckpt._save_best_checkpoint(runner, {'acc': 0.5})
    assert _best_files(tmp_path) == ['best_acc_epoch_1.pth']
    runner.epoch, runner.crash = 2, True
    with pytest.raises(KeyboardInterrupt):
        ckpt._save_best_checkpoint(runner, {'acc': 0.7})
    if hook is CheckpointHook:
        assert _best_files(tmp_path) == []  # MMEngine removed it first
        return
    assert _best_files(tmp_path) == ['best_acc_epoch_1.pth']
    runner.crash = False
    ckpt._save_best_checkpoint(runner, {'acc': 0.8})
    assert _best_files(tmp_path) == ['best_acc_epoch_2.pth']
    assert ckpt.best_ckpt_path == str(tmp_path / 'best_acc_epoch_2.pth')


@pytest.mark.parametrize('hook', [SafeCheckpointHook, CheckpointHook])
def test_crash_while_writing_last_checkpoint_keeps_it(tmp_path, monkeypatch,
                                                      hook):
    """The process dies while ``last_checkpoint`` is rewritten (after the
    new checkpoint is saved): mmxclip's hook leaves the previous pointer,
    MMEngine's an empty file."""
    runner = _FakeRunner(tmp_path)
    ckpt = hook(interval=1, by_epoch=False)
    ckpt.before_train(runner)
    ckpt._save_checkpoint_with_step(runner, 2, dict(iter=2))
    pointer = tmp_path / 'last_checkpoint'
    assert pointer.read_text() == str(tmp_path / 'iter_2.pth')
    real_replace, real_open = os.replace, open

    def crash_replace(src, dst):  # the worst moment of an atomic write
        if dst.endswith('last_checkpoint'):
            raise KeyboardInterrupt('simulated crash')
        real_replace(src, dst)

    def crash_open(file, mode='r', *args, **kwargs):  # MMEngine's write
        f = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and str(file).endswith('last_checkpoint'):
            raise KeyboardInterrupt('simulated crash')
        return f

    monkeypatch.setattr(atomic_io.os, 'replace', crash_replace)
    from mmengine.hooks import checkpoint_hook
    monkeypatch.setattr(checkpoint_hook, 'open', crash_open, raising=False)
    with pytest.raises(KeyboardInterrupt):
        ckpt._save_checkpoint_with_step(runner, 4, dict(iter=4))
    monkeypatch.undo()
    expected = '' if hook is CheckpointHook else str(tmp_path / 'iter_2.pth')
    assert pointer.read_text() == expected
    assert osp.isfile(tmp_path / 'iter_4.pth')
