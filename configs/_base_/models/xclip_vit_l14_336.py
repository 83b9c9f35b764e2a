# X-CLIP ViT-L/14 at 336 px, from CLIP ViT-L/14@336px.
_base_ = ['./xclip_vit_l14.py']

model = dict(
    backbone=dict(
        input_resolution=336,
        init_cfg=dict(checkpoint='clip://ViT-L/14@336px')),
    cls_head=dict(init_cfg=dict(checkpoint='clip://ViT-L/14@336px')))
