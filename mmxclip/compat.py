"""Fixes for the PyPI stack mmxclip runs on, applied by ``import mmxclip``.

Each fix is a no-op where its problem is absent, and each has a test in
``tests/test_compat.py`` that fails without it.

1. **mmaction2 1.2.0's wheel lacks ``mmaction.models.localizers.drn``**
   (upstream issue #2714: the source folder has no ``__init__.py``), so
   ``import mmaction.models`` fails. :func:`install_drn_placeholder` appends a
   finder at the *end* of ``sys.meta_path`` that serves a placeholder for
   exactly ``mmaction.models.localizers.drn`` and ``...drn.drn``; a real
   ``drn`` (source install) is found first and wins. The placeholder's
   ``DRN`` raises a clear error when built. It must run before anything
   imports ``mmaction.models``, which is why ``mmxclip/__init__.py`` applies
   it first.
2. **mmaction imports ``importlib_metadata`` without declaring it.** Fixed by
   declaring ``importlib-metadata`` in ``setup.py``; nothing to do at run
   time.
3. **torch >= 2.6 loads with ``weights_only=True``**, and MMEngine 0.10.7's
   local loader does not say otherwise, so ``--resume``, ``load_from`` and
   ``tools/test.py`` fail on MMEngine's own checkpoints (``Unsupported
   global: ...HistoryBuffer``). :func:`register_safe_local_loader`
   re-registers MMEngine's local ``CheckpointLoader`` scheme with a loader
   that decides deliberately: ``weights_only=True`` always, plus an
   allowlist of exactly the types MMEngine itself writes into a checkpoint
   (its ``HistoryBuffer``, numpy arrays, dtypes and scalars). ``getattr``,
   which those pickles use, is allowlisted only as a wrapper that resolves
   ``HistoryBuffer``'s statistics methods and numpy's dtype classes. The
   sharded checkpoints of ``FSDPStrategy`` (configs/scale/) add torch's
   ``ShardedTensor`` and its metadata classes (:func:`fsdp_sharded_globals`;
   a ``ShardedTensor`` rebuilds only inside a process group of the world size
   that saved it). Nothing else can be
   unpickled, so a planted payload is refused instead of run; the
   environment variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` is deliberately
   not used. MMEngine's ``http(s)://`` loader (also behind ``torchvision://``,
   ``open-mmlab://`` and ``mmcls://``) goes through
   ``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
   False, so a downloaded file could run code: it is replaced the same way
   (:func:`load_from_http`).
4. **numpy 2 makes mmaction's ``ColorJitter.adjust_hue`` raise**
   ``OverflowError`` whenever the hue offset is negative (``uint8 + negative
   python int``). :func:`patch_color_jitter_hue` replaces it with the same
   arithmetic done in ``int16``, only when the original raises.
5. **Distributed runs on CPU** (gloo): MMEngine calls
   ``torch.cuda.set_device`` unconditionally. :func:`setup_cpu_distributed`,
   called by ``tools/train.py`` / ``tools/test.py`` only when no CUDA device
   exists, makes that call harmless and switches the config to gloo. On GPUs
   nothing changes.

6. **transformers >= 5 breaks ``import mmaction.models``**: with any
   transformers >= 4.28 installed, mmaction imports its VindLU models, which
   import ``apply_chunking_to_forward`` and other helpers that transformers 5
   removed. :func:`disable_broken_multimodal` checks for those helpers and,
   where they are gone, sets ``mmaction.utils.dependency.WITH_MULTIMODAL``
   to False, so mmaction registers its own placeholders for the VindLU
   models instead (as it does without transformers). transformers is a test
   dependency of mmxclip (the HuggingFace X-CLIP reference and weights).

``_base_ = ['mmaction::...']`` needs ``pkg_resources`` (gone from
setuptools >= 82); mmxclip's configs therefore inherit only from their own
``configs/_base_`` by relative path, so no fix is needed for it.
"""
import contextlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, Dict, Iterator, Optional

import numpy as np
import torch

DRN_MODULES = ('mmaction.models.localizers.drn',
               'mmaction.models.localizers.drn.drn')


