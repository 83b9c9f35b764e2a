"""What MMEngine's ``FSDPStrategy`` needs to shard X-CLIP (configs/scale/).

* :class:`XCLIPFullyShardedDataParallel`: MMEngine's FSDP wrapper, with
  CLIP's frozen 0-d ``logit_scale`` made a buffer first (FSDP refuses 0-d
  parameters).
* :func:`xclip_fsdp_wrap_policy`, registered in MMEngine's ``FUNCTIONS``
  (:func:`register_fsdp_modules`):
  one FSDP unit per residual attention block (CCT blocks, CLIP's text
  blocks, MIT, the prompt generator's layers), the layer-wise wrapping FSDP
  is designed for: only one block's full parameters exist at a time.
* MMEngine 0.10.7 registers only the full and local state-dict configs of
  FSDP; :func:`register_fsdp_modules` adds torch's
  ``ShardedStateDictConfig`` and ``ShardedOptimStateDictConfig``, so a
  config can ask for ``SHARDED_STATE_DICT``: every rank saves its shard of
  every parameter under the parameter's own name, with the full shape and
  the shard's offsets, which :mod:`mmxclip.weights.sharded` gathers into one
  state dict without a process group (``'local'`` checkpoints hold flat
  parameters that only the same FSDP wrapping can take apart).
* :class:`XCLIPFSDPStrategy`, the strategy of mmxclip's FSDP configs:
  MMEngine 0.10.7 calls ``FSDP.optim_state_dict_to_load(state_dict, model,
  optim)``, torch's order since 2.1 is ``(model, optim, optim_state_dict)``,
  so ``--resume`` of an FSDP run fails (``TypeError: unhashable type:
  'dict'``). A subclass, not a patch of MMEngine's class: other configs'
  ``FSDPStrategy`` stays MMEngine's own.
"""
import inspect
from typing import Any

# Private MMEngine API: mmengine._strategy.fsdp (FSDPStrategy's
# load_optim_state_dict, FSDP_CONFIGS below); why setup.py pins
# mmengine<0.11.
from mmengine._strategy.fsdp import FSDPStrategy
from mmengine.model import MMFullyShardedDataParallel
from mmengine.registry import MODEL_WRAPPERS, STRATEGIES
from torch import nn
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

from ..models.heads.prompt_generator import PromptGeneratorLayer
from ..models.layers.transformer import ResidualAttentionBlock
from .scalar_params import frozen_scalars_to_buffers

FSDP_UNITS = (ResidualAttentionBlock, PromptGeneratorLayer)


@MODEL_WRAPPERS.register_module()
class XCLIPFullyShardedDataParallel(MMFullyShardedDataParallel):
    """``MMFullyShardedDataParallel`` that first turns frozen 0-d parameters
    (CLIP's ``logit_scale``), which FSDP cannot shard, into buffers
    (:func:`frozen_scalars_to_buffers`). Arguments as for
    :class:`MMFullyShardedDataParallel`."""

    def __init__(self, module: nn.Module, **kwargs: Any) -> None:
        frozen_scalars_to_buffers(module)
        super().__init__(module, **kwargs)


def xclip_fsdp_wrap_policy(module: nn.Module, recurse: bool,
                           nonwrapped_numel: int) -> bool:
    """FSDP auto-wrap policy: a unit per block of :data:`FSDP_UNITS`.

    Args:
        module: The module FSDP asks about.
        recurse: Whether FSDP asks if it should look into the children.
        nonwrapped_numel: Parameters not yet wrapped (unused).

    Returns:
        bool: As torch's ``transformer_auto_wrap_policy``.
    """
    return transformer_auto_wrap_policy(module, recurse, nonwrapped_numel,
                                        transformer_layer_cls=FSDP_UNITS)


@STRATEGIES.register_module()
class XCLIPFSDPStrategy(FSDPStrategy):
    """MMEngine's ``FSDPStrategy`` that resumes the optimizer with torch's
    argument order of ``FSDP.optim_state_dict_to_load`` where torch takes
    the model first (as MMEngine's own where it does not). Arguments as
    for ``FSDPStrategy``."""

    def load_optim_state_dict(self, state_dict: dict) -> None:
        first = next(iter(inspect.signature(
            FSDP.optim_state_dict_to_load).parameters))
        if first != 'model':
            return super().load_optim_state_dict(state_dict)
        self.optim_wrapper.load_state_dict(
            FSDP.optim_state_dict_to_load(
                model=self.model, optim=self.optim_wrapper.optimizer,
                optim_state_dict=state_dict))


def register_fsdp_modules() -> bool:
    """Add FSDP's sharded (optimizer) state-dict configs to MMEngine's
    ``FSDP_CONFIGS`` and :func:`xclip_fsdp_wrap_policy` to its
    ``FUNCTIONS`` (once).

    Returns:
        bool: Whether anything was registered now.
    """
    from mmengine._strategy.fsdp import FSDP_CONFIGS
    from mmengine.registry import FUNCTIONS
    from torch.distributed.fsdp import (ShardedOptimStateDictConfig,
                                        ShardedStateDictConfig)
    added = False
    for cls in (ShardedStateDictConfig, ShardedOptimStateDictConfig):
        if FSDP_CONFIGS.get(cls.__name__) is None:
            FSDP_CONFIGS.register_module(module=cls)
            added = True
    if FUNCTIONS.get('xclip_fsdp_wrap_policy') is None:
        FUNCTIONS.register_module(module=xclip_fsdp_wrap_policy)
        added = True
    return added
