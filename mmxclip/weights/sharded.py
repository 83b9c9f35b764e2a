"""One state dict from the checkpoint folder a sharded training writes.

MMEngine's ``FlexibleRunner`` saves ``epoch_N.pth`` as a *folder* under the
scale configs (configs/scale/):

* ``FSDPStrategy`` with ``SHARDED_STATE_DICT``: ``rank{r}.pth`` per rank,
  an MMEngine checkpoint whose ``state_dict`` holds torch ``ShardedTensor``
  values: each rank's rows of each parameter, with the full shape and the
  rows' offsets.
* ``DeepSpeedStrategy``: DeepSpeed's layout, ``mp_rank_00_model_states.pt``
  (ZeRO-1/2) or ``zero_pp_rank_{r}_mp_rank_00_model_states.pt`` (ZeRO-3)
  with parameter names and shapes, and ``*_optim_states.pt`` per rank
  holding that rank's partition of the fp32 master weights.

:func:`read_sharded_checkpoint` assembles the full tensors, each element
from exactly one shard (an overlap, a gap or an offset outside the tensor
is an error naming the file). A ``torch.distributed.checkpoint`` folder
(``*.distcp``) is refused with the command that converts it: which tensor
its files hold is written only in its ``.metadata``, a pickle. Every file is
read with ``torch.load(weights_only=True)``. Torch would rebuild a pickled
``ShardedTensor`` only inside a process group of the saving world size, and
DeepSpeed's own reader (``deepspeed.utils.zero_to_fp32``) unpickles with
``weights_only=False``; so here ``ShardedTensor`` and DeepSpeed's few
classes are read as inert records (:class:`_ShardedRecord`,
:class:`_Record`) that only store their data, beside torch's tensor
rebuilding and the allowlist of
:func:`mmxclip.weights.allowlist.mmengine_safe_globals`; anything else a
file names is refused. The DeepSpeed merge follows ``zero_to_fp32``'s
layout (tested equal to it, tests/test_engine/test_scale.py).
"""
import glob
import math
import os.path as osp
import re
from typing import Any, Dict, List, Tuple

import torch
from torch import Tensor

from .allowlist import mmengine_safe_globals, restricted_getattr

StateDict = Dict[str, Tensor]
_SHARDED_TENSOR = 'torch.distributed._shard.sharded_tensor.api.ShardedTensor'
# The DeepSpeed classes its checkpoint files name (read as records here; the
# real classes are allowed when DeepSpeed resumes, mmxclip.engine.deepspeed).
DEEPSPEED_TYPES = ('deepspeed.runtime.fp16.loss_scaler.LossScaler',
                   'deepspeed.runtime.fp16.loss_scaler.DynamicLossScaler',
                   'deepspeed.runtime.zero.config.ZeroStageEnum',
                   'deepspeed.utils.tensor_fragment.fragment_address')
_DS_MODEL = re.compile(r'(zero_pp_rank_\d+_)?mp_rank_00_model_states\.pt$')
_DS_RANK_MODEL = re.compile(r'zero_pp_rank_(\d+)_mp_rank_00_model_states\.pt$')
_DCP_METADATA = '.metadata'  # torch.distributed.checkpoint's index
_DS_OPTIM = re.compile(
    r'(?:bf16_)?zero_pp_rank_(\d+)_mp_rank_00_optim_states\.pt$')


class _ShardedRecord(Tensor):
    """A saved ``ShardedTensor`` as data: ``shards`` (each with
    ``.tensor`` and ``.metadata.shard_offsets``) and ``metadata.size``."""

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise TypeError('a ShardedTensor record holds no data of its own; '
                        'read its shards')

    def __setstate__(self, state: tuple) -> None:
        self.shards, self.metadata, self.pg_state = state[:3]


class _Record:
    """Any other object of these files as its attributes (never called)."""


def _getattr(obj: Any, name: str) -> Any:
    """The pickles' ``getattr``: the record's ``ProcessGroupState``, else
    what :func:`mmxclip.weights.allowlist.restricted_getattr` allows."""
    if obj is _ShardedRecord and name == 'ProcessGroupState':
        from torch.distributed._shard.sharded_tensor import ShardedTensor
        return ShardedTensor.ProcessGroupState
    return restricted_getattr(obj, name)


def _load(path: str) -> Any:
    """``torch.load(weights_only=True)`` with the records above."""
    names = {_SHARDED_TENSOR, 'builtins.getattr'}
    safe = [g for g in mmengine_safe_globals()
            if (g[1] if isinstance(g, tuple) else
                f'{g.__module__}.{g.__qualname__}') not in names]
    safe += [(_ShardedRecord, _SHARDED_TENSOR), (_getattr, 'builtins.getattr')]
    safe += [(int if t.endswith('Enum') else _Record, t)
             for t in DEEPSPEED_TYPES]
    try:
        # Exactly this list: safe_load.safe_torch_load would add the strict
        # policy's own entries for the names replaced here.
        with torch.serialization.safe_globals(safe):
            return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:
        raise ValueError(f'{path}: not a readable shard of a checkpoint '
                         f'({type(err).__name__}: {err})') from err


