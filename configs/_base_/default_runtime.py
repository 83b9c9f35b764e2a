# Runtime shared by every mmxclip config: MMAction2's default scope, the
# plugin import (so MMAction2's own tools/train.py and tools/test.py work with
# these configs too), hooks, logging and seeding.
default_scope = 'mmaction'
custom_imports = dict(imports=['mmxclip'], allow_failed_imports=False)
# MMEngine's Runner that refuses a work dir another live run holds (a lock
# with the holder's PID) and resumes past a damaged latest checkpoint.
runner_type = 'SafeRunner'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # A checkpoint every epoch (the published recipe), the best by val
    # accuracy kept as best_acc_top1_epoch_*.pth.
    # SafeCheckpointHook: MMEngine's CheckpointHook, deleting outdated
    # checkpoints only after the new one is written (atomically).
    checkpoint=dict(
        type='SafeCheckpointHook', interval=1, save_best='auto',
        max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

# Refuse annotation labels outside the head's classes (naming file and line)
# before training / testing; stop at the first NaN/inf loss (naming
# iteration and key) before it is checkpointed; resume mid-epoch with the
# random generators restored; log how many broken videos skip_broken
# replaced.
custom_hooks = [
    dict(type='CheckLabelsHook'),
    dict(type='FiniteLossHook'),
    dict(type='ExactResumeHook'),
    dict(type='SkippedSamplesHook')
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=1024, diff_rank_seed=False, deterministic=False)
