from .features import (VideoFeatures, extract_features, iter_features,
                       run_videos)
from .identity import model_fingerprint, model_identity
from .inference import (K400_LABEL_MAP, Recognition, init_xclip, load_weights,
                        model_config, read_frames, recognize, zero_shot)
from .pipeline import test_pipeline
from .timeline import Segment, Timeline, Window, find_segments, timeline

# demo_app (the web page) is imported on its own: it needs the `demo` extra.
__all__ = [
    'K400_LABEL_MAP', 'Recognition', 'Segment', 'Timeline', 'VideoFeatures',
    'Window', 'extract_features', 'find_segments', 'init_xclip',
    'iter_features', 'load_weights', 'model_config', 'model_fingerprint',
    'model_identity', 'read_frames', 'recognize', 'run_videos',
    'test_pipeline', 'timeline', 'zero_shot'
]
