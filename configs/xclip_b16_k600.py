# X-CLIP ViT-B/16, 8 frames x 224 px, Kinetics-600 (the official k600/16_8
# config); recipe of xclip_b16_k400.py, data in MMAction2's Kinetics-600
# layout with the class names in data/kinetics600/label_map_k600.txt.
_base_ = ['./xclip_b16_k400.py']

data_root = 'data/kinetics600/videos_train'
data_root_val = 'data/kinetics600/videos_val'
ann_file_train = 'data/kinetics600/kinetics600_train_list_videos.txt'
ann_file_val = 'data/kinetics600/kinetics600_val_list_videos.txt'
ann_file_test = ann_file_val

model = dict(
    cls_head=dict(
        class_names='data/kinetics600/label_map_k600.txt', num_classes=600),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='CutmixBlending', alpha=1.0, num_classes=600),
            dict(type='MixupBlending', alpha=0.8, num_classes=600)
        ])))
train_dataloader = dict(
    dataset=dict(ann_file=ann_file_train, data_prefix=dict(video=data_root)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root_val)))
test_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_test, data_prefix=dict(video=data_root_val)))
