"""Reading pickled checkpoints without running anything from them.

Two policies, one reader (``torch.load(weights_only=True)``, whose
unpickler creates only what an allowlist names):

* **strict** (:func:`load_from_local`, :func:`load_from_http`,
  :func:`load_from_openmmlab`: MMEngine's ``load_from``, ``--resume``,
  ``tools/test.py``, ``http(s)://``, ``torchvision://``,
  ``open-mmlab://``): tensors, containers and exactly
  the types MMEngine writes into its checkpoints
  (:func:`mmengine_safe_globals`). A file that names anything else is
  refused with the file and the object named.
* **inert** (:mod:`mmxclip.weights.inert`, for reading weights): the same,
  plus every other object the file names is built as inert data instead.

Plain pickles (results dumped by ``tools/test.py --dump``) are read with the
strict policy too (:func:`load_pickle`).

Both name the file in every error: refused objects (one formatter,
:func:`refusal_message`), empty, truncated or damaged files
(:func:`unreadable_message`). The environment variable
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` cannot switch this off: every call
passes ``weights_only=True`` explicitly.
"""
import contextlib
import io
import logging
import os
import os.path as osp
import pickle
import struct
from typing import Any, Iterator, Optional

import numpy as np
import torch

from .config_text import parse_config_text

# What torch's message says when it refuses an object, as opposed to a file
# that is not a pickle at all ("Unsupported operand").
_REFUSALS = ('GLOBAL', 'reduce for', 'Can only', 'persistent_load',
             'getattr(')
EXPECTED = ('expected an MMEngine checkpoint or weights holding only '
            "tensors, containers, numpy arrays and MMEngine's HistoryBuffer"
            '; mmxclip never runs code from checkpoint files. For the '
            'weights of other files (official X-CLIP training checkpoints'
            '...) use clip://FILE, init_xclip or tools/convert_weights.py, '
            'which read other objects as inert data')


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
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer '
        'statistics, numpy dtype classes and ShardedTensor.ProcessGroupState '
        'are allowed.')


def fsdp_sharded_globals() -> list:
    """Torch's ``ShardedTensor`` and the classes its pickle names, as
    FSDP's ``SHARDED_STATE_DICT`` saves them (configs/scale/; empty without
    ``torch.distributed``). A ``ShardedTensor`` rebuilds only inside a
    process group of the world size that saved it."""
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
    from mmengine.config import ConfigDict
    from mmengine.logging import HistoryBuffer
    safe = [
        HistoryBuffer, ConfigDict, np.ndarray, np.dtype,
        np.core.multiarray._reconstruct, np.core.multiarray.scalar,
        (_restricted_getattr, 'builtins.getattr')
    ]
    safe += [getattr(np.dtypes, n) for n in dir(np.dtypes)
             if n.endswith('DType')]
    return safe + fsdp_sharded_globals()


def allowed_names() -> set:
    """Full names of every global the strict policy creates."""
    from torch import _weights_only_unpickler as unpickler
    with torch.serialization.safe_globals(mmengine_safe_globals()):
        return (set(unpickler._get_allowed_globals())
                | set(unpickler._get_user_allowed_globals()))


def refusal_reason(error: BaseException) -> Optional[str]:
    """What torch's weights-only unpickler refused, or None if ``error`` is
    not a refusal (a damaged file, or not a pickle).

    Its message wraps one sentence that names the object in boilerplate and
    in advice to allowlist it (wrong for a file from a stranger).
    """
    text = ' '.join(str(error).split())
    text = text.split('WeightsUnpickler error:', 1)[-1]
    for sentence in text.split('. '):
        if any(marker in sentence for marker in _REFUSALS):
            return sentence.strip().rstrip('.')
    return None


def refusal_message(source: str, reason: str, expected: str) -> str:
    """The one message for a refused object."""
    return f'{source}: refused to unpickle: {reason}; {expected}'


def unreadable_message(source: str, error: BaseException,
                       kinds: str = 'a torch.save checkpoint') -> str:
    """The one message for a file that cannot be read at all."""
    if osp.isfile(source) and osp.getsize(source) == 0:
        what = 'the file is empty (0 bytes)'
    else:
        # torch's first sentence says what failed; the rest is advice.
        reason = ' '.join(str(error).split()).split('. ')[0] or (
            'the data ends early' if isinstance(error, EOFError) else
            'no details')
        kind = ('struct.error' if isinstance(error, struct.error) else
                type(error).__name__)
        what = (f'not a complete PyTorch file ({kind}: {reason[:200]}); it '
                'may be truncated or damaged')
    return f'{source}: {what}; expected {kinds}'


