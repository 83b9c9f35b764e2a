"""MMEngine's checkpoint schemes, read with the strict policy of
:mod:`mmxclip.weights.safe_load`.

Torch >= 2.6 loads with ``weights_only=True``, and
MMEngine 0.10.7's local loader does not allowlist what MMEngine writes, so
``--resume``, ``load_from`` and ``tools/test.py`` fail on MMEngine's own
checkpoints (``Unsupported global: ...HistoryBuffer``); its ``http(s)://``
loader (behind ``torchvision://``, ``mmcls://`` and ``open-mmlab://`` too)
goes through ``torch.hub.load_state_dict_from_url``, whose ``weights_only``
defaults to False, and ``open-mmlab://`` entries below ``$MMENGINE_HOME``
are read with a bare ``torch.load``. :func:`register_safe_loaders`
(``import mmxclip``) puts the strict loaders behind all of those schemes.
"""
import logging
import os
import os.path as osp
from typing import Any, Optional

import torch

from .allowlist import mmengine_safe_globals
from .config_text import without_config_text
from .safe_load import named_errors, safe_torch_load


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """MMEngine's local-file loader with the strict policy.

    Named as MMEngine's own loader, whose log line derives from the name.

    Args:
        filename: Local checkpoint path.
        map_location: As for :func:`torch.load`.

    Returns:
        The checkpoint.

    Raises:
        FileNotFoundError: No such file (empty path included).
        pickle.UnpicklingError: An object the strict policy refuses.
        ValueError: Empty, truncated or damaged file; config text with code.
    """
    filename = osp.expanduser(filename)
    if not filename or not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint {filename!r} can not be found'
            + (f' (working directory {os.getcwd()})' if filename else ''))
    with named_errors(filename):
        checkpoint = safe_torch_load(filename, map_location)
    return without_config_text(checkpoint, filename)


def load_from_http(filename: str,
                   map_location: Any = None,
                   model_dir: Optional[str] = None,
                   progress: bool = False) -> Any:
    """MMEngine's ``http(s)://`` loader with the strict policy.

    Named as MMEngine's own loader, whose log line derives from the name.
    Like MMEngine's, rank 0 downloads first and the others wait.

    Args:
        filename: URL of the checkpoint.
        map_location: As for :func:`torch.load`.
        model_dir: Download folder (torch hub's by default).
        progress: Whether to show a download progress bar.

    Returns:
        The checkpoint.
    """
    from mmengine.dist import barrier, get_dist_info

    def load() -> Any:
        with named_errors(filename), \
                torch.serialization.safe_globals(mmengine_safe_globals()):
            checkpoint = torch.hub.load_state_dict_from_url(
                filename, model_dir=model_dir, map_location=map_location,
                progress=progress, weights_only=True)
        return without_config_text(checkpoint, filename)

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = load()
    if world_size > 1:
        barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def load_from_openmmlab(filename: str, map_location: Any = None) -> Any:
    """MMEngine's ``open-mmlab://`` loader with the strict policy.

    MMEngine's own resolves the name in its model table (which
    ``$MMENGINE_HOME/open_mmlab.json`` extends) and reads an entry that is
    not a URL, a file below ``$MMENGINE_HOME``, with a bare ``torch.load``:
    without MMEngine's allowlist, and unpickling anything under
    ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``. The same resolution here; both
    kinds of entry go through the strict loaders.

    Args:
        filename: ``open-mmlab://NAME`` or ``openmmlab://NAME``.
        map_location: As for :func:`torch.load`.

    Returns:
        The checkpoint.
    """
    from mmengine.logging import print_log
    from mmengine.runner import checkpoint as mmengine_checkpoint
    prefix, name = filename.split('://', 1)
    renamed = mmengine_checkpoint.get_deprecated_model_names().get(name)
    if renamed:
        print_log(f'{prefix}://{name} is deprecated in favor of '
                  f'{prefix}://{renamed}', logger='current',
                  level=logging.WARNING)
        name = renamed
    url = mmengine_checkpoint.get_external_models()[name]
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location=map_location)
    return load_from_local(
        # Private MMEngine API: _get_mmengine_home, as MMEngine's loader
        # resolves it; why setup.py pins mmengine<0.11.
        osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location)


def register_safe_loaders() -> bool:
    """Put the strict loaders behind MMEngine's checkpoint schemes.

    The local scheme gets :func:`load_from_local`; ``http(s)://`` and the
    model-zoo schemes built on MMEngine's ``load_from_http`` (which they
    look up in ``mmengine.runner.checkpoint`` at call time) get
    :func:`load_from_http`; ``open-mmlab://`` gets
    :func:`load_from_openmmlab`.

    Returns:
        bool: Whether anything was replaced now (False: these loaders were
        registered already).
    """
    from mmengine.runner import checkpoint

    # Private MMEngine API: CheckpointLoader._schemes (to report what
    # changed); why setup.py pins mmengine<0.11.
    schemes = checkpoint.CheckpointLoader._schemes
    prefixes = ('', 'http://', 'https://', 'open-mmlab://', 'openmmlab://')

    def registered() -> tuple:
        return (checkpoint.load_from_http,
                *(schemes.get(p) for p in prefixes))

    before = registered()
    checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'),
        loader=load_from_openmmlab, force=True)
    checkpoint.load_from_http = load_from_http
    return registered() != before
