# X-CLIP ViT-B/32, 8 frames x 224 px, Kinetics-400 (published: 80.4 / 95.0,
# 39 GFLOPs per view); recipe of xclip_b16_k400.py.
_base_ = [
    '_base_/models/xclip_vit_b32.py', '_base_/datasets/kinetics400_xclip.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]
