"""Training: atomic writes, checkpoint and other hooks, the lr schedule, a
runner that holds its work dir and resumes past damaged checkpoints, and what
MMEngine's FSDP and DeepSpeed strategies need for X-CLIP."""
from .atomic_io import (AtomicLocalBackend, atomic_open_in, atomic_write,
                        register_atomic_local_backend)
from .checkpoint_hook import SafeCheckpointHook
from .deepspeed import fix_deepspeed
from .fsdp import (XCLIPFullyShardedDataParallel, fix_fsdp_optim_resume,
                   register_fsdp_modules, xclip_fsdp_wrap_policy)
from .hooks import (ExactResumeHook, FiniteLossHook, SkippedSamplesHook,
                    get_rng_state, set_rng_state)
from .label_check_hook import CheckLabelsHook
from .resume import resumable_checkpoint
from .runner import SafeRunner
from .schedulers import TimmCosineLR
from .work_dir_lock import WorkDirBusyError, WorkDirLock

register_atomic_local_backend()
register_fsdp_modules()
fix_fsdp_optim_resume()
fix_deepspeed()

__all__ = [
    'AtomicLocalBackend', 'atomic_open_in', 'atomic_write',
    'register_atomic_local_backend', 'CheckLabelsHook', 'ExactResumeHook',
    'FiniteLossHook', 'SafeCheckpointHook', 'SafeRunner',
    'SkippedSamplesHook', 'TimmCosineLR', 'WorkDirBusyError', 'WorkDirLock',
    'XCLIPFullyShardedDataParallel', 'fix_deepspeed', 'fix_fsdp_optim_resume',
    'get_rng_state', 'register_fsdp_modules', 'resumable_checkpoint',
    'set_rng_state', 'xclip_fsdp_wrap_policy'
]
