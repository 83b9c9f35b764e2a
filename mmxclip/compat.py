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
3. **torch >= 2.6 loads with ``weights_only=True``**, and MMEngine 0.10.7's
   local loader does not say otherwise, so ``--resume``, ``load_from`` and
   ``tools/test.py`` fail on MMEngine's own checkpoints (``Unsupported
   global: ...HistoryBuffer``). :func:`register_safe_local_loader`
   re-registers MMEngine's local ``CheckpointLoader`` scheme with the strict
   loader of :mod:`mmxclip.weights.safe_load`: ``weights_only=True`` always,
   plus an allowlist of exactly the types MMEngine itself writes into a
   checkpoint (its ``HistoryBuffer``, numpy arrays, dtypes and scalars, a
   ``getattr`` that resolves only those; the ``ShardedTensor`` classes of
   FSDP's sharded checkpoints). Nothing else can be unpickled, so a planted
   payload is refused instead of run. MMEngine's ``http(s)://``
   loader (also behind ``torchvision://``, ``open-mmlab://`` and
   ``mmcls://``) goes through ``torch.hub.load_state_dict_from_url``, whose
   ``weights_only`` defaults to False, so a downloaded file could run code:
   it is replaced the same way. ``open-mmlab://`` names whose table entry is
   a file below ``$MMENGINE_HOME`` are read by MMEngine with a bare
   ``torch.load``: that scheme is re-registered too.
4. **numpy 2 makes mmaction's ``ColorJitter.adjust_hue`` raise**
   ``OverflowError`` whenever the hue offset is negative (``uint8 + negative
   python int``). :func:`patch_color_jitter_hue` replaces it with the same
   arithmetic done in ``int16``, only when the original raises.
5. **Distributed runs on CPU** (gloo): MMEngine calls
   ``torch.cuda.set_device`` unconditionally. :func:`setup_cpu_distributed`,
   called by ``tools/train.py`` / ``tools/test.py`` only when no CUDA device
   exists, makes that call harmless and switches the config to gloo. On GPUs
   nothing changes.
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

``_base_ = ['mmaction::...']`` needs ``pkg_resources`` (gone from
setuptools >= 82); mmxclip's configs therefore inherit only from their own
``configs/_base_`` by relative path, so no fix is needed for it.
"""
import math
from typing import Any, Dict, List

import _mmxclip_startup
import numpy as np
import torch


def register_safe_local_loader() -> None:
    """Make MMEngine's local and ``http(s)://`` schemes load safely.

    The local scheme uses :func:`mmxclip.weights.safe_load.load_from_local`;
    ``http(s)://`` and the model-zoo schemes built on MMEngine's
    ``load_from_http`` use :func:`mmxclip.weights.safe_load.load_from_http`;
    ``open-mmlab://`` uses
    :func:`mmxclip.weights.safe_load.load_from_openmmlab`.
    """
    from mmengine.runner import checkpoint

    from mmxclip.weights.safe_load import (load_from_http, load_from_local,
                                           load_from_openmmlab)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local, force=True)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes=('http://', 'https://'), loader=load_from_http, force=True)
    checkpoint.CheckpointLoader.register_scheme(
        prefixes=('open-mmlab://', 'openmmlab://'),
        loader=load_from_openmmlab, force=True)
    checkpoint.load_from_http = load_from_http


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


def allow_cpu_set_device() -> None:
    """Make ``torch.cuda.set_device`` a no-op on a machine without CUDA:
    MMEngine's ``init_dist`` calls it for every launcher."""
    if not torch.cuda.is_available():
        torch.cuda.set_device = lambda device: None


def setup_cpu_distributed(cfg: Any) -> None:
    """Let a distributed launch run on CPU processes (gloo).

    Only for machines without CUDA: makes ``torch.cuda.set_device`` a no-op,
    which MMEngine calls for every launcher, and sets the gloo backend and a
    DDP wrapper without device ids in ``cfg`` (for ``FSDPStrategy``, FSDP's
    ``device_id='cpu'``).

    Args:
        cfg: The MMEngine config, changed in place.
    """
    if torch.cuda.is_available():
        return
    allow_cpu_set_device()
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel', device_ids=None)
    strategy = cfg.get('strategy') or {}
    if strategy.get('type') == 'FSDPStrategy':
        # MMEngine gives FSDP the local rank, a CUDA device index.
        strategy.setdefault('model_wrapper', {})['device_id'] = 'cpu'


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
    ops = complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS
    if 'aten::scaled_dot_product_attention' in ops:
        return False
    ops['aten::scaled_dot_product_attention'] = sdpa_flop_jit
    return True


def apply() -> Dict[str, bool]:
    """Apply the import-time fixes (1, 3, 4, 6 and 7).

    Returns:
        dict: For each fix, whether it changed anything.
    """
    startup = _mmxclip_startup.install()
    done = dict(drn=startup['drn'],
                multimodal=_mmxclip_startup.disable_broken_multimodal())
    register_safe_local_loader()
    done['weights_only'] = True
    done['color_jitter_hue'] = patch_color_jitter_hue()
    done['sdpa_flops'] = register_sdpa_flops()
    return done
