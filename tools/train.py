#!/usr/bin/env python
"""Train a recognizer: MMAction2's ``tools/train.py`` for mmxclip.

Same arguments and behaviour as MMAction2's tool; ``import mmxclip`` applies
the stack fixes and registers X-CLIP first, so it runs from any directory
with mmxclip installed. Examples::

    python tools/train.py configs/xclip_toy.py
    python tools/train.py configs/xclip_toy.py --resume  # latest in work dir
    python tools/train.py CONFIG --resume work_dirs/x/epoch_3.pth
    tools/dist_train.sh configs/xclip_b16_k400.py 8           # 8 GPUs
"""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config

import mmxclip  # noqa: F401  (stack fixes and registries first)
from mmxclip.cli import (add_common_args, build_runner, finish_config,
                         parse_args)


def get_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Train an action recognizer')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, from the latest '
        'checkpoint in the work directory')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by (world size x batch size) / '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--seed', type=int, default=None, help='random seed (default: the '
        "config's randomness.seed)")
    parser.add_argument(
        '--diff-rank-seed',
        action='store_true',
        help='set different seeds for different ranks')
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='deterministic algorithms (cuDNN and torch)')
    add_common_args(parser)
    return parse_args(parser, argv)


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the training arguments to ``cfg`` (in place).

    Args:
        cfg: The loaded config.
        args: Parsed arguments.

    Returns:
        Config: ``cfg``.
    """
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper '
                             f'or AmpOptimWrapper in {args.config}, got '
                             f'{wrapper!r}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise KeyError(f'--auto-scale-lr needs auto_scale_lr='
                           f'dict(base_batch_size=...) in {args.config}')
        cfg.auto_scale_lr.enable = True
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Train as the command line says."""
    args = get_args(argv)
    cfg = merge_train_args(Config.fromfile(args.config), args)
    build_runner(finish_config(cfg, args)).train()


if __name__ == '__main__':
    main()
