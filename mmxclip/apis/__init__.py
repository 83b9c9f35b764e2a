from .inference import (K400_LABEL_MAP, Recognition, init_xclip, load_weights,
                        model_config, recognize, test_pipeline, zero_shot)

__all__ = [
    'K400_LABEL_MAP', 'Recognition', 'init_xclip', 'load_weights',
    'model_config', 'recognize', 'test_pipeline', 'zero_shot'
]
