"""mmxclip's start-up hook: ``import mmaction.models`` works in any process.

Two problems of the PyPI stack break ``import mmaction.models`` itself, so
they must be fixed before MMAction2's own tools (``confusion_matrix.py``,
``clip_feature_extraction.py``, ``reparameterize_model.py``, ...) or any
other code import it, whether or not they ever import mmxclip:

* mmaction2 1.2.0's wheel lacks ``mmaction.models.localizers.drn``
  (upstream issue #2714: the source folder has no ``__init__.py``).
* With transformers >= 5 installed, mmaction imports its VindLU models,
  which need helpers transformers 5 removed (``apply_chunking_to_forward``).

``setup.py`` installs ``mmxclip-startup.pth`` into site-packages (for
``pip install .`` and for ``pip install -e .``); Python's :mod:`site` runs its
one line at every interpreter start: it calls :func:`install` where this
module is found, and otherwise (an editable install whose source tree was
moved or deleted) prints one line saying so instead of a traceback.
:func:`install` only adds two finders to ``sys.meta_path``; this module
imports nothing but the standard library, and
the finders do nothing until mmaction's own imports reach them:

* :class:`_DRNFinder`, *appended*, so it is asked only after every real
  finder failed: it serves placeholders for exactly
  ``mmaction.models.localizers.drn`` and ``...drn.drn``. A real ``drn``
  (source install) is found first and wins. The placeholder's ``DRN``
  raises a clear error when built.
* :class:`_MultimodalGuard`, *prepended* because it must run before the
  regular finders load ``mmaction.models.multimodal``: it finds nothing
  itself, but first switches mmaction's VindLU import off
  (:func:`disable_broken_multimodal`) where transformers cannot serve it,
  so mmaction registers its own placeholders instead, as it does without
  transformers.

``import mmxclip`` calls :func:`install` as well (a no-op when the ``.pth``
already did), so running from a source tree without installing works too.
"""
# Only what every interpreter has loaded anyway: this runs at each start-up
# (importlib.abc and typing are not always loaded; finders are duck-typed).
import sys
from importlib.machinery import ModuleSpec

DRN_MODULES = ('mmaction.models.localizers.drn',
               'mmaction.models.localizers.drn.drn')
MULTIMODAL_MODULE = 'mmaction.models.multimodal'


class _DRNPlaceholder:
    """Stands in for mmaction's DRN localizer, missing from the wheel."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(
            'mmaction.models.localizers.drn is missing from the PyPI wheel of '
            'mmaction2 1.2.0 (upstream issue #2714); install mmaction2 from '
            'source to use DRN')


class _DRNFinder:
    """Finder and loader of placeholder modules for exactly
    :data:`DRN_MODULES`."""

    def find_spec(self, fullname: str, path, target=None):
        if fullname not in DRN_MODULES:
            return None
        return ModuleSpec(
            fullname, self, is_package=fullname == DRN_MODULES[0])

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        if module.__name__ == DRN_MODULES[0]:
            module.__path__ = []
        module.DRN = _DRNPlaceholder
        module.__doc__ = 'mmxclip placeholder: ' + _DRNPlaceholder.__doc__


def disable_broken_multimodal() -> bool:
    """Skip mmaction's VindLU models when transformers cannot serve them.

    Must run before ``mmaction.models.multimodal`` is imported.

    Returns:
        bool: Whether mmaction's multimodal models were switched off.
    """
    from mmaction.utils import dependency
    if not dependency.WITH_MULTIMODAL:
        return False
    import transformers.modeling_utils as hf_utils
    if hasattr(hf_utils, 'apply_chunking_to_forward'):
        return False
    dependency.WITH_MULTIMODAL = False
    return True


class _MultimodalGuard:
    """Runs :func:`disable_broken_multimodal` just before
    ``mmaction.models.multimodal`` is loaded; finds no module itself."""

    def find_spec(self, fullname: str, path, target=None):
        if fullname == MULTIMODAL_MODULE:
            disable_broken_multimodal()
        return None


def _installed(kind: type) -> bool:
    return any(isinstance(f, kind) for f in sys.meta_path)


def install() -> dict:
    """Add both finders to ``sys.meta_path`` (each once).

    Returns:
        dict: For each finder, whether it was installed now (False: it was
        there already).
    """
    done = dict(drn=not _installed(_DRNFinder),
                multimodal=not _installed(_MultimodalGuard))
    if done['drn']:
        sys.meta_path.append(_DRNFinder())
    if done['multimodal']:
        sys.meta_path.insert(0, _MultimodalGuard())
    return done
