from .inference import (init_xclip, load_weights, model_config, test_pipeline,
                        zero_shot)

__all__ = [
    'init_xclip', 'load_weights', 'model_config', 'test_pipeline', 'zero_shot'
]
