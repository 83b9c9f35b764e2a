"""Command-line plumbing shared by the tools.

``tools/train.py`` and ``tools/test.py`` take MMAction2's arguments and
behave as MMAction2's own tools; what they share lives here: the common
arguments (``--work-dir``, ``--cfg-options``, ``--launcher``,
``--local_rank``), the default work directory, warnings for
``--cfg-options`` keys the config does not have, distributed launches on
CPU (the gloo switch, :func:`setup_cpu_distributed`: the one place that
knows about it) and building the runner. The tools that run a checkpoint
over video files (``zero_shot.py``, ``extract_features.py``,
``search_videos.py``, ``timeline.py``) share their video, model and label
arguments (:func:`add_video_args`, :func:`video_list`,
:func:`add_label_args`) and the process group of ``--launcher pytorch``
(:func:`init_tool_dist`).
"""
import argparse
import contextlib
import difflib
import math
import os
import os.path as osp
import pickle
import sys
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from .datasets.video_gate import DEFAULT_BUDGET
from .models.heads import load_class_names, load_class_texts
from .models.precision import PRECISIONS


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


def unmatched_options(cfg: Config, options: Dict[str, Any]) -> List[str]:
    """Describe the ``--cfg-options`` keys that match nothing in ``cfg``.

    MMEngine's ``merge_from_dict`` adds such keys silently, so a misspelt
    ``randomnes.seed=3`` changes nothing a run reads. A key is walked part by
    part (list items by index, as ``merge_from_dict`` does); the first part
    the config lacks is reported, with the closest existing names.

    Args:
        cfg: The config before the options are merged.
        options: ``--cfg-options`` as parsed by ``DictAction``.

    Returns:
        list[str]: One message per unmatched key (empty: all matched).
    """
    messages = []
    for key, value in options.items():
        node: Any = cfg
        parts = key.split('.')
        for i, part in enumerate(parts):
            where = '.'.join(parts[:i]) or 'the config'
            if isinstance(node, (list, tuple)) and part.isdigit():
                if int(part) < len(node):
                    node = node[int(part)]
                    continue
                problem = f'{where} has {len(node)} items'
            elif isinstance(node, (dict, Config)):
                if part in node:
                    node = node[part]
                    continue
                close = difflib.get_close_matches(part, [str(k) for k in node])
                problem = f'{where} has no key {part!r}' + (
                    f' (did you mean {close[0]!r}?)' if close else '')
            else:
                problem = f'{where} is {type(node).__name__}, not a dict'
            messages.append(f'--cfg-options {key}={value}: {problem}; it '
                            'is added as a new key (misspelt, it changes '
                            'nothing)')
            break
    return messages


def finish_config(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the common arguments to a config the tool has already adjusted.

    ``--cfg-options`` come last but before the work directory, so they can
    override anything else, and each key that matches nothing in the config
    is warned about (:func:`unmatched_options`); the work directory is
    ``--work-dir``, else the
    config's ``work_dir``, else ``./work_dirs/<config name>``. With a
    distributed launcher on a machine without CUDA, the run is switched to
    CPU processes talking gloo (:func:`setup_cpu_distributed`);
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
        for message in unmatched_options(cfg, args.cfg_options):
            warnings.warn(message, stacklevel=2)
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.launcher != 'none' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    return cfg


@contextlib.contextmanager
def cpu_set_device() -> Iterator[None]:
    """``torch.cuda.set_device`` as a no-op while the block runs, on a
    machine without CUDA: MMEngine's ``init_dist`` calls it for every
    launcher, and a ``Runner`` or ``FlexibleRunner`` calls ``init_dist``
    while it is built. Put back afterwards, so nothing else in the process
    sees the change."""
    if torch.cuda.is_available():
        yield
        return
    original = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = original


def setup_cpu_distributed(cfg: Any) -> None:
    """Let a distributed launch run on CPU processes (gloo).

    Only for machines without CUDA: sets the gloo backend and a DDP wrapper
    without device ids in ``cfg`` (for ``FSDPStrategy``, FSDP's
    ``device_id='cpu'``); :func:`build_runner` then builds the runner, which
    joins the process group, inside :func:`cpu_set_device`.

    Args:
        cfg: The MMEngine config, changed in place.
    """
    if torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None)
    strategy = cfg.get('strategy') or {}
    if strategy.get('type') in ('FSDPStrategy', 'XCLIPFSDPStrategy'):
        # MMEngine gives FSDP the local rank, a CUDA device index.
        strategy.setdefault('model_wrapper', {})['device_id'] = 'cpu'


def build_runner(cfg: Config) -> Runner:
    """MMEngine's default runner, or the registered ``runner_type``.

    Args:
        cfg: The finished config.

    Returns:
        Runner: The runner.
    """
    from mmaction.registry import RUNNERS
    with cpu_set_device():  # a distributed launch joins its group here
        if 'runner_type' not in cfg:
            return Runner.from_cfg(cfg)
        return RUNNERS.build(cfg)


def init_tool_dist(launcher: str) -> Tuple[int, int]:
    """Join the process group of a non-training tool started by
    ``torchrun ... --launcher pytorch`` (MMEngine's ``init_dist``; gloo on
    CPU, NCCL on GPUs).

    Args:
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        tuple: This process's rank and the world size; (0, 1) for
        ``'none'``.
    """
    from mmengine.dist import get_dist_info, init_dist
    if launcher == 'none':
        return 0, 1
    with cpu_set_device():
        init_dist(launcher,
                  backend='nccl' if torch.cuda.is_available() else 'gloo')
    return get_dist_info()


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f'expected a positive integer, got {text!r}')
    return value


