from .inference import (K400_LABEL_MAP, Recognition, init_xclip, load_weights,
                        model_config, read_frames, recognize, test_pipeline,
                        zero_shot)

# demo_app (the web page) is imported on its own: it needs the `demo` extra.
__all__ = [
    'K400_LABEL_MAP', 'Recognition', 'init_xclip', 'load_weights',
    'model_config', 'read_frames', 'recognize', 'test_pipeline', 'zero_shot'
]
