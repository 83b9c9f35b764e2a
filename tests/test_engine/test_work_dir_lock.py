"""One live run per work dir, with real processes: a second run into a work
dir that a live run holds is refused before it writes anything there; a
lock left by a killed run is taken over with a warning, here by MMAction2's
own tools/train.py (the lock comes with mmxclip's configs). The ranks of one
distributed run share the lock: tests/test_tools/test_train.py and
tests/test_engine/test_distributed.py train with 2 processes into one work
dir."""
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import time

import pytest
from helpers.runs import PYTHON, ROOT, make_toy_dataset, run_tool, toy_config

from mmxclip.engine import WorkDirBusyError, WorkDirLock

MMACTION_TRAIN = osp.join(
    osp.dirname(osp.dirname(__import__('mmaction').__file__)), 'mmaction',
    '.mim', 'tools', 'train.py')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(str(tmp_path_factory.mktemp('toy')), 2, 1,
                            num_frames=8)


def _config(toy, tmp_path, name, work, hold):
    cfg = toy_config(toy['out_dir'], work, **{
        'custom_imports.imports': ['mmxclip', 'helpers.train_hooks'],
        'custom_hooks': [dict(type='HoldHook')] if hold else [],
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.batch_size': 16, 'train_cfg.max_epochs': 1,
        'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None})
    path = str(tmp_path / f'{name}.py')
    cfg.dump(path)
    return path


def _wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not osp.exists(path):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, f'{path} did not appear'
        time.sleep(0.2)


def test_second_run_refused_stale_lock_taken_over(toy, tmp_path):
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{ROOT}/tests',
               OMP_NUM_THREADS='1')
    first = subprocess.Popen(
        [PYTHON, 'tools/train.py', _config(toy, tmp_path, 'hold', work, True),
         '--work-dir', work], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(osp.join(work, 'holding'), first)
        lock = osp.join(work, '.mmxclip.lock')
        with open(lock) as f:
            holder = json.load(f)
        assert holder['pid'] == first.pid
        folders = sorted(os.listdir(work))
        quick = _config(toy, tmp_path, 'quick', work, False)
        second = run_tool(['tools/train.py', quick, '--work-dir', work])
        assert second.returncode != 0
        assert (f'WorkDirBusyError: {work} is in use by another run: PID '
                f'{first.pid} on {socket.gethostname()} (started '
                f"{holder['started']}) holds {lock}. Wait for it to "
                'finish, or pass another --work-dir') in second.stderr
        assert sorted(os.listdir(work)) == folders  # nothing written
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    third = run_tool([MMACTION_TRAIN, quick, '--work-dir', work])
    assert third.returncode == 0, third.stderr[-3000:]
    assert (f'{lock}: took over the lock of PID {first.pid} on '
            f'{socket.gethostname()} (started {holder["started"]}), which '
            'ended without releasing it (crash or kill)') in third.stdout + \
        third.stderr
    with open(lock) as f:
        assert f.read() == ''  # released at exit


def test_one_process_may_build_runners_one_after_another(tmp_path):
    """Runners built one after another in one process are one run."""
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() is None
    assert WorkDirLock(str(tmp_path)).acquire() is None
    lock.release()


def test_lock_held_by_another_process(tmp_path):
    """The refusal names the holder, whatever the lock file says."""
    module = osp.join(ROOT, 'mmxclip', 'engine', 'work_dir_lock.py')
    holder = subprocess.Popen(
        [PYTHON, '-c', 'import runpy, sys; lock = runpy.run_path('
         f'{module!r})["WorkDirLock"]({str(tmp_path)!r}); lock.acquire();'
         'print("held", flush=True); sys.stdin.read()'], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'held\n'
        with pytest.raises(WorkDirBusyError, match=f'PID {holder.pid} on '):
            WorkDirLock(str(tmp_path)).acquire()
    finally:
        holder.communicate('')
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() is None  # released cleanly: no warning
    lock.release()
