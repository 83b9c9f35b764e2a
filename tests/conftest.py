import os
import sys

import mmxclip  # noqa: F401  (stack fixes first, then the registries)
from mmaction.utils import register_all_modules

sys.path.insert(0, os.path.dirname(__file__))
register_all_modules(init_default_scope=True)
