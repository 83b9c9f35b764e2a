"""Command-line plumbing shared by ``tools/train.py`` and ``tools/test.py``.

Both tools take MMAction2's arguments and behave as MMAction2's own tools;
what they share lives here: the common arguments (``--work-dir``,
``--cfg-options``, ``--launcher``, ``--local_rank``), the default work
directory, CPU-only distributed launches and building the runner.
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from .compat import setup_cpu_distributed


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Add the arguments both tools take, as MMAction2's tools spell them.

    Args:
        parser: The tool's parser.
    """
    parser.add_argument(
        '--work-dir',
        help='directory for logs, checkpoints and metrics (default: '
        './work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs merged into '
        'it, e.g. train_dataloader.batch_size=4 or '
        'test_dataloader.dataset.pipeline.1.num_views=2; lists as '
        'key="[a,b]" or key=a,b, no white space')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse arguments; export ``LOCAL_RANK`` as ``torch.distributed.launch``
    style launchers expect.

    Args:
        parser: The tool's parser, with :func:`add_common_args` added.
        argv: Arguments; ``sys.argv[1:]`` when None.

    Returns:
        argparse.Namespace: The parsed arguments.
    """
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def finish_config(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the common arguments to a config the tool has already adjusted.

    ``--cfg-options`` come last but before the work directory, so they can
    override anything else; the work directory is ``--work-dir``, else the
    config's ``work_dir``, else ``./work_dirs/<config name>``. With a
    distributed launcher on a machine without CUDA, the run is switched to
    CPU processes talking gloo (:func:`mmxclip.compat.setup_cpu_distributed`);
    on GPUs nothing changes.

    Args:
        cfg: The loaded config, changed in place.
        args: Arguments with ``config``, ``launcher``, ``cfg_options`` and
            ``work_dir``.

    Returns:
        Config: ``cfg``.
    """
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """MMEngine's default runner, or the registered ``runner_type``.

    Args:
        cfg: The finished config.

    Returns:
        Runner: The runner.
    """
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from mmaction.registry import RUNNERS
    return RUNNERS.build(cfg)
