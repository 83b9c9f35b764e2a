"""Fixes for the PyPI stack mmxclip runs on, applied by ``import mmxclip``.

Each fix is a no-op where its problem is absent, and each has a test in
``tests/test_compat.py`` that fails without it.

1. **mmaction2 1.2.0's wheel lacks ``mmaction.models.localizers.drn``**
   (upstream issue #2714), so ``import mmaction.models`` fails. The fix must
   run before *anything* imports ``mmaction.models``, including MMAction2's
   own tools that never import mmxclip, so it lives in the top-level module
   :mod:`_mmxclip_startup`, which ``setup.py`` runs at every interpreter
   start through ``mmxclip-startup.pth`` in site-packages (``pip install .``
   and ``pip install -e .`` alike): it appends a finder at the *end* of
   ``sys.meta_path`` that serves a placeholder for exactly
   ``mmaction.models.localizers.drn`` and ``...drn.drn`` (a real ``drn``
   wins), importing nothing but the standard library. :func:`apply` installs
   it too (a no-op after the ``.pth``), for source trees run uninstalled.
2. **mmaction imports ``importlib_metadata`` without declaring it.** Fixed by
   declaring ``importlib-metadata`` in ``setup.py``; nothing to do at run
   time.
3. **torch >= 2.6 loads with ``weights_only=True``**, which MMEngine
   0.10.7's checkpoint loaders do not allow for: not a shim but mmxclip's
   security boundary, so it lives in :mod:`mmxclip.weights.mmengine_schemes`
   (registered by ``import mmxclip``).
4. **numpy 2 makes mmaction's ``ColorJitter.adjust_hue`` raise**
   ``OverflowError`` whenever the hue offset is negative (``uint8 + negative
   python int``). :func:`patch_color_jitter_hue` replaces it with the same
   arithmetic done in ``int16``, only when the original raises.
5. **Distributed runs on CPU** (gloo): MMEngine calls
   ``torch.cuda.set_device`` unconditionally. The tools' command-line code
   switches such runs to gloo: :func:`mmxclip.cli.setup_cpu_distributed`.
6. **transformers >= 5 breaks ``import mmaction.models``**: with any
   transformers >= 4.28 installed, mmaction imports its VindLU models, which
   import ``apply_chunking_to_forward`` and other helpers that transformers 5
   removed. :func:`_mmxclip_startup.disable_broken_multimodal` checks for
   those helpers and, where they are gone, sets
   ``mmaction.utils.dependency.WITH_MULTIMODAL`` to False, so mmaction
   registers its own placeholders for the VindLU models instead (as it does
   without transformers). It runs just before ``mmaction.models.multimodal``
   is imported, from a finder the start-up hook of fix 1 puts first on
   ``sys.meta_path``. transformers is a test dependency of mmxclip (the
   HuggingFace X-CLIP reference and weights).
7. **MMEngine's FLOP counter counts ``scaled_dot_product_attention`` as 0**
   (it has no handle for it), so MMAction2's ``get_flops.py`` misses every
   attention product of mmxclip's models. :func:`register_sdpa_flops` adds
   :func:`sdpa_flop_jit` to the handles every ``FlopAnalyzer`` starts with.
   It is here, not beside mmxclip's attention, because it repairs
   MMEngine's counter for every model that calls SDPA (MMAction2's own
   included), as the other fixes repair their library, and must be in
   place before MMAction2's tool builds an analyzer.

``_base_ = ['mmaction::...']`` needs ``pkg_resources`` (gone from
setuptools >= 82); mmxclip's configs therefore inherit only from their own
``configs/_base_`` by relative path, so no fix is needed for it.
"""
import math
from typing import Any, Dict, List

import numpy as np

import _mmxclip_startup


def _adjust_hue(img: np.ndarray, factor: float) -> np.ndarray:
    """mmaction's ``ColorJitter.adjust_hue`` with the shift done in int16."""
    import cv2
    img = np.clip(img, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    offset = int(factor * 255)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + offset) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)


def patch_color_jitter_hue() -> bool:
    """Replace ``ColorJitter.adjust_hue`` if it overflows on a negative shift.

    Returns:
        bool: Whether the patch was needed and applied.
    """
    from mmaction.datasets.transforms import ColorJitter
    probe = np.full((1, 1, 3), 128, np.float32)
    try:
        ColorJitter.adjust_hue(probe, -0.1)
        return False
    except OverflowError:
        ColorJitter.adjust_hue = staticmethod(_adjust_hue)
        return True


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention`` in MMEngine's
    convention (one multiply-add = one FLOP): Q K^T and A V, ``L * S * d``
    each per batch and head."""
    from mmengine.analysis.jit_handles import get_shape
    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    return 2 * math.prod(q) * k[-2]


def register_sdpa_flops() -> bool:
    """Make every ``FlopAnalyzer`` count SDPA with :func:`sdpa_flop_jit`.

    MMEngine builds each analyzer from the module-level table
    ``_DEFAULT_SUPPORTED_FLOP_OPS``; adding the handle there reaches
    ``get_model_complexity_info`` and so MMAction2's ``get_flops.py``.

    Returns:
        bool: Whether the handle was added now (False: MMEngine already has
        one for SDPA, which is kept).
    """
    from mmengine.analysis import complexity_analysis

    # Private MMEngine API: the analyzers' default handle table; why
    # setup.py pins mmengine<0.11.
    ops = complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS
    if 'aten::scaled_dot_product_attention' in ops:
        return False
    ops['aten::scaled_dot_product_attention'] = sdpa_flop_jit
    return True


def apply() -> Dict[str, bool]:
    """Apply the import-time fixes (1, 4, 6 and 7).

    Returns:
        dict: For each fix, whether it changed anything.
    """
    startup = _mmxclip_startup.install()
    done = dict(drn=startup['drn'],
                multimodal=_mmxclip_startup.disable_broken_multimodal())
    done['color_jitter_hue'] = patch_color_jitter_hue()
    done['sdpa_flops'] = register_sdpa_flops()
    return done
