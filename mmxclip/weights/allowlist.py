"""What the strict policy of :mod:`mmxclip.weights.safe_load` unpickles:
tensors, containers and exactly the types MMEngine writes into its own
checkpoints, nothing else.

``torch.load(weights_only=True)`` creates only the globals an allowlist
names; this module is that list (:func:`mmengine_safe_globals`) and the one
``getattr`` it admits (:func:`restricted_getattr`).
"""
import pickle
from typing import Any

import numpy as np
import torch


def restricted_getattr(obj: Any, name: str) -> Any:
    """``getattr`` limited to what MMEngine's checkpoints reference.

    MMEngine pickles a ``HistoryBuffer``'s statistics methods as
    ``getattr(HistoryBuffer, 'mean')``, and numpy 2 pickles dtype classes as
    ``getattr(numpy.dtypes, 'Float64DType')``. Any other ``getattr`` in a
    checkpoint is refused: unrestricted, it would reach arbitrary code.
    """
    from mmengine.logging import HistoryBuffer

    # Private MMEngine API: HistoryBuffer._statistics_methods; why
    # setup.py pins mmengine<0.11.
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
    from torch.distributed._shard.sharded_tensor import (Shard, ShardedTensor,
                                                         ShardedTensorMetadata)
    from torch.distributed._shard.sharded_tensor.metadata import (
        MEM_FORMAT_ENCODING, TensorProperties)
    from torch.distributed._shard.sharding_spec import (ChunkShardingSpec,
                                                        EnumerableShardingSpec)
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
        (restricted_getattr, 'builtins.getattr')
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
