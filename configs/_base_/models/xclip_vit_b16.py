# X-CLIP ViT-B/16 for 8 frames of 224 x 224 (Ni et al., ECCV 2022): CLIP's
# ViT with cross-frame communication (CCTViT), the multi-frame integration
# transformer (MITNeck) and CLIP's text encoder with the video-specific prompt
# generator (XCLIPTextHead). Kinetics-400 classes, read from the label map in
# the dataset folder (one class name per line, MMAction2's
# tools/data/kinetics/label_map_k400.txt).
#
# CLIP initialisation: ``clip://ViT-B/16`` (mmxclip.weights) gives CLIP's
# weights under mmxclip's names, so the backbone takes the ``backbone.`` keys
# and the head the ``cls_head.`` ones (text encoder and logit_scale). Building
# the model does not read them; ``Runner`` does at ``init_weights``.
model = dict(
    type='XCLIPRecognizer',
    backbone=dict(
        type='CCTViT',
        input_resolution=224,
        patch_size=16,
        width=768,
        layers=12,
        heads=12,
        output_dim=512,
        drop_path_rate=0.,
        use_message=True,
        # Activation checkpointing of every block (less memory, ~1/3 more
        # compute); the L/14-336 config turns it on.
        with_cp=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='clip://ViT-B/16',
            prefix='backbone.')),
    neck=dict(type='MITNeck', num_frames=8, embed_dim=512, layers=1),
    cls_head=dict(
        type='XCLIPTextHead',
        class_names='data/kinetics400/label_map_k400.txt',
        num_classes=400,
        embed_dim=512,
        vision_width=768,
        text_cfg=dict(
            context_length=77, vocab_size=49408, width=512, layers=12,
            heads=8),
        prompt_cfg=dict(layers=2, alpha=0.1),
        prompt_template='{}',
        freeze_text_encoder=True,
        label_smooth_eps=0.1,
        # Views (clips x crops) are fused by the mean of their softmax.
        average_clips='prob',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='clip://ViT-B/16',
            prefix='cls_head.')),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # ImageNet statistics, RGB: what the released weights expect. A text
        # config cannot import them: mmxclip.weights.arch.IMAGENET_MEAN /
        # _STD are the definition, tests/test_configs/test_every_config.py checks this copy.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW',
        # CutMix (alpha 1.0) or mixup (alpha 0.8), one of them on every batch;
        # in this order, one uniform draw picks the same one as the official
        # CutmixMixupBlending (switch_prob 0.5) on the same numpy seed.
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='CutmixBlending', alpha=1.0, num_classes=400),
                dict(type='MixupBlending', alpha=0.8, num_classes=400)
            ],
            probs=[0.5, 0.5])))
