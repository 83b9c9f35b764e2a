# X-CLIP ViT-L/14, 8 frames x 224 px, Kinetics-400 (published: 87.1 / 97.6,
# 658 GFLOPs per view). As published: 4 videos per GPU x 8 accumulation steps
# (8 GPUs: 256 per update, 32 per step for --auto-scale-lr).
_base_ = [
    '_base_/models/xclip_vit_l14.py', '_base_/datasets/kinetics400_xclip.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]

train_dataloader = dict(batch_size=4)
optim_wrapper = dict(accumulative_counts=8)
auto_scale_lr = dict(base_batch_size=32)
