"""Test-only hooks for the reliability tests, imported by configs that the
tests write (``custom_imports``); ``tests/`` is on ``PYTHONPATH`` there."""
import json
import os
import os.path as osp
import signal

from mmaction.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the process at the end of iteration ``iteration`` (1-based):
    no cleanup, no finally blocks, as a machine failure."""

    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class LossRecorderHook(Hook):
    """Write every iteration's losses of this rank to
    ``WORK_DIR/losses_rank{rank}.json``."""

    def __init__(self) -> None:
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append({k: float(v) for k, v in outputs.items()
                            if 'loss' in k})

    def after_train(self, runner) -> None:
        path = osp.join(runner.work_dir, f'losses_rank{get_rank()}.json')
        with open(path, 'w') as f:
            json.dump(self.losses, f)


@HOOKS.register_module()
class PoisonParamHook(Hook):
    """Make ``logit_scale`` infinite before iteration ``iteration``."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.iteration:
            model = runner.model
            model = getattr(model, 'module', model)
            model.cls_head.logit_scale.data.fill_(float('inf'))


@HOOKS.register_module()
class HoldHook(Hook):
    """Before training, write ``WORK_DIR/holding`` and wait until
    ``WORK_DIR/release`` exists (at most ``timeout`` seconds): a live run
    that holds its work dir for as long as a test needs."""

    def __init__(self, timeout: float = 120) -> None:
        self.timeout = timeout

    def before_train(self, runner) -> None:
        import time
        open(osp.join(runner.work_dir, 'holding'), 'w').close()
        release = osp.join(runner.work_dir, 'release')
        deadline = time.time() + self.timeout
        while not osp.exists(release) and time.time() < deadline:
            time.sleep(0.1)
