# X-CLIP ViT-B/16, 16 frames x 224 px, Kinetics-400 (published: 84.7 / 96.8,
# 287 GFLOPs per view); recipe of xclip_b16_k400.py. As published
# (configs/k400/16_16.yaml): 4 videos per GPU x 8 accumulation steps (8 GPUs:
# 256 per update, 32 per step for --auto-scale-lr).
_base_ = [
    '_base_/models/xclip_vit_b16.py',
    '_base_/datasets/kinetics400_xclip_16f.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]

model = dict(neck=dict(num_frames=16))
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(accumulative_counts=8)
auto_scale_lr = dict(base_batch_size=32)
