# Few-shot X-CLIP ViT-B/16 (32 frames, from CLIP) on Kinetics-400, K = 2
# videos per class (no published X-CLIP figure); the recipe of
# xclip_b16_32f_few_shot_hmdb51_k2.py, class names from the K400 label map
# of configs/_base_ (data/kinetics400/label_map_k400.txt).
_base_ = ['./xclip_b16_32f_few_shot_hmdb51_k2.py']

num_classes = 400
model = dict(
    cls_head=dict(
        class_names='data/kinetics400/label_map_k400.txt',
        num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes),
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes)
        ])))
train_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics400/kinetics400_train_list_videos_2shot_seed0'
        '.txt',
        data_prefix=dict(video='data/kinetics400/videos_train')))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics400/kinetics400_val_list_videos.txt',
        data_prefix=dict(video='data/kinetics400/videos_val')))
test_dataloader = val_dataloader
