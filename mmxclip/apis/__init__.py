from ..models.precision import PRECISIONS, apply_precision, model_precision
from .features import (NO_TEXT, VideoFeatures, extract_features, iter_features,
                       run_videos)
from .identity import model_fingerprint, model_identity
from .inference import (K400_LABEL_MAP, Recognition, init_xclip, load_weights,
                        model_config, read_frames, recognize, zero_shot)
from .pipeline import test_pipeline
from .timeline import Segment, Timeline, Window, find_segments, timeline

# demo_app (the web page) is imported on its own: it needs the `demo` extra.
# apply_precision is here for every caller that builds its own model (the
# timeline, the demo): the same numerics as init_xclip(..., dtype=).
__all__ = [
    'K400_LABEL_MAP', 'NO_TEXT', 'PRECISIONS', 'Recognition', 'Segment',
    'Timeline', 'VideoFeatures', 'Window', 'apply_precision',
    'extract_features', 'find_segments', 'init_xclip', 'iter_features',
    'load_weights', 'model_config', 'model_fingerprint', 'model_identity',
    'model_precision', 'read_frames', 'recognize', 'run_videos',
    'test_pipeline', 'timeline', 'zero_shot'
]
