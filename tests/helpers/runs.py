"""Runs of the tools and of training for the tests: configs pointed at a
generated toy dataset, tools run as a user runs them, logs captured."""
import contextlib
import json
import logging
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np

from mmxclip.datasets.toy import make_toy_dataset, write_video
from . import ROOT

PYTHON = sys.executable


def random_video(path: str, num_frames: int, height: int, width: int,
                 seed: int = 0) -> str:
    """Write a random-noise mp4 (OpenCV 'mp4v') and return its path."""
    rng = np.random.default_rng(seed)
    write_video(path, rng.integers(0, 256, (num_frames, height, width, 3),
                                   dtype=np.uint8))
    return path


def toy_config(data_root: str, work_dir: str, **overrides):
    """``configs/xclip_toy.py`` pointed at ``data_root``, with overrides.

    Args:
        data_root: Output of :func:`make_toy_dataset`.
        work_dir: The run's work dir.
        **overrides: ``Config.merge_from_dict`` options.

    Returns:
        mmengine.Config
    """
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'xclip_toy.py'))
    options = {
        'work_dir': work_dir,
        'model.cls_head.class_names': osp.join(data_root, 'classes.txt'),
    }
    for split in ('train', 'val', 'test'):
        ann = 'train.txt' if split == 'train' else 'val.txt'
        options[f'{split}_dataloader.dataset.ann_file'] = osp.join(
            data_root, ann)
        options[f'{split}_dataloader.dataset.data_prefix'] = dict(
            video=osp.join(data_root, 'videos'))
    options.update(overrides)
    cfg.merge_from_dict(options)
    return cfg


def run_tool(args: Sequence[str], env: Optional[Dict[str, str]] = None,
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` (or a shell script) from the repository root,
    with ``tests/`` importable (for the test hooks of
    ``helpers/train_hooks.py``)."""
    tests = osp.join(ROOT, 'tests')
    full_env = dict(os.environ, PYTHONPATH=f'{ROOT}:{tests}',
                    OMP_NUM_THREADS='1')
    full_env.update(env or {})
    cmd: List[str] = list(args)
    if cmd[0].endswith('.py'):
        cmd = [PYTHON] + cmd
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


class LoggedMessages(logging.Handler):
    """``with LoggedMessages() as messages``: what MMEngine's current
    logger logs inside the block."""

    def __enter__(self):
        from mmengine.logging import MMLogger
        self.messages = []
        MMLogger.get_current_instance().addHandler(self)
        return self.messages

    def __exit__(self, *exc):
        from mmengine.logging import MMLogger
        MMLogger.get_current_instance().removeHandler(self)

    def emit(self, record):
        self.messages.append(record.getMessage())


def lockstep_toy_config(data_root: str, work_dir: str, batch_size: int,
                        checkpoint_interval: int = 2):
    """:func:`toy_config` for runs compared across process counts.

    Deterministic data (the val pipeline: no random crops or jitter), 2
    epochs, no validation, every rank's losses written by
    ``helpers.train_hooks.LossRecorderHook``, a checkpoint every
    ``checkpoint_interval`` epochs. With 16 videos and ``batch_size`` x
    processes = 16, every iteration sees them all.
    """
    cfg = toy_config(data_root, work_dir, **{
        'custom_imports.imports': ['mmxclip', 'helpers.train_hooks'],
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_cfg.max_epochs': 2, 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None,
        'default_hooks.checkpoint': dict(_delete_=True,
                                         type='SafeCheckpointHook',
                                         interval=checkpoint_interval),
        'custom_hooks': [dict(type='LossRecorderHook')],
    })
    cfg.train_dataloader.dataset.pipeline = cfg.val_pipeline
    return cfg


def loss_curve(work_dir: str, nproc: int):
    """Mean over the ranks of ``LossRecorderHook``'s loss per iteration."""
    import numpy as np
    ranks = [json.load(open(osp.join(work_dir, f'losses_rank{r}.json')))
             for r in range(nproc)]
    return np.mean([[step['loss'] for step in rank] for rank in ranks], 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(script: str, cfg_path: str, nproc: int,
           *args: str) -> subprocess.CompletedProcess:
    """``tools/<script>`` on ``nproc`` CPU processes (what
    ``tools/dist_*.sh`` run), or plainly for one process."""
    if nproc == 1:
        return run_tool([f'tools/{script}', cfg_path, *args])
    return run_tool([
        PYTHON, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
        f'--master_port={free_port()}', f'tools/{script}', cfg_path,
        '--launcher', 'pytorch', *args
    ], timeout=600)


__all__ = ['ROOT', 'PYTHON', 'LoggedMessages', 'free_port', 'launch',
           'lockstep_toy_config', 'loss_curve', 'make_toy_dataset',
           'random_video', 'run_tool', 'toy_config', 'write_video']


@contextlib.contextmanager
def lock_held_elsewhere(folder: str) -> Iterator[None]:
    """Another live process holds ``folder``'s ``.mmxclip.lock`` (the OS
    lock) for the duration of the block."""
    holder = subprocess.Popen(
        [PYTHON, '-c', 'import fcntl, os, sys, time; '
         f'fd = os.open({osp.join(folder, ".mmxclip.lock")!r}, os.O_RDWR | '
         'os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); print(1, flush=True);'
         ' time.sleep(60)'], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == '1'
        yield
    finally:
        holder.kill()
        holder.wait()
