# Kinetics-400 with 16 frames of 336 x 336: every size of the 224 px
# pipelines scaled by 336 / 224 (resize short side 384, crops 336).
_base_ = ['./kinetics400_xclip_16f.py']

input_size = 336


def _size(value):
    """A size of the 224 px pipelines at ``input_size`` (-1 stays -1)."""
    if isinstance(value, (tuple, list)):
        return tuple(_size(v) for v in value)
    return value if value < 0 else value * input_size // 224


def _resized(pipeline):
    """The pipeline with its scales and crop sizes at ``input_size``."""
    keys = ('scale', 'input_size', 'crop_size')
    return [
        dict(t, **{k: _size(t[k])
                   for k in keys if k in t}) for t in pipeline
    ]


train_pipeline = _resized(_base_.train_pipeline)
val_pipeline = _resized(_base_.val_pipeline)
test_pipeline = _resized(_base_.test_pipeline)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
