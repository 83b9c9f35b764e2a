"""Weights in every format: detection, safe reading, conversion to mmxclip's
names, architecture inference and the ``clip://`` checkpoint scheme."""
from .allowlist import mmengine_safe_globals, restricted_getattr
from .arch import XCLIP_ONLY, check_state_dict, infer_model_config
from .config_text import ConfigTextError, parse_config_text
from .convert import (clip_to_mmxclip, hf_to_mmxclip, hf_to_official,
                      official_to_mmxclip, strip_prefix)
from .formats import FORMATS, SRC_FORMATS, Weights, read_weights
from .hf_config import HFConfig, read_hf_config, resolve_hf_config
from .inert import InertObject, load_inert
from .mmengine_schemes import (load_from_http, load_from_local,
                               load_from_openmmlab, register_safe_loaders)
from .model_schema import (ModelConfigError, check_model_config,
                           check_pipeline, check_plain)
from .safe_load import load_pickle
from .scheme import clip_quick_gelu, load_from_clip, register_clip_scheme

__all__ = [
    'FORMATS', 'SRC_FORMATS', 'ConfigTextError', 'HFConfig', 'InertObject',
    'ModelConfigError', 'Weights', 'XCLIP_ONLY', 'check_model_config',
    'check_pipeline', 'check_plain', 'check_state_dict', 'clip_quick_gelu',
    'clip_to_mmxclip', 'hf_to_mmxclip', 'hf_to_official',
    'infer_model_config', 'load_from_clip', 'load_from_http',
    'load_from_local', 'load_from_openmmlab', 'load_inert', 'load_pickle',
    'mmengine_safe_globals', 'official_to_mmxclip', 'parse_config_text',
    'read_hf_config', 'read_weights', 'register_clip_scheme',
    'register_safe_loaders', 'resolve_hf_config', 'restricted_getattr',
    'strip_prefix'
]