@contextlib.contextmanager
def exit_on_bad_input() -> Iterator[None]:
    """End the tool on input an error names (a weight file, the config it
    carries, an index): the message on stderr and exit status 2, as
    argparse ends on a bad argument, never a traceback."""
    try:
        yield
    except (ValueError, FileNotFoundError, pickle.UnpicklingError) as err:
        print(f'error: {err}', file=sys.stderr)
        raise SystemExit(2) from None


def check_output_file(parser: argparse.ArgumentParser, path: str,
                      option: str, kind: str) -> None:
    """Refuse (``parser.error``) an output that names a folder or lies in a
    missing one: found before the work, not after it.

    Args:
        parser: The tool's parser.
        path: The output file.
        option: Its option, for the message (``'--out'``).
        kind: What it holds, for the message (``'.onnx'``).
    """
    if osp.isdir(path):
        parser.error(f'{option} {path} is a folder; name the {kind} file')
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        parser.error(f'{option} {path}: folder {folder} does not exist')


def seconds(text: str) -> float:
    """argparse type: a number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(
            f'expected seconds >= 0, got {text!r}')
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f'expected a positive number, got {text!r}')
    return value


def add_label_args(parser: argparse.ArgumentParser) -> None:
    """``--labels`` (comma-separated) or ``--label-file`` (one per line),
    one of them required, and ``--class-texts``; :func:`read_labels` reads
    and checks them.

    Args:
        parser: The tool's parser.
    """
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument('--labels', help='comma-separated labels')
    labels.add_argument('--label-file', help='one label per line')
    parser.add_argument('--class-texts', help='YAML or JSON file: {label: '
                        '[text, ...]}, several texts per label (ensembled)')


def read_labels(args: argparse.Namespace,
                parser: argparse.ArgumentParser) -> List[str]:
    """The labels of :func:`add_label_args`, checked as the head reads
    class names, and the class texts checked against them (before any model
    is built); ``parser.error`` names what is wrong."""
    try:
        if args.labels is not None:
            if not args.labels.strip():
                raise ValueError('--labels is empty; expected comma-separated '
                                 'labels, e.g. "swimming,riding a bike"')
            labels = load_class_names(args.labels.split(','), name='--labels')
        else:
            labels = load_class_names(args.label_file)
        if args.class_texts is not None:
            load_class_texts(args.class_texts, labels)
        return labels
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """Checkpoint, test-pipeline, device and decode-budget arguments of the
    video tools (what :func:`mmxclip.apis.init_xclip` takes; the tools run
    under ``mmxclip.datasets.video_gate.decode_budget(*decode_budget)``).

    Args:
        parser: The tool's parser (or sub-command parser).
    """
    parser.add_argument('--checkpoint', required=True,
                        help='weights in any format init_xclip reads')
    parser.add_argument('--num-frames', type=positive_int,
                        help="frames per clip (default: the checkpoint's; "
                        "MIT's temporal table is interpolated to it)")
    parser.add_argument('--num-clips', type=positive_int, default=1,
                        help='temporal views per video')
    parser.add_argument('--num-crops', type=int, default=1, choices=(1, 3),
                        help='spatial views per clip')
    parser.add_argument('--device', default='cpu')
    default = DEFAULT_BUDGET['base_s'], DEFAULT_BUDGET['per_mb_s']
    parser.add_argument(
        '--decode-budget', type=seconds, nargs=2, default=default,
        metavar=('BASE_S', 'PER_MB_S'),
        help='seconds a video may take to decode, plus seconds per MiB of '
        'file; a video over its budget fails (default: %(default)s)')
    add_precision_arg(parser)


def add_precision_arg(parser: argparse.ArgumentParser,
                      choices: Sequence[str] = PRECISIONS) -> None:
    """``--precision`` of an inference tool, ``auto`` by default
    (:mod:`mmxclip.models.precision`).

    Args:
        parser: The tool's parser (or sub-command parser).
        choices: The precisions the tool supports.
    """
    parser.add_argument(
        '--precision', default='auto', choices=choices,
        help='inference numerics of the linear layers (default auto: bf16 '
        'where the CPU has AMX or avx512_bf16, else fp32; see '
        'docs/precision.md)')


def add_video_args(parser: argparse.ArgumentParser) -> None:
    """Videos (positional or ``--video-list``), ``--batch-size`` and
    :func:`add_model_args`: the arguments of the batch video tools.

    Args:
        parser: The tool's parser (or sub-command parser).
    """
    parser.add_argument('videos', nargs='*', help='video files')
    parser.add_argument('--video-list',
                        help='a text file with one video path per line (for '
                        'more videos than a command line holds)')
    add_model_args(parser)
    parser.add_argument('--batch-size', type=positive_int, default=8,
                        help='videos encoded together')


def video_list(args: argparse.Namespace,
               parser: argparse.ArgumentParser) -> List[str]:
    """The videos of :func:`add_video_args`: the positional ones, then the
    lines of ``--video-list`` (blank lines skipped), each once (the first
    time it is named, compared as absolute paths).

    Calls ``parser.error`` when no video is named or the list is missing.
    """
    videos = list(args.videos)
    if args.video_list:
        if not osp.isfile(args.video_list):
            parser.error(f'--video-list {args.video_list!r}: no such file')
        with open(args.video_list, encoding='utf-8') as f:
            videos += [line.strip() for line in f if line.strip()]
    if not videos:
        parser.error('no videos: name video files or --video-list FILE')
    seen = set()
    unique = []
    for video in videos:
        if osp.abspath(video) not in seen:
            seen.add(osp.abspath(video))
            unique.append(video)
    return unique
