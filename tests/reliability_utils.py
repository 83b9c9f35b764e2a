"""Generated inputs shared by the reliability tests (tests/test_rel_*.py)."""
import logging
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PYTHON = sys.executable
sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))

from make_toy_dataset import make_toy_dataset, write_video  # noqa: E402


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
    with ``tests/`` importable (for the test hooks of ``rel_hooks.py``)."""
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


__all__ = ['ROOT', 'PYTHON', 'LoggedMessages', 'make_toy_dataset',
           'random_video', 'toy_config', 'run_tool', 'write_video']
