#!/usr/bin/env python
"""Test (and evaluate) a checkpoint: MMAction2's ``tools/test.py`` for mmxclip.

Same arguments and behaviour as MMAction2's tool; ``import mmxclip`` applies
the stack fixes and registers X-CLIP first. Examples::

    python tools/test.py configs/xclip_toy.py work_dirs/xclip_toy/best.pth
    python tools/test.py CONFIG CKPT --dump results.pkl
    python tools/test.py CONFIG CKPT --precision int8  # docs/precision.md
    tools/dist_test.sh configs/xclip_b16_k400.py CKPT 8
"""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config

import mmxclip  # noqa: F401  (stack fixes and registries first)
from mmxclip.cli import (add_common_args, build_runner, finish_config,
                         parse_args)
from mmxclip.models import PRECISIONS


def get_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) an action recognizer')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--dump',
        type=str,
        help='dump the predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show-dir', help='save the visualised predictions here')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualise every n samples')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per shown window')
    parser.add_argument(
        '--precision', choices=PRECISIONS,
        help="inference numerics (default: the config's test_cfg, fp32 "
        'unless it says otherwise; docs/precision.md)')
    add_common_args(parser)
    return parse_args(parser, argv)


def merge_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the testing arguments to ``cfg`` (in place).

    Args:
        cfg: The loaded config.
        args: Parsed arguments.

    Returns:
        Config: ``cfg``.
    """
    if args.show or args.show_dir is not None:
        if 'visualization' not in cfg.default_hooks:
            raise KeyError(
                f'--show/--show-dir need default_hooks.visualization='
                f'dict(type="VisualizationHook") in {args.config}')
        cfg.default_hooks.visualization.update(
            enable=True,
            show=args.show,
            wait_time=args.wait_time,
            out_dir=args.show_dir,
            interval=args.interval)
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must name a .pkl file, got {args.dump}')
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = [
            *evaluators,
            dict(type='DumpResults', out_file_path=args.dump)
        ]
    if args.precision is not None:
        loop = dict(cfg.get('test_cfg') or {})
        if loop.get('type', 'TestLoop') not in ('TestLoop',
                                                'PrecisionTestLoop'):
            raise ValueError(f"--precision needs test_cfg type 'TestLoop' "
                             f"in {args.config}, not {loop['type']!r}")
        cfg.test_cfg = dict(loop, type='PrecisionTestLoop',
                            precision=args.precision)
    cfg.load_from = args.checkpoint
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Test as the command line says."""
    args = get_args(argv)
    cfg = merge_test_args(Config.fromfile(args.config), args)
    build_runner(finish_config(cfg, args)).test()


if __name__ == '__main__':
    main()