@contextlib.contextmanager
def named_errors(source: str,
                 expected: str = EXPECTED,
                 kinds: str = 'a torch.save checkpoint') -> Iterator[None]:
    """Re-raise torch's errors while reading ``source`` with its name.

    Args:
        source: The file or URL, named in the messages.
        expected: What the policy accepts, said after a refusal.
        kinds: The file types the caller reads, said for a damaged file.

    Raises:
        pickle.UnpicklingError: An object the policy does not create.
        ValueError: An empty, truncated or damaged file.
    """
    try:
        yield
    except OSError:
        raise
    # A damaged pickle fails wherever the bytes run out or stop making
    # sense: EOFError, struct.error, KeyError (memo), IndexError (stack)...
    except Exception as err:
        reason = refusal_reason(err)
        if reason is not None:
            raise pickle.UnpicklingError(
                refusal_message(source, reason, expected)) from err
        if 'TorchScript' in str(err):
            raise ValueError(
                f'{source} is a TorchScript archive (OpenAI CLIP); '
                "MMEngine's loaders read torch.save checkpoints: use "
                f'clip://{source} or tools/convert_weights.py') from err
        raise ValueError(unreadable_message(source, err, kinds)) from err


def safe_torch_load(filename: Any,
                    map_location: Any = None,
                    extra_globals: Optional[list] = None) -> Any:
    """``torch.load(weights_only=True)`` with the strict allowlist.

    Args:
        filename: Path or file object.
        map_location: As for :func:`torch.load`.
        extra_globals: Allowed besides :func:`mmengine_safe_globals`.

    Returns:
        The unpickled object.
    """
    allowed = mmengine_safe_globals() + list(extra_globals or [])
    with torch.serialization.safe_globals(allowed):
        return torch.load(filename, map_location=map_location,
                          weights_only=True)


def _without_config_text(checkpoint: Any, source: str) -> Any:
    """Keep MMEngine's ``Runner.resume`` from executing ``meta['config']``.

    MMEngine 0.10.7 resumes by running ``Config.fromstring(meta['config'])``
    (the key mmcv 1.x wrote) to read ``gpu_ids``; Python config text runs
    when parsed, and even literal text may name ``_base_`` files and
    ``custom_imports`` that run. The text is read as literals
    (:func:`parse_config_text`, which refuses code) and replaced by the one
    line resume reads.
    """
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get('config'), str):
        return checkpoint
    cfg = parse_config_text(meta['config'], f"{source}: meta['config']")
    gpu_ids = cfg.get('gpu_ids')
    if isinstance(gpu_ids, (list, tuple)) and all(
            type(i) is int for i in gpu_ids):
        meta['config'] = f'gpu_ids = {list(gpu_ids)!r}\n'
    else:
        del meta['config']
    return checkpoint


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
    return _without_config_text(checkpoint, filename)


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
        return _without_config_text(checkpoint, filename)

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
        osp.join(mmengine_checkpoint._get_mmengine_home(), url), map_location)


def _storage_from_bytes(data: bytes) -> Any:
    """What plain pickle writes for a tensor's storage
    (``torch.storage._load_from_bytes``, which would ``torch.load`` the
    bytes with ``weights_only=False``), read weights-only."""
    return torch.load(io.BytesIO(data), weights_only=True)


def load_pickle(path: str) -> Any:
    """A plain pickle file, such as the results ``tools/test.py --dump``
    writes (MMEngine's ``DumpResults``), with the strict policy.

    Raises:
        pickle.UnpicklingError: An object the strict policy refuses.
        ValueError: An empty or damaged file.
    """
    from torch import _weights_only_unpickler as unpickler
    allowed = mmengine_safe_globals() + [
        (_storage_from_bytes, 'torch.storage._load_from_bytes')]
    with named_errors(path, EXPECTED, 'a pickle (tools/test.py --dump)'), \
            torch.serialization.safe_globals(allowed), open(path, 'rb') as f:
        return unpickler.load(f, encoding='ASCII')
