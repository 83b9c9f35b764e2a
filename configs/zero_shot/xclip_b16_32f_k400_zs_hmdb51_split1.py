# Zero-shot X-CLIP ViT-B/16 (32 frames, K400-trained) on HMDB-51 split 1
# (published: 44.6 top-1, mean of the three splits); protocol and weights
# as in xclip_b16_32f_k400_zs_ucf101_split1.py. Class names in MMAction2's
# label order (sorted folder names, tools/data/hmdb51), which swaps
# "kick"/"kick ball" and "sword"/"sword exercise" relative to the official
# labels/hmdb_51_labels.csv.
_base_ = ['./xclip_b16_32f_k400_zs_ucf101_split1.py']

model = dict(
    cls_head=dict(
        class_names='{{ fileDirname }}/hmdb51_class_names.txt',
        num_classes=51))
test_dataloader = dict(
    dataset=dict(
        ann_file='data/hmdb51/hmdb51_val_split_1_videos.txt',
        data_prefix=dict(video='data/hmdb51/videos')))
