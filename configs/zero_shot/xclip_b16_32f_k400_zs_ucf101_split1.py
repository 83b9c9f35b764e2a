# Zero-shot X-CLIP ViT-B/16, 32 frames x 224 px, trained on Kinetics-400,
# evaluated on UCF-101 split 1 (published: 72.0 top-1, mean of the three
# splits; official release zero.pth = HF microsoft/xclip-base-patch16-zero-shot).
# Protocol as the official code runs it: 32 frames (one per segment), one
# clip x one centre crop (TEST.NUM_CLIP = TEST.NUM_CROP = 1), the class name
# alone as the prompt. Weights:
#   python tools/convert_weights.py --src-format official zero.pth \
#       checkpoints/xclip_b16_32f_k400_zero_shot.pth
#   python tools/test.py configs/zero_shot/xclip_b16_32f_k400_zs_ucf101_split1.py \
#       checkpoints/xclip_b16_32f_k400_zero_shot.pth
# Data: MMAction2's UCF-101 layout (tools/data/ucf101), class order = classInd.
_base_ = [
    '../_base_/models/xclip_vit_b16.py',
    '../_base_/datasets/kinetics400_xclip_32f.py',
    '../_base_/default_runtime.py'
]

model = dict(
    backbone=dict(init_cfg=None),  # all weights come from load_from
    neck=dict(num_frames=32),
    cls_head=dict(
        class_names='{{ fileDirname }}/ucf101_class_names.txt',
        num_classes=101,
        init_cfg=None),
    data_preprocessor=dict(blending=None))

test_pipeline = _base_.val_pipeline
test_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_val_split_1_videos.txt',
        data_prefix=dict(video='data/ucf101/videos'),
        pipeline=test_pipeline))
# Evaluation only: nothing is trained on the target dataset.
train_dataloader = None
val_dataloader = None
val_evaluator = None
load_from = 'checkpoints/xclip_b16_32f_k400_zero_shot.pth'
