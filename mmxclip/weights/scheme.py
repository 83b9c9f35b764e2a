"""The ``clip://`` checkpoint scheme of MMEngine's ``CheckpointLoader``.

Registered by ``import mmxclip``, so any config can initialise from CLIP::

    # the whole X-CLIP: backbone + text encoder + logit_scale
    model = dict(type='XCLIPRecognizer', ...,
                 init_cfg=dict(type='Pretrained',
                               checkpoint='clip://ViT-B/16'))
    # the CCT backbone alone, inside any MMAction2 recognizer
    backbone = dict(type='CCTViT', ...,
                    init_cfg=dict(type='Pretrained', prefix='backbone.',
                                  checkpoint='clip://ViT-B-16/laion2b_s34b_b88k'))

Names:

* ``clip://ViT-B/16`` — OpenAI's names (``ViT-B/32``, ``ViT-B/16``,
  ``ViT-L/14``, ``ViT-L/14@336px``) = open_clip's ``openai`` weights.
* ``clip://ViT-B-16/laion2b_s34b_b88k`` — open_clip's model and pretrained
  tags (``open_clip.list_pretrained()``).
* ``clip:///path/to/ViT-B-16.pt`` (or ``clip://~/...``, ``clip://./...``) — a
  local file in any format :func:`read_weights` knows.

Downloads go through open_clip's pretrained registry
(``open_clip.get_pretrained_cfg`` knows each URL / HF-hub file and its
hash; ``open_clip.pretrained.download_pretrained`` fetches and checks it and
caches it), instead of a URL table of our own.

The loader returns ``{'state_dict': ..., 'meta': ...}`` in mmxclip's names
(``backbone.*``, ``cls_head.text_encoder.*``, ``cls_head.logit_scale``).
X-CLIP's own modules (message attention, MIT, prompts) are not in CLIP:
they keep their random init, which is logged here and, key by key, by
MMEngine's loader.

The MLP activation is architecture, not a weight: OpenAI's CLIP and X-CLIP
use QuickGELU, open_clip's own trainings (LAION-2B, DataComp, ...) ``nn.GELU``.
open_clip's registry knows which for every ``MODEL/TAG`` without a
download, so a model whose ``init_cfg`` names ``clip://MODEL/TAG`` is built
with that activation (:func:`clip_quick_gelu`, which ``CCTViT`` and
``XCLIPTextHead`` consult through
:func:`mmxclip.models.layers.resolve_quick_gelu`): at build time, so that
``tools/test.py`` on the same config builds the same model without
loading the CLIP weights again.
"""
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Tuple

from mmengine.logging import MMLogger
from mmengine.runner.checkpoint import CheckpointLoader

from ..models.layers import register_activation_resolver
from .formats import read_weights

PREFIX = 'clip://'
_OPENAI_NAME = re.compile(r'^(ViT-[BLH])/(\d+)(@(\d+)px)?$')


def resolve(spec: str) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """Split what follows ``clip://``.

    Args:
        spec: ``ViT-B/16``, ``ViT-B-16/laion2b_s34b_b88k`` or a local path.

    Returns:
        tuple: ``(path, None, None)`` for a local file, else ``(None,
        open_clip model name, pretrained tag)``.

    Raises:
        ValueError: Neither a file nor a known open_clip model / tag; the
            message lists the tags open_clip knows for the model.
    """
    if spec.startswith(('/', '.', '~')) or osp.isfile(spec):
        return osp.expanduser(spec), None, None
    match = _OPENAI_NAME.match(spec)
    if match:
        arch, patch, _, size = match.groups()
        name, tag = f'{arch}-{patch}' + (f'-{size}' if size else ''), 'openai'
    elif spec.count('/') == 1:
        name, tag = spec.split('/')
    else:
        raise ValueError(
            f'{PREFIX}{spec}: expected an OpenAI name (ViT-B/16, '
            'ViT-L/14@336px), open_clip MODEL/TAG (ViT-B-16/'
            'laion2b_s34b_b88k) or a local path (clip:///path/to/file.pt)')
    import open_clip
    if not open_clip.get_pretrained_cfg(name, tag):
        tags = open_clip.list_pretrained_tags_by_model(name)
        raise ValueError(f'{PREFIX}{spec}: open_clip has no pretrained '
                         f'weights {name!r}/{tag!r}; tags for {name!r}: '
                         f'{tags or "none (unknown model)"}')
    return None, name, tag


