# Few-shot X-CLIP ViT-B/16 (32 frames, from CLIP) on UCF-101, K = 2
# (published: 76.4 top-1; K = 4 / 8 / 16: 83.4 / 88.3 / 91.4); the recipe of
# xclip_b16_32f_few_shot_hmdb51_k2.py (official configs/ucf101/16_32.yaml).
_base_ = ['./xclip_b16_32f_few_shot_hmdb51_k2.py']

num_classes = 101
model = dict(
    cls_head=dict(
        class_names='{{ fileDirname }}/../zero_shot/ucf101_class_names.txt',
        num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes),
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes)
        ])))
train_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_train_split_1_2shot_seed0.txt',
        data_prefix=dict(video='data/ucf101/videos')))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/ucf101/ucf101_val_split_1_videos.txt',
        data_prefix=dict(video='data/ucf101/videos')))
test_dataloader = val_dataloader