class _DRNPlaceholder:
    """Stands in for mmaction's DRN localizer, missing from the wheel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ImportError(
            'mmaction.models.localizers.drn is missing from the PyPI wheel of '
            'mmaction2 1.2.0 (upstream issue #2714); install mmaction2 from '
            'source to use DRN')


class _DRNFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves placeholder modules for exactly :data:`DRN_MODULES`."""

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname not in DRN_MODULES:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=fullname == DRN_MODULES[0])

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = [] if module.__name__ == DRN_MODULES[0] else None
        if module.__path__ is None:
            del module.__path__
        module.DRN = _DRNPlaceholder
        module.__doc__ = 'mmxclip placeholder: ' + _DRNPlaceholder.__doc__


def install_drn_placeholder() -> bool:
    """Append the DRN finder to ``sys.meta_path`` (once).

    Returns:
        bool: Whether it was installed now (False: already there).
    """
    if any(isinstance(f, _DRNFinder) for f in sys.meta_path):
        return False
    sys.meta_path.append(_DRNFinder())
    return True


def disable_broken_multimodal() -> bool:
    """Skip mmaction's VindLU models when transformers cannot serve them.

    Must run before ``mmaction.models`` is imported.

    Returns:
        bool: Whether mmaction's multimodal models were switched off.
    """
    from mmaction.utils import dependency
    if not dependency.WITH_MULTIMODAL:
        return False
    import transformers.modeling_utils as hf_utils
    if hasattr(hf_utils, 'apply_chunking_to_forward'):
        return False
    dependency.WITH_MULTIMODAL = False
    return True


def _restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to what MMEngine's checkpoints reference.

    MMEngine pickles a ``HistoryBuffer``'s statistics methods as
    ``getattr(HistoryBuffer, 'mean')``, and numpy 2 pickles dtype classes as
    ``getattr(numpy.dtypes, 'Float64DType')``. Any other ``getattr`` in a
    checkpoint is refused: unrestricted, it would reach arbitrary code.
    """
    from mmengine.logging import HistoryBuffer
    statistics = ('mean', 'max', 'min', 'current',
                  *HistoryBuffer._statistics_methods)
    sharded = fsdp_sharded_globals()[:1]
    if isinstance(name, str) and (
            (obj is HistoryBuffer and name in statistics)
            or (obj is np.dtypes and name.endswith('DType'))
            or (obj in sharded and name == 'ProcessGroupState')):
        return getattr(obj, name)
    raise ValueError(f'checkpoint asks for getattr({obj!r}, {name!r}); only '
                     'HistoryBuffer statistics and numpy dtype classes are '
                     'allowed')


def fsdp_sharded_globals() -> list:
    """Torch's ``ShardedTensor`` and the classes its pickle names, as
    FSDP's ``SHARDED_STATE_DICT`` saves them (empty without
    ``torch.distributed``)."""
    if not torch.distributed.is_available():
        return []
    from torch.distributed._shard.metadata import ShardMetadata
    from torch.distributed._shard.sharded_tensor import (
        Shard, ShardedTensor, ShardedTensorMetadata)
    from torch.distributed._shard.sharded_tensor.metadata import (
        MEM_FORMAT_ENCODING, TensorProperties)
    from torch.distributed._shard.sharding_spec import (
        ChunkShardingSpec, EnumerableShardingSpec)
    from torch.distributed.remote_device import _remote_device
    return [ShardedTensor, ShardedTensor.ProcessGroupState, Shard,
            ShardMetadata, ShardedTensorMetadata, TensorProperties,
            MEM_FORMAT_ENCODING, ChunkShardingSpec, EnumerableShardingSpec,
            _remote_device]


def mmengine_safe_globals() -> list:
    """The types MMEngine writes into its own checkpoints (FSDP's sharded
    ones included), and nothing else."""
    from mmengine.logging import HistoryBuffer
    from mmengine.config import ConfigDict
    safe = [
        HistoryBuffer, ConfigDict, np.ndarray, np.dtype,
        np.core.multiarray._reconstruct, np.core.multiarray.scalar,
        (_restricted_getattr, 'builtins.getattr')
    ]
    safe += [getattr(np.dtypes, n) for n in dir(np.dtypes)
             if n.endswith('DType')]
    return safe + fsdp_sharded_globals()


def safe_torch_load(filename: Any,
                    map_location: Any = None,
                    extra_globals: Optional[list] = None) -> Any:
    """``torch.load(weights_only=True)``, optionally with allowed types.

    Args:
        filename: Path or file object.
        map_location: As for :func:`torch.load`.
        extra_globals: Types allowed besides tensors and containers.

    Returns:
        The unpickled object.
    """
    with torch.serialization.safe_globals(extra_globals or []):
        return torch.load(filename, map_location=map_location,
                          weights_only=True)


def load_from_local(filename: str, map_location: Any = None) -> Any:
    """MMEngine's local-file loader, deciding ``weights_only`` deliberately.

    Named as MMEngine's own loader, whose log line derives from the name.

    Args:
        filename: Local checkpoint path.
        map_location: As for :func:`torch.load`.

    Returns:
        The checkpoint.
    """
    import os.path as osp
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with _name_refusal(filename):
        return safe_torch_load(filename, map_location,
                               mmengine_safe_globals())


@contextlib.contextmanager
def _name_refusal(source: str) -> Iterator[None]:
    """Re-raise torch's refusal to unpickle with the file and the reason."""
    import pickle
    try:
        yield
    except pickle.UnpicklingError as err:
        reason = [line.strip() for line in str(err).splitlines()
                  if 'WeightsUnpickler error' in line]
        raise pickle.UnpicklingError(
            f'{source}: refused to unpickle ('
            f'{reason[0] if reason else err}); expected an MMEngine '
            'checkpoint or weights holding only tensors, containers, numpy '
            "arrays and MMEngine's HistoryBuffer. mmxclip never runs code "
            'from checkpoint files') from err


