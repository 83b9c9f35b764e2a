# X-CLIP ViT-L/14 (224 px), from CLIP ViT-L/14: vision width 1024, 24 layers,
# 16 heads; joint embedding 768; text width 768 with 12 heads.
_base_ = ['./xclip_vit_b16.py']

model = dict(
    backbone=dict(
        patch_size=14,
        width=1024,
        layers=24,
        heads=16,
        output_dim=768,
        init_cfg=dict(checkpoint='clip://ViT-L/14')),
    neck=dict(embed_dim=768),
    cls_head=dict(
        embed_dim=768,
        vision_width=1024,
        text_cfg=dict(width=768, heads=12),
        init_cfg=dict(checkpoint='clip://ViT-L/14')))
