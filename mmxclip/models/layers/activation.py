"""Which MLP activation a module gets when its config leaves it unset.

The models know no weight format (formats know the models, never the
reverse). A format that can tell from an MMEngine ``init_cfg`` how the
weights it names were trained registers a resolver here;
``mmxclip.weights`` registers the ``clip://`` one
(:func:`mmxclip.weights.scheme.clip_quick_gelu`) when the scheme is
registered.
"""
from typing import Any, Callable, List, Optional

# (quick_gelu, init_cfg, where) -> the setting, None where still unknown;
# raises ValueError where an explicit setting contradicts the weights.
Resolver = Callable[[Optional[bool], Any, str], Optional[bool]]
ACTIVATION_RESOLVERS: List[Resolver] = []


def register_activation_resolver(resolver: Resolver) -> bool:
    """Add ``resolver`` to :data:`ACTIVATION_RESOLVERS` (once).

    Returns:
        bool: Whether it was added now (False: it was there already).
    """
    if resolver in ACTIVATION_RESOLVERS:
        return False
    ACTIVATION_RESOLVERS.append(resolver)
    return True


def resolve_quick_gelu(quick_gelu: Optional[bool], init_cfg: Any,
                       where: str) -> bool:
    """The activation of a module initialised by ``init_cfg``.

    Args:
        quick_gelu: The module's setting; None: as the registered resolvers
            say the weights of ``init_cfg`` were trained, else QuickGELU
            (OpenAI CLIP, X-CLIP).
        init_cfg: The module's MMEngine ``init_cfg``.
        where: The module, named in errors.

    Returns:
        bool: True for QuickGELU, False for ``nn.GELU``.
    """
    for resolver in ACTIVATION_RESOLVERS:
        quick_gelu = resolver(quick_gelu, init_cfg, where)
    return True if quick_gelu is None else quick_gelu
