"""mmxclip: X-CLIP for MMAction2.

Importing the package is the one place where mmxclip's library changes
anything outside itself (the start-up hook of :mod:`_mmxclip_startup` and
the tools' :func:`mmxclip.cli.cpu_set_device` aside). In this order:

1. the stack fixes of :mod:`mmxclip.compat` (``COMPAT_APPLIED`` says which
   changed anything);
2. the models, datasets, transforms and hooks in MMAction2's registries
   (the ``@register_module`` decorators of the modules imported here);
3. MMEngine's checkpoint schemes: local, ``http(s)://`` and
   ``open-mmlab://`` read with the strict loaders of
   :mod:`mmxclip.weights.mmengine_schemes`, and ``clip://`` added;
4. MMEngine's file backends: the atomic local backend
   (:mod:`mmxclip.engine.atomic_io`);
5. MMEngine's FSDP and DeepSpeed strategies: FSDP's sharded state-dict
   configs and mmxclip's wrap policy registered (the FSDP wrapper and
   ``XCLIPFSDPStrategy``, which mmxclip's FSDP configs name, register as
   the models do), the DeepSpeed fixes (:mod:`mmxclip.engine.fsdp`,
   :mod:`mmxclip.engine.deepspeed`).

``docs/good_neighbour.md`` lists each of these changes with why and since
when.

``REGISTERED`` records, for 3 to 5, whether each step changed anything.
Subpackages only import and export.
"""
from . import compat

COMPAT_APPLIED = compat.apply()

from . import datasets, engine  # noqa: E402,F401
from .engine import (fix_deepspeed, register_atomic_local_backend,  # noqa
                     register_fsdp_modules)
from .models import *  # noqa: E402,F401,F403
from .weights import register_clip_scheme, register_safe_loaders  # noqa: E402

REGISTERED = dict(
    safe_loaders=register_safe_loaders(),
    clip_scheme=register_clip_scheme(),
    atomic_local_backend=register_atomic_local_backend(),
    fsdp_modules=register_fsdp_modules(),
    deepspeed=fix_deepspeed(),
)

__version__ = '0.1.0'
