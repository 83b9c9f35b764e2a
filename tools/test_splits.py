#!/usr/bin/env python
"""Test one checkpoint on the splits of a dataset: each split, then mean and
standard deviation over the splits (the zero-shot protocol's figures).

    python tools/test_splits.py \
        configs/zero_shot/xclip_b16_32f_k400_zs_hmdb51_split{1,2,3}.py \
        --checkpoint checkpoints/xclip_b16_32f_k400_zero_shot.pth

Each config runs as ``tools/test.py CONFIG CHECKPOINT`` runs it (same
``--cfg-options`` and ``--launcher``; work directory
``<--work-dir>/<config name>``, by default ``work_dirs/<config name>``).
Prints a table of every metric (x 100) per split and the mean +- std over
the splits (population std, NumPy's default), and writes the numbers to
``--out`` as JSON. A split that fails is reported with its error while the
others still run; then there is no mean and the exit status is 1.
"""
import argparse
import copy
import json
import logging
import os.path as osp
import sys
import traceback
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.logging import print_log

import mmxclip  # noqa: F401  (stack fixes and registries first)
from mmxclip.cli import (add_common_args, build_runner, check_output_file,
                         finish_config, parse_args)
from mmxclip.engine.atomic_io import atomic_write

Metrics = Dict[str, float]


def get_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Test a checkpoint on several splits; mean +- std')
    parser.add_argument('configs', nargs='+', help='one test config a split')
    parser.add_argument('--checkpoint', required=True, help='checkpoint file')
    parser.add_argument('--out', help='write the results to this JSON file')
    add_common_args(parser)
    args = parse_args(parser, argv)
    if args.out:
        check_output_file(parser, args.out, '--out', 'JSON')
    return args


def test_split(config: str, args: argparse.Namespace) -> Metrics:
    """One split's metrics, as ``tools/test.py`` computes them."""
    cfg = Config.fromfile(config)
    cfg.load_from = args.checkpoint
    split_args = copy.copy(args)
    split_args.config = config
    if args.work_dir is not None:
        split_args.work_dir = osp.join(args.work_dir,
                                       osp.splitext(osp.basename(config))[0])
    return build_runner(finish_config(cfg, split_args)).test()


def summarize(results: Dict[str, Metrics]) -> Dict[str, Dict[str, float]]:
    """Mean and population std of each metric all splits report."""
    common = set.intersection(*(set(m) for m in results.values()))
    return {
        name: dict(mean=float(np.mean(values)), std=float(np.std(values)))
        for name in sorted(common)
        for values in [[m[name] for m in results.values()]]
    }


def format_table(results: Dict[str, Metrics], errors: Dict[str, str],
                 summary: Optional[Dict[str, Dict[str, float]]]) -> str:
    """Splits as rows, metrics (x 100) as columns."""
    names = sorted({n for m in results.values() for n in m})
    width = max(len(osp.basename(c)) for c in [*results, *errors, 'split'])
    lines = ['  '.join([f'{"split":<{width}}'] +
                       [f'{n:>15}' for n in names])]
    for config, metrics in results.items():
        lines.append('  '.join(
            [f'{osp.basename(config):<{width}}'] +
            [f'{100 * metrics[n]:>15.2f}' if n in metrics else f'{"-":>15}'
             for n in names]))
    for config, error in errors.items():
        lines.append(f'{osp.basename(config):<{width}}  FAILED: {error}')
    if summary is None:
        lines.append(f'mean +- std: not computed, {len(errors)} of '
                     f'{len(results) + len(errors)} splits failed')
    else:
        lines.append('  '.join(
            [f'{f"mean +- std ({len(results)})":<{width}}'] +
            [f'{100 * summary[n]["mean"]:>7.2f} +- '
             f'{100 * summary[n]["std"]:<4.2f}' if n in summary else
             f'{"-":>15}' for n in names]))
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Test every split; print the table. Returns the exit status."""
    args = get_args(argv)
    results: Dict[str, Metrics] = {}
    errors: Dict[str, str] = {}
    for config in args.configs:
        try:
            results[config] = test_split(config, args)
        except Exception as err:  # report it, test the other splits
            errors[config] = f'{type(err).__name__}: {err}'
            print_log(f'{config} failed:\n{traceback.format_exc()}',
                      logger='current', level=logging.ERROR)
    summary = summarize(results) if results and not errors else None
    print(format_table(results, errors, summary))
    if args.out:
        atomic_write(json.dumps(dict(
            checkpoint=args.checkpoint, splits=results, errors=errors,
            summary=summary), indent=2).encode(), args.out)
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
