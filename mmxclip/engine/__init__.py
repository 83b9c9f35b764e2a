"""Training-time reliability: atomic checkpoint writes and hooks."""
from .atomic_io import (AtomicLocalBackend, atomic_write,
                        register_atomic_local_backend)
from .hooks import (ExactResumeHook, FiniteLossHook, SafeCheckpointHook,
                    SkippedSamplesHook, get_rng_state, set_rng_state)
from .label_check_hook import CheckLabelsHook

register_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'register_atomic_local_backend',
    'CheckLabelsHook', 'ExactResumeHook', 'FiniteLossHook',
    'SafeCheckpointHook', 'SkippedSamplesHook',
    'get_rng_state', 'set_rng_state'
]
