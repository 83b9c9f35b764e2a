# X-CLIP ViT-B/32: ViT-B/16's X-CLIP with 32 x 32 patches, from CLIP ViT-B/32.
_base_ = ['./xclip_vit_b16.py']

model = dict(
    backbone=dict(
        patch_size=32, init_cfg=dict(checkpoint='clip://ViT-B/32')),
    cls_head=dict(init_cfg=dict(checkpoint='clip://ViT-B/32')))
