from .features import (NO_TEXT, VideoFeatures, extract_features, iter_features,
                       run_videos)
from .identity import model_fingerprint, model_identity
from .inference import (K400_LABEL_MAP, Recognition, init_xclip, load_weights,
                        model_config, read_frames, recognize, zero_shot)
from .pipeline import test_pipeline

# demo_app (the web page) is imported on its own: it needs the `demo` extra.
__all__ = [
    'K400_LABEL_MAP', 'NO_TEXT', 'Recognition', 'VideoFeatures',
    'extract_features', 'init_xclip', 'iter_features', 'load_weights',
    'model_config', 'model_fingerprint', 'model_identity', 'read_frames',
    'recognize', 'run_videos', 'test_pipeline', 'zero_shot'
]
