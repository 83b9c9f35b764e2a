#!/usr/bin/env python
"""The lr of every optimizer update: a config's MMEngine schedule against the
official X-CLIP code's.

Official side: timm's ``CosineLRScheduler`` built as the official
``build_scheduler`` builds it (lr_min = lr / 100, 5 warm-up epochs from 0,
``t_in_epochs=False``) and stepped as ``main.py`` steps it
(``step_update(epoch * n + idx)`` after each optimizer step, accumulation
counted per epoch). MMEngine side: the config's optimizer wrapper (on CPU:
``OptimWrapper`` with the config's ``accumulative_counts``) and param
schedulers, stepped as ``ParamSchedulerHook`` steps them. Both record the lr
of each group at every ``optimizer.step()``. Example::

    python tools/analysis/compare_lr_schedule.py configs/xclip_b16_k400.py \
        --iters-per-epoch 3756
"""
import argparse
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmaction.registry import PARAM_SCHEDULERS
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

import mmxclip  # noqa: F401  (registries)

# utils/config.py defaults the official configs keep.
OFFICIAL_WARMUP_EPOCHS = 5
Updates = Tuple[List[int], np.ndarray]  # iterations, lrs (updates, groups)


class _TwoGroups(nn.Module):
    """One CLIP parameter (base lr) and one MIT parameter (10 x lr)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Linear(1, 1, bias=False)
        self.neck = nn.Linear(1, 1, bias=False)


def _recorder(optimizer: torch.optim.Optimizer, iteration: List[int],
              iters: List[int], lrs: List[List[float]]) -> None:
    """Record the iteration and the groups' lr at every step."""

    def hook(opt, args, kwargs):
        iters.append(iteration[0])
        lrs.append([g['lr'] for g in opt.param_groups])

    optimizer.register_step_pre_hook(hook)


def mmengine_updates(cfg: Config, iters_per_epoch: int) -> Updates:
    """The config's lr at each optimizer update, run as MMEngine runs it."""
    init_default_scope('mmaction')
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.type = 'OptimWrapper'  # AmpOptimWrapper needs CUDA
    wrapper_cfg.pop('loss_scale', None)
    model = _TwoGroups()
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    epochs = cfg.train_cfg.max_epochs
    schedulers = []
    for sched in copy.deepcopy(cfg.param_scheduler):
        # Runner._build_param_scheduler's default end.
        sched.setdefault('end', epochs if sched.get('by_epoch', True) else
                         epochs * iters_per_epoch)
        schedulers.append(PARAM_SCHEDULERS.build(
            sched, default_args=dict(optimizer=wrapper,
                                     epoch_length=iters_per_epoch)))
    wrapper.initialize_count_status(model, 0, epochs * iters_per_epoch)
    iteration, iters, lrs = [0], [], []
    _recorder(wrapper.optimizer, iteration, iters, lrs)
    for i in range(epochs * iters_per_epoch):
        iteration[0] = i
        wrapper.update_params(0 * sum(p.sum() for p in model.parameters()))
        for s in schedulers:  # ParamSchedulerHook.after_train_iter
            if not s.by_epoch:
                s.step()
        if (i + 1) % iters_per_epoch == 0:  # ... and after_train_epoch
            for s in schedulers:
                if s.by_epoch:
                    s.step()
    return iters, np.array(lrs)


def official_updates(cfg: Config, iters_per_epoch: int) -> Updates:
    """The official lr at each update for the config's lr, epochs and
    accumulation (utils/optimizer.py build_scheduler, main.py)."""
    from timm.scheduler.cosine_lr import CosineLRScheduler
    lr = cfg.optim_wrapper.optimizer.lr
    steps = cfg.optim_wrapper.get('accumulative_counts', 1)
    epochs = cfg.train_cfg.max_epochs
    params = [nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.AdamW(
        [dict(params=[params[0]], lr=lr),
         dict(params=[params[1]], lr=lr * 10)])
    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=int(epochs * iters_per_epoch),
        lr_min=lr / 100,
        warmup_lr_init=0,
        warmup_t=int(OFFICIAL_WARMUP_EPOCHS * iters_per_epoch),
        cycle_limit=1,
        t_in_epochs=False)
    iteration, iters, lrs = [0], [], []
    _recorder(optimizer, iteration, iters, lrs)
    for epoch in range(epochs):
        for idx in range(iters_per_epoch):  # train_one_epoch
            iteration[0] = epoch * iters_per_epoch + idx
            if steps == 1 or (idx + 1) % steps == 0:
                optimizer.step()
                scheduler.step_update(epoch * iters_per_epoch + idx)
    return iters, np.array(lrs)


def compare(cfg: Config, iters_per_epoch: int) -> Dict[str, object]:
    """Both schedules and how far apart they are.

    Returns:
        dict: ``ours`` and ``official`` (:data:`Updates`), ``same_iters``
        (the updates fall on the same iterations), ``max_rel`` (largest
        relative lr difference over all updates but the first, all groups;
        without ``same_iters`` against the official lr in effect at each of
        our updates' iterations) and ``first`` (the first update's lrs).
    """
    ours, official = (mmengine_updates(cfg, iters_per_epoch),
                      official_updates(cfg, iters_per_epoch))
    out = dict(ours=ours, official=official,
               same_iters=ours[0] == official[0],
               first=(ours[1][0].tolist(), official[1][0].tolist()))
    if out['same_iters']:
        ref = official[1]
    else:  # the official lr in effect at each of our updates' iterations
        ref = official[1][np.searchsorted(official[0], ours[0]).clip(
            max=len(official[0]) - 1)]
    rel = np.abs(ours[1] - ref) / np.abs(ref).clip(1e-30)
    out['max_rel'] = float(rel[1:].max())
    return out


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--iters-per-epoch', type=int, required=True,
                        help='len(train_loader): videos per GPU // batch')
    parser.add_argument('--epoch', type=int, default=23,
                        help='also print the lrs at the start of this epoch')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    n = args.iters_per_epoch
    result = compare(cfg, n)
    (it_ours, lr_ours), (it_off, lr_off) = result['ours'], result['official']
    print(f'{args.config}: {n} iterations per epoch, '
          f'{len(it_ours)} updates (official {len(it_off)})')
    print(f'first update lr (base group): ours {result["first"][0][0]:.3g}, '
          f'official {result["first"][1][0]:.3g}')
    if not result['same_iters']:
        print('the updates fall on different iterations: the official code '
              'restarts accumulation each epoch and drops the last '
              f'{n % cfg.optim_wrapper.accumulative_counts} batches of each; '
              'compared with the official lr in effect at our updates')
    print(f'max relative lr difference after the first update: '
          f'{result["max_rel"]:.3g}')
    if not result['same_iters']:
        return
    k = int(np.searchsorted(it_off, args.epoch * n))
    if k < len(it_off):
        print(f'epoch {args.epoch}, first update (iteration {it_off[k]}): '
              f'ours {lr_ours[k, 0]:.4g}, official {lr_off[k, 0]:.4g} '
              f'(relative difference '
              f'{abs(lr_ours[k, 0] - lr_off[k, 0]) / lr_off[k, 0]:.3g})')


if __name__ == '__main__':
    main()