def is_sharded_checkpoint(path: str) -> bool:
    """Whether ``path`` is a folder FSDP, DeepSpeed or
    ``torch.distributed.checkpoint`` wrote."""
    return osp.isdir(path) and bool(
        glob.glob(osp.join(path, 'rank*.pth'))
        or _is_dcp(path)
        or any(_DS_MODEL.match(osp.basename(f))
               for f in glob.glob(osp.join(path, '*.pt'))))


def _is_dcp(folder: str) -> bool:
    """Whether ``torch.distributed.checkpoint`` wrote ``folder``."""
    return bool(glob.glob(osp.join(folder, '*.distcp'))
                or osp.isfile(osp.join(folder, _DCP_METADATA)))


def read_sharded_checkpoint(folder: str) -> Tuple[StateDict, Dict]:
    """The full state dict and the ``meta`` of a sharded checkpoint folder.

    Args:
        folder: ``epoch_N.pth`` (or ``iter_N.pth``) written by FSDP or
            DeepSpeed.

    Returns:
        tuple: State dict (the model's keys, full tensors) and ``meta``.

    Raises:
        ValueError: A missing or unreadable rank, shards that do not cover
            a tensor exactly once, a ``torch.distributed.checkpoint``
            folder (refused: its index is a pickle), or a layout this
            reader does not know; the message names the file.
    """
    if _is_dcp(folder):
        raise ValueError(
            f'{folder}: a torch.distributed.checkpoint folder (*.distcp, '
            f'{_DCP_METADATA}); its {_DCP_METADATA} is a pickle, which '
            'mmxclip never unpickles. If you trust who wrote it, convert it '
            'in an environment you trust with torch\'s own reader: python '
            '-m torch.distributed.checkpoint.format_utils dcp_to_torch '
            f'{folder} model.pth, then pass model.pth')
    if glob.glob(osp.join(folder, 'rank*.pth')):
        return _read_fsdp(folder)
    if is_sharded_checkpoint(folder):
        return _read_deepspeed(folder)
    raise ValueError(f'{folder}: neither FSDP (rank*.pth) nor DeepSpeed '
                     '(*_model_states.pt) checkpoint files in it')


def _rank_files(folder: str, pattern: re.Pattern, kind: str) -> List[str]:
    """Files of ranks 0..N-1, in rank order; a gap is an error."""
    found = {int(m.group(1)): f for f in glob.glob(osp.join(folder, '*'))
             if (m := pattern.match(osp.basename(f)))}
    if not found:
        raise ValueError(f'{folder}: no {kind} files in it; the checkpoint '
                         'is incomplete (copy every file the save wrote)')
    missing = sorted(set(range(max(found) + 1)) - set(found))
    if missing:
        raise ValueError(f'{folder}: {kind} of rank(s) {missing} missing '
                         f'(found ranks {sorted(found)})')
    return [found[r] for r in range(len(found))]


def _read_fsdp(folder: str) -> Tuple[StateDict, Dict]:
    """Gather ``rank{r}.pth`` of ``FSDPStrategy`` (``SHARDED_STATE_DICT``)."""
    files = _rank_files(folder, re.compile(r'rank(\d+)\.pth$'), 'rank*.pth')
    ranks = [_load(f)['state_dict'] for f in files]
    full: StateDict = {}
    for key, value in ranks[0].items():
        if key.endswith('_flat_param'):
            raise ValueError(
                f"{files[0]}: {key!r} is a flat FSDP parameter: saved with "
                "state_dict_cfg='local', which only the same FSDP wrapping "
                "can take apart; save with SHARDED_STATE_DICT (configs/"
                "_base_/strategies/fsdp.py) or 'full'")
        if not isinstance(value, _ShardedRecord):
            full[key] = value  # not sharded (buffers): the same on all ranks
            continue
        world = value.pg_state.global_world_size
        if world != len(files):
            raise ValueError(f'{folder}: saved by {world} ranks, but '
                             f'{len(files)} rank files are here')
        shards = []
        for f, rank in zip(files, ranks):
            if key not in rank:
                raise ValueError(f'{f}: no {key!r}, which rank 0 has')
            shards += [(f, shard) for shard in rank[key].shards]
        full[key] = _assemble(key, tuple(value.metadata.size), shards)
    return full, _load(files[0]).get('meta', {})


