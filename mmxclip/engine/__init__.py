"""Training: atomic writes, checkpoint and other hooks, the lr schedule, a
runner that holds its work dir and resumes past damaged checkpoints, and what
MMEngine's FSDP and DeepSpeed strategies need for X-CLIP."""
from .atomic_io import (AtomicLocalBackend, atomic_open_in, atomic_write,
                        register_atomic_local_backend)
from .checkpoint_hook import SafeCheckpointHook
from .class_accuracy_hook import ClassAccuracyHook
from .deepspeed import fix_deepspeed
from .exact_resume_hook import ExactResumeHook, get_rng_state, set_rng_state
from .finite_loss_hook import FiniteLossHook
from .fsdp import (XCLIPFSDPStrategy, XCLIPFullyShardedDataParallel,
                   register_fsdp_modules, xclip_fsdp_wrap_policy)
from .label_check_hook import CheckLabelsHook
from .precision_loop import PrecisionTestLoop
from .resume import resumable_checkpoint
from .runner import SafeRunner
from .schedulers import TimmCosineLR
from .skipped_samples_hook import SkippedSamplesHook
from .work_dir_lock import WorkDirBusyError, WorkDirLock

# The registrations are made by mmxclip/__init__.py, the one list of what
# importing mmxclip changes.
__all__ = [
    'AtomicLocalBackend', 'atomic_open_in', 'atomic_write',
    'register_atomic_local_backend', 'CheckLabelsHook', 'ClassAccuracyHook',
    'ExactResumeHook', 'FiniteLossHook', 'PrecisionTestLoop',
    'SafeCheckpointHook', 'SafeRunner',
    'SkippedSamplesHook', 'TimmCosineLR', 'WorkDirBusyError', 'WorkDirLock',
    'XCLIPFSDPStrategy', 'XCLIPFullyShardedDataParallel', 'fix_deepspeed',
    'get_rng_state', 'register_fsdp_modules', 'resumable_checkpoint',
    'set_rng_state', 'xclip_fsdp_wrap_policy'
]
