# X-CLIP ViT-B/16, 8 frames x 224 px, Kinetics-400, fully supervised
# (published: 83.8 top-1 / 95.7 top-5 with 4 clips x 3 crops, 145 GFLOPs per
# view). 8 GPUs x 8 videos x 4 accumulation steps = 256 videos per update:
#   tools/dist_train.sh configs/xclip_b16_k400.py 8
_base_ = [
    '_base_/models/xclip_vit_b16.py', '_base_/datasets/kinetics400_xclip.py',
    '_base_/schedules/xclip_adamw_30e.py', '_base_/default_runtime.py'
]
