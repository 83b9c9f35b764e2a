# X-CLIP ViT-B/32, 16 frames x 224 px, Kinetics-400; recipe of
# xclip_b16_k400.py (the official k400/32_16 config).
_base_ = [
    '_base_/models/xclip_vit_b32.py',
    '_base_/datasets/kinetics400_xclip_16f.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]

model = dict(neck=dict(num_frames=16))