def _assemble(key: str, size: tuple, shards: List[Tuple[str, Any]]) -> Tensor:
    """Place each shard's tensor at its offsets, every element exactly once.

    Args:
        key: The tensor's name.
        size: Its full shape.
        shards: ``(rank file, shard)`` pairs.

    Raises:
        ValueError: A shard outside the tensor, two shards overlapping, or
            elements no shard holds; the file and the tensor named.
    """
    out = torch.empty(size, dtype=shards[0][1].tensor.dtype)
    owner = torch.full(size, -1, dtype=torch.int32)  # which shard wrote it
    for i, (path, shard) in enumerate(shards):
        offsets = list(shard.metadata.shard_offsets)
        sizes = list(shard.metadata.shard_sizes)
        if list(shard.tensor.shape) != sizes:
            raise ValueError(f'{path}: {key!r} shard of shape '
                             f'{tuple(shard.tensor.shape)}, metadata says '
                             f'{tuple(sizes)}')
        if len(offsets) != len(size) or any(
                o < 0 or o + s > n for o, s, n in zip(offsets, sizes, size)):
            raise ValueError(f'{path}: {key!r} shard at offsets {offsets} '
                             f'of shape {tuple(sizes)} lies outside the '
                             f'tensor of shape {size}')
        where = tuple(slice(o, o + s) for o, s in zip(offsets, sizes))
        taken = owner[where][owner[where] >= 0]
        if taken.numel():
            other = shards[int(taken[0])]
            raise ValueError(
                f'{path}: {key!r} shard at offsets {offsets} overlaps the '
                f'one at {list(other[1].metadata.shard_offsets)} of '
                f'{other[0]}; the files do not belong together')
        out[where] = shard.tensor
        owner[where] = i
    missing = int((owner < 0).sum())
    if missing:
        raise ValueError(f'{osp.dirname(shards[0][0])}: the shards of '
                         f'{key!r} leave {missing} of its {out.numel()} '
                         'elements uncovered')
    return out


def _read_deepspeed(folder: str) -> Tuple[StateDict, Dict]:
    """Merge DeepSpeed's ZeRO partitions (fp32 master weights)."""
    single = osp.join(folder, 'mp_rank_00_model_states.pt')
    models = ([single] if osp.isfile(single) else
              _rank_files(folder, _DS_RANK_MODEL, '*_model_states.pt'))
    model = _load(models[0])
    # The trained fp32 weights are the optimizer's master copy: without
    # those files there are none (the model files may hold only shapes).
    optims = [_load(f)['optimizer_state_dict'] for f in _rank_files(
        folder, _DS_OPTIM, '*_optim_states.pt (the fp32 weights)')]
    stage = int(optims[0]['zero_stage'])
    world = optims[0]['partition_count']
    world = max(world) if isinstance(world, list) else world
    if world != len(optims):
        raise ValueError(f'{folder}: ZeRO-{stage} over {world} ranks, but '
                         f'{len(optims)} *_optim_states.pt files are here')
    full = {k: v for k, v in model['module'].items()
            if k in model['buffer_names']}
    shapes = model['param_shapes']
    if stage <= 2:
        groups = [torch.cat([o['single_partition_of_fp32_groups'][g]
                             for o in optims]) for g in range(len(shapes))]
        pads = optims[0].get('param_alignment_paddings')
        for g, (group, flat) in enumerate(zip(shapes, groups)):
            offset = 0
            for i, (name, shape) in enumerate(group.items()):
                full[name] = flat[offset:offset + math.prod(shape)].view(shape)
                offset += math.prod(shape) + (pads[g][i] if pads else 0)
            _check_used(folder, offset, flat.numel(), 2 * world)
        frozen = model.get('frozen_param_fragments') or {}
        full.update({k: frozen[k] for k in model.get('frozen_param_shapes')
                     or {}})
    else:
        # Each parameter is split into ceil(numel / world) elements per
        # rank, one after another in each rank's flat groups.
        flats = [torch.cat(o['fp32_flat_groups']) for o in optims]
        offset = 0
        for name, shape in ((n, s) for g in shapes for n, s in g.items()):
            part = math.ceil(math.prod(shape) / world)
            full[name] = torch.cat([f[offset:offset + part] for f in flats]
                                   )[:math.prod(shape)].view(shape)
            offset += part
        _check_used(folder, offset, flats[0].numel(), 1)
        ranks = [_load(f) for f in models]
        for name, shape in (model.get('frozen_param_shapes') or {}).items():
            full[name] = torch.cat([r['frozen_param_fragments'][name]
                                    for r in ranks])[:math.prod(shape)
                                                     ].view(shape)
    for name, source in model.get('shared_params', {}).items():
        full[name] = full[source]
    return full, model.get('meta', {})


def _check_used(folder: str, used: int, available: int, align: int) -> None:
    """The parameters consumed the flat partitions (up to alignment)."""
    def up(n: int) -> int:
        return align * math.ceil(n / align)

    if up(used) != up(available):
        raise ValueError(f'{folder}: the parameter shapes use {used} of '
                         f'{available} saved elements; the files do not '
                         'belong together')
