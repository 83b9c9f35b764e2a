# Zero-shot X-CLIP ViT-B/16 (32 frames, K400-trained) on Kinetics-600, split
# 1 (published: 65.2 top-1, mean of the three splits). The protocol
# (ER-ZSAR, Chen & Huang, ICCV 2021): of the 220 Kinetics-600 classes that
# are not in Kinetics-400, three random draws of 160, each tested on the
# Kinetics-600 test videos of its classes. k600_split{1,2,3}_class_names.txt
# are the draws ViFi-CLIP and Text4Vis ship (the same lists, in the same
# order), in MMAction2's K600 class names. The test list of a split (labels
# in the split's order), from a "path label" list of the K600 test videos:
#   python tools/data/make_zero_shot_split.py \
#       data/kinetics600/kinetics600_test_list_videos.txt \
#       data/kinetics600/label_map_k600.txt \
#       configs/zero_shot/k600_split1_class_names.txt \
#       data/kinetics600/kinetics600_test_zs_split1_videos.txt
# Protocol and weights as in xclip_b16_32f_k400_zs_ucf101_split1.py; the
# three splits and their mean +- std:
#   python tools/test_splits.py \
#       configs/zero_shot/xclip_b16_32f_k400_zs_k600_split{1,2,3}.py \
#       --checkpoint checkpoints/xclip_b16_32f_k400_zero_shot.pth
_base_ = ['./xclip_b16_32f_k400_zs_ucf101_split1.py']

model = dict(
    cls_head=dict(
        class_names='{{ fileDirname }}/k600_split1_class_names.txt',
        num_classes=160))
test_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics600/kinetics600_test_zs_split1_videos.txt',
        data_prefix=dict(video='data/kinetics600/videos_test')))
