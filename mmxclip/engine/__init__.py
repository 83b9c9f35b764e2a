"""Training-time reliability (atomic checkpoint writes, hooks) and what
MMEngine's FSDP and DeepSpeed strategies need for X-CLIP."""
from .atomic_io import (AtomicLocalBackend, atomic_write,
                        register_atomic_local_backend)
from .deepspeed import fix_deepspeed
from .fsdp import (XCLIPFullyShardedDataParallel, fix_fsdp_optim_resume,
                   register_fsdp_modules, xclip_fsdp_wrap_policy)
from .hooks import (ExactResumeHook, FiniteLossHook, SafeCheckpointHook,
                    SkippedSamplesHook, get_rng_state, set_rng_state)

register_atomic_local_backend()
register_fsdp_modules()
fix_fsdp_optim_resume()
fix_deepspeed()

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'register_atomic_local_backend',
    'ExactResumeHook', 'FiniteLossHook', 'SafeCheckpointHook',
    'SkippedSamplesHook',
    'get_rng_state', 'set_rng_state', 'register_fsdp_modules',
    'xclip_fsdp_wrap_policy', 'XCLIPFullyShardedDataParallel',
    'fix_fsdp_optim_resume', 'fix_deepspeed'
]
