# Kinetics-400 with 32 frames per clip (one from each of 32 segments): the
# zero-shot model's training data and the 32-frame protocol of
# configs/few_shot and configs/zero_shot.
# The same lines as the other frame counts' file: MMEngine runs a base
# config's code with the base's own variables, so a child cannot re-run
# _with_frames with its own num_frames (nor import a helper: text configs).
_base_ = ['./kinetics400_xclip.py']

num_frames = 32


def _with_frames(pipeline):
    """The pipeline with ``num_frames`` frames sampled per clip."""
    return [
        dict(t, num_segments=num_frames)
        if t['type'] == 'SegmentSampleFrames' else t
        for t in pipeline
    ]


train_pipeline = _with_frames(_base_.train_pipeline)
val_pipeline = _with_frames(_base_.val_pipeline)
test_pipeline = _with_frames(_base_.test_pipeline)
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
