# Zero-shot Kinetics-600, split 2 (see xclip_b16_32f_k400_zs_k600_split1.py).
_base_ = ['./xclip_b16_32f_k400_zs_k600_split1.py']

model = dict(
    cls_head=dict(
        class_names='{{ fileDirname }}/k600_split2_class_names.txt'))
test_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics600/kinetics600_test_zs_split2_videos.txt'))
