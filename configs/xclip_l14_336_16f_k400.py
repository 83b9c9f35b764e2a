# X-CLIP ViT-L/14 at 336 px, 16 frames, Kinetics-400 (published: 87.7 / 97.4,
# 3086 GFLOPs per view). As published: 1 video per GPU x 32 accumulation steps
# with activation checkpointing (8 GPUs: 256 per update, 8 per step for
# --auto-scale-lr).
_base_ = [
    '_base_/models/xclip_vit_l14_336.py',
    '_base_/datasets/kinetics400_xclip_16x336.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]

model = dict(backbone=dict(with_cp=True), neck=dict(num_frames=16))
train_dataloader = dict(batch_size=1)
optim_wrapper = dict(accumulative_counts=32)
auto_scale_lr = dict(base_batch_size=8)
