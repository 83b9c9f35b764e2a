"""Weights in every format: detection, safe reading, conversion to mmxclip's
names, architecture inference and the ``clip://`` checkpoint scheme."""
from .arch import XCLIP_ONLY, check_state_dict, infer_model_config
from .convert import (clip_to_mmxclip, hf_to_mmxclip, hf_to_official,
                      official_to_mmxclip, strip_prefix)
from .formats import FORMATS, SRC_FORMATS, Weights, read_weights
from .scheme import load_from_clip, register_clip_scheme

__all__ = [
    'FORMATS', 'SRC_FORMATS', 'Weights', 'XCLIP_ONLY', 'check_state_dict',
    'clip_to_mmxclip', 'hf_to_mmxclip', 'hf_to_official',
    'infer_model_config', 'load_from_clip', 'official_to_mmxclip',
    'read_weights', 'register_clip_scheme', 'strip_prefix'
]