def _uses_quick_gelu(name: str, tag: str) -> bool:
    """Whether open_clip builds ``name``/``tag`` with QuickGELU."""
    import open_clip
    model_cfg = open_clip.get_model_config(name) or {}
    pretrained_cfg = open_clip.get_pretrained_cfg(name, tag)
    return bool(model_cfg.get('quick_gelu')
                or pretrained_cfg.get('quick_gelu'))


def _clip_specs(init_cfg: Any) -> List[str]:
    """The ``clip://`` checkpoints an MMEngine ``init_cfg`` loads."""
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return [c['checkpoint'] for c in cfgs
            if isinstance(c, dict) and str(c.get('checkpoint', ''))
            .startswith(PREFIX)]


def clip_quick_gelu(quick_gelu: Optional[bool], init_cfg: Any,
                    where: str) -> Optional[bool]:
    """The activation of a module that ``init_cfg`` initialises from CLIP:
    the resolver :func:`register_clip_scheme` adds to
    :data:`mmxclip.models.layers.ACTIVATION_RESOLVERS`.

    Args:
        quick_gelu: The module's setting; None: as the ``clip://MODEL/TAG``
            weights of ``init_cfg`` were trained (open_clip's registry).
        init_cfg: The module's MMEngine ``init_cfg``.
        where: The module, named in the error.

    Returns:
        bool or None: True for QuickGELU, False for ``nn.GELU``; None where
        neither the setting nor a ``clip://MODEL/TAG`` says (local files).

    Raises:
        ValueError: ``quick_gelu`` contradicts the weights it loads.
    """
    for spec in _clip_specs(init_cfg):
        path, name, tag = resolve(spec[len(PREFIX):])
        if path is not None:
            continue
        trained = _uses_quick_gelu(name, tag)
        if quick_gelu is not None and quick_gelu != trained:
            raise ValueError(
                f'{where}: quick_gelu={quick_gelu}, but its init_cfg '
                f'loads {spec}, trained with '
                f'{"QuickGELU" if trained else "nn.GELU"}; leave quick_gelu '
                'unset to follow the weights')
        quick_gelu = trained
    return quick_gelu


def download(name: str, tag: str, cache_dir: Optional[str] = None) -> str:
    """Fetch open_clip's ``name``/``tag`` weights (checked, cached).

    Returns:
        str: The local file.
    """
    from open_clip import pretrained
    path = pretrained.download_pretrained(
        pretrained.get_pretrained_cfg(name, tag), cache_dir=cache_dir)
    if not path:
        raise RuntimeError(f'open_clip could not download {name}/{tag}')
    return path


def load_from_clip(filename: str,
                   map_location: Any = None) -> Dict[str, Any]:
    """MMEngine loader for ``clip://...``.

    Args:
        filename: ``clip://`` + a name or path (see :func:`resolve`).
        map_location: Ignored beyond CPU; MMEngine moves tensors later.

    Returns:
        dict: ``state_dict`` in mmxclip's names and ``meta`` with the
        source, its format and whether it uses QuickGELU (None: the file
        does not say).
    """
    spec = filename[len(PREFIX):]
    path, name, tag = resolve(spec)
    logger = MMLogger.get_current_instance()
    quick_gelu = None
    if path is None:
        quick_gelu = _uses_quick_gelu(name, tag)
        path = download(name, tag)
    weights = read_weights(path)
    if quick_gelu is None:
        quick_gelu = weights.quick_gelu
    if not weights.is_xclip:
        logger.info(
            f'{filename}: CLIP weights for the backbone, text encoder and '
            'logit_scale; cross-frame message, MIT (neck) and prompt '
            'modules keep their random init')
    meta = dict(source=filename, path=path, format=weights.format,
                quick_gelu=quick_gelu)
    return dict(state_dict=weights.state_dict, meta=meta)


def register_clip_scheme() -> bool:
    """Register :func:`load_from_clip` for ``clip://`` and
    :func:`clip_quick_gelu` with the models' activation resolvers
    (idempotent).

    Returns:
        bool: Whether anything was registered now (False: both were
        already).
    """
    # Private MMEngine API: CheckpointLoader._schemes; why
    # setup.py pins mmengine<0.11.
    before = CheckpointLoader._schemes.get(PREFIX)
    CheckpointLoader.register_scheme(
        prefixes=PREFIX, loader=load_from_clip, force=True)
    resolver_added = register_activation_resolver(clip_quick_gelu)
    return before is not load_from_clip or resolver_added
