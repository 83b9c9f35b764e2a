"""What MMEngine's ``DeepSpeedStrategy`` needs with DeepSpeed 0.19
(configs/scale/*_zero*.py); each fix is a no-op without DeepSpeed.

* MMEngine 0.10.7 registers DeepSpeed's optimizers by importing 1-bit Adam,
  1-bit LAMB, 0/1 Adam and FusedLamb, which DeepSpeed 0.19 removed, so
  building a ``DeepSpeedStrategy`` fails (``ModuleNotFoundError:
  deepspeed.runtime.fp16.onebit``). :func:`register_deepspeed_optimizers`
  registers those that exist.
* DeepSpeed reads its checkpoint files (``--resume``) with
  ``torch.load(weights_only=False)``, which runs whatever a file's pickle
  names. This replaces its ``TorchCheckpointEngine``
  loader with ``weights_only=True``, allowing MMEngine's checkpoint types and
  the few DeepSpeed classes these files hold (:data:`DEEPSPEED_TYPES`).
* DeepSpeed 0.19 cannot shard 0-d parameters ("self.dim() cannot be 0 to
  view Float as Byte") and its ZeRO optimizer fails on parameter groups
  without a trainable parameter (``IndexError``), which MMEngine's
  constructors make for every frozen parameter. The strategy's
  ``_wrap_model`` turns CLIP's frozen ``logit_scale`` into a buffer and
  drops those groups before DeepSpeed sees them.
"""
import functools
import importlib
from typing import Any, List

from torch import nn

from ..weights.safe_load import named_errors, safe_torch_load
from ..weights.sharded import DEEPSPEED_TYPES
from .scalar_params import frozen_scalars_to_buffers

_OPTIMIZERS = (('deepspeed.ops.adam', 'DeepSpeedCPUAdam'),
               ('deepspeed.ops.adam', 'FusedAdam'),
               ('deepspeed.ops.lamb', 'FusedLamb'),
               ('deepspeed.runtime.fp16.onebit', 'OnebitAdam'),
               ('deepspeed.runtime.fp16.onebit', 'OnebitLamb'),
               ('deepspeed.runtime.fp16.onebit', 'ZeroOneAdam'))


def _import(module: str, name: str) -> Any:
    """``module.name``, or None where this DeepSpeed lacks it."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def register_deepspeed_optimizers() -> List[str]:
    """Register the DeepSpeed optimizers this DeepSpeed has in MMEngine's
    ``OPTIMIZERS`` (MMEngine's function of the same name, tolerant).

    Returns:
        list: Names of the registered optimizers.
    """
    from mmengine.registry import OPTIMIZERS
    names = []
    for module, name in _OPTIMIZERS:
        cls = _import(module, name)
        if cls is not None:
            OPTIMIZERS.register_module(module=cls, force=True)
            names.append(name)
    return names


def _load(self: Any, path: str, map_location: Any = None) -> Any:
    """``TorchCheckpointEngine.load`` with ``weights_only=True``; a refusal
    names the file."""
    types = [_import(*t.rsplit('.', 1)) for t in DEEPSPEED_TYPES]
    with named_errors(path):
        return safe_torch_load(path, map_location, [t for t in types if t])


def _wrap_model(wrap_model: Any) -> Any:
    """Wrap ``DeepSpeedStrategy._wrap_model``: frozen 0-d parameters become
    buffers and the optimizer keeps only groups with trainable parameters
    (DeepSpeed's ZeRO optimizer fails on a group without any:
    ``IndexError`` in ``stage_1_and_2.py``; MMEngine's constructors put
    every frozen parameter in a group of its own)."""

    @functools.wraps(wrap_model)
    def wrapper(self: Any, model: nn.Module) -> Any:
        frozen_scalars_to_buffers(model)
        if hasattr(self, 'optim_wrapper'):
            optimizer = self.optim_wrapper.optimizer
            optimizer.param_groups = [
                g for g in optimizer.param_groups
                if any(p.requires_grad for p in g['params'])
            ]
        return wrap_model(self, model)

    return wrapper


def fix_deepspeed() -> bool:
    """Apply the fixes where DeepSpeed is installed (once).

    Returns:
        bool: Whether DeepSpeed is installed (and the fixes applied).
    """
    # Private MMEngine API: mmengine._strategy.deepspeed (its module-level
    # register_deepspeed_optimizers, DeepSpeedStrategy._wrap_model); why
    # setup.py pins mmengine<0.11.
    from mmengine._strategy import deepspeed as strategy
    if strategy.deepspeed is None:
        return False
    from deepspeed.runtime.checkpoint_engine import TorchCheckpointEngine
    strategy.register_deepspeed_optimizers = register_deepspeed_optimizers
    TorchCheckpointEngine.load = _load
    cls = strategy.DeepSpeedStrategy
    if not hasattr(cls._wrap_model, '__wrapped__'):
        cls._wrap_model = _wrap_model(cls._wrap_model)
    return True
