from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .precision import (PRECISIONS, apply_precision,  # noqa: F401
                        model_precision, resolve_precision)
from .recognizers import *  # noqa: F401,F403