def load_from_http(filename: str,
                   map_location: Any = None,
                   model_dir: Optional[str] = None,
                   progress: bool = False) -> Any:
    """MMEngine's ``http(s)://`` loader with ``weights_only=True``.

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
        with _name_refusal(filename), \
                torch.serialization.safe_globals(mmengine_safe_globals()):
            return torch.hub.load_state_dict_from_url(
                filename, model_dir=model_dir, map_location=map_location,
                progress=progress, weights_only=True)

    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = load()
    if world_size > 1:
        barrier()
        if rank > 0:
            checkpoint = load()
    return checkpoint


def register_safe_local_loader() -> None:
    """Make MMEngine's local and ``http(s)://`` schemes load safely.

    The local scheme uses :func:`load_from_local`; ``http(s)://`` and the
    model-zoo schemes built on MMEngine's ``load_from_http`` use
    :func:`load_from_http`.
    """
    from mmengine.runner import checkpoint
    checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    checkpoint.load_from_http = load_from_http


def _adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """mmaction's ``ColorJitter.adjust_hue`` with the shift done in int16."""
    import cv2
    img = np.clip(img, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    offset = int(factor * 255)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + offset) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def patch_color_jitter_hue() -> bool:
    """Replace ``ColorJitter.adjust_hue`` if it overflows on a negative shift.

    Returns:
        bool: Whether the patch was needed and applied.
    """
    from mmaction.datasets.transforms import ColorJitter
    probe = np.full((1, 1, 3), 128, np.float32)
    try:
        ColorJitter.adjust_hue(probe, -0.1)
        return False
    except OverflowError:
        ColorJitter.adjust_hue = staticmethod(_adjust_hue)
        return True


def setup_cpu_distributed(cfg: Any) -> None:
    """Let a distributed launch run on CPU processes (gloo).

    Only for machines without CUDA: makes ``torch.cuda.set_device`` a no-op,
    which MMEngine calls for every launcher, and sets the gloo backend and a
    DDP wrapper without device ids in ``cfg`` (for ``FSDPStrategy``, FSDP's
    ``device_id='cpu'``).

    Args:
        cfg: The MMEngine config, changed in place.
    """
    if torch.cuda.is_available():
        return
    torch.cuda.set_device = lambda device: None
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None)
    strategy = cfg.get('strategy') or {}
    if strategy.get('type') == 'FSDPStrategy':
        # MMEngine gives FSDP the local rank, a CUDA device index.
        strategy.setdefault('model_wrapper', {})['device_id'] = 'cpu'


def apply() -> Dict[str, bool]:
    """Apply the import-time fixes (1, 3, 4 and 6).

    Returns:
        dict: For each fix, whether it changed anything.
    """
    done = dict(drn=install_drn_placeholder(),
                multimodal=disable_broken_multimodal())
    register_safe_local_loader()
    done['weights_only'] = True
    done['color_jitter_hue'] = patch_color_jitter_hue()
    return done
