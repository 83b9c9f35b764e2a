"""Training: atomic checkpoint writes, reliability hooks, the lr schedule."""
from .atomic_io import (AtomicLocalBackend, atomic_write,
                        register_atomic_local_backend)
from .hooks import (ExactResumeHook, FiniteLossHook, SafeCheckpointHook,
                    SkippedSamplesHook, get_rng_state, set_rng_state)
from .schedulers import TimmCosineLR

register_atomic_local_backend()

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'register_atomic_local_backend',
    'ExactResumeHook', 'FiniteLossHook', 'SafeCheckpointHook',
    'SkippedSamplesHook',
    'get_rng_state', 'set_rng_state', 'TimmCosineLR'
]
