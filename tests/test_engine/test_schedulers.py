"""TimmCosineLR under MMEngine's Runner: the lr of every optimizer update
equals the official code's (timm stepped as main.py steps it), also after
resuming from a checkpoint; and its argument checks."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import ROOT
from helpers.weight_files import load_tool
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn

from mmxclip.engine import TimmCosineLR

# Training runs in this process: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')

B16 = osp.join(ROOT, 'configs', 'xclip_b16_k400.py')
schedule = load_tool('analysis/compare_lr_schedule.py')
EPOCHS, VIDEOS, BATCH = 6, 16, 2  # 8 iterations per epoch, 2 updates


class TwoGroups(BaseModel):
    """A CLIP parameter (base lr) and an MIT one (10 x lr)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(2, 1, bias=False)
        self.neck = nn.Linear(1, 1, bias=False)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.neck(self.backbone(torch.stack(inputs))).pow(
            2).mean())


class LrRecorder(Hook):
    """(iteration, lr of each group) at every optimizer step."""

    def __init__(self) -> None:
        self.steps = []

    def before_train(self, runner) -> None:
        runner.optim_wrapper.optimizer.register_step_pre_hook(
            lambda opt, args, kwargs: self.steps.append(
                (runner.iter, [g['lr'] for g in opt.param_groups])))


def train(work_dir: str, resume_from: str = None):
    cfg = Config.fromfile(B16)
    wrapper = dict(cfg.optim_wrapper, type='OptimWrapper')
    wrapper.pop('loss_scale')
    recorder = LrRecorder()
    torch.manual_seed(0)
    runner = Runner(
        model=TwoGroups(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=[dict(inputs=torch.randn(2)) for _ in range(VIDEOS)],
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=BATCH, num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=EPOCHS),
        optim_wrapper=wrapper,
        param_scheduler=copy.deepcopy(cfg.param_scheduler),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        custom_hooks=[recorder],
        default_scope='mmaction',
        resume=resume_from is not None,
        load_from=resume_from)
    runner.train()
    return recorder.steps


def test_runner_updates_follow_the_official_schedule_and_resume(tmp_path):
    steps = train(str(tmp_path / 'run'))
    cfg = Config.fromfile(B16)
    cfg.train_cfg.max_epochs = EPOCHS
    iters, official = schedule.official_updates(cfg, VIDEOS // BATCH)
    assert [i for i, _ in steps] == iters
    ours = np.array([lr for _, lr in steps])
    np.testing.assert_allclose(ours, official, rtol=1e-12, atol=0)
    assert ours[0].tolist() == [0., 0.] and (ours[1:] > 0).all()

    resumed = train(str(tmp_path / 'resumed'),
                    str(tmp_path / 'run' / 'epoch_3.pth'))
    assert resumed == [s for s in steps if s[0] >= 3 * VIDEOS // BATCH]


@pytest.mark.parametrize('kwargs,match', [
    (dict(warmup=2), 'needs end'),
    (dict(warmup=10, end=10), r'warmup must be in \[0, 10\)'),
    (dict(warmup=2, end=10, by_epoch=True), 'convert_to_iter_based'),
])
def test_bad_arguments_are_named(kwargs, match):
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.)
    with pytest.raises(ValueError, match=match):
        TimmCosineLR(optimizer, **kwargs)


def test_plain_optimizer_updates_every_iteration():
    """Without a wrapper (A = 1): lr(i - 1) at iteration i, from 0."""
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.)
    scheduler = TimmCosineLR(optimizer, warmup=4, end=12)
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]['lr'])
        scheduler.step()
    assert lrs == pytest.approx([0., 0., 0.25, 0.5, 0.75, 0.01 + 0.99 * 0.75])
