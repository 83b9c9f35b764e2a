"""mmxclip: X-CLIP for MMAction2.

Importing the package applies the stack fixes of :mod:`mmxclip.compat`
first, then registers the models in ``mmaction.registry.MODELS`` and the
``clip://`` checkpoint scheme in MMEngine's ``CheckpointLoader``.
"""
from . import compat

COMPAT_APPLIED = compat.apply()

from .models import *  # noqa: E402,F401,F403
from . import datasets, engine  # noqa: E402,F401  (dataset, hooks, atomic IO)
from .weights import register_clip_scheme  # noqa: E402

register_clip_scheme()

__version__ = '0.1.0'
