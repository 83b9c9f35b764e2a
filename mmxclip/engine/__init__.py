"""Training: atomic writes, checkpoint and other hooks, the lr schedule, a
runner that holds its work dir and resumes past damaged checkpoints."""
from .atomic_io import (AtomicLocalBackend, atomic_open_in, atomic_write,
                        register_atomic_local_backend)
from .checkpoint_hook import SafeCheckpointHook
from .hooks import (ExactResumeHook, FiniteLossHook, SkippedSamplesHook,
                    get_rng_state, set_rng_state)
from .label_check_hook import CheckLabelsHook
from .resume import resumable_checkpoint
from .runner import SafeRunner
from .schedulers import TimmCosineLR
from .work_dir_lock import WorkDirBusyError, WorkDirLock

register_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'atomic_open_in', 'atomic_write',
    'register_atomic_local_backend', 'CheckLabelsHook', 'ExactResumeHook',
    'FiniteLossHook', 'SafeCheckpointHook', 'SafeRunner',
    'SkippedSamplesHook', 'TimmCosineLR', 'WorkDirBusyError', 'WorkDirLock',
    'get_rng_state', 'resumable_checkpoint', 'set_rng_state'
]
