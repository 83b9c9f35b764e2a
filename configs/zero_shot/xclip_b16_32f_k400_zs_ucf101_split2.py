# Zero-shot UCF-101, split 2 (see xclip_b16_32f_k400_zs_ucf101_split1.py).
_base_ = ['./xclip_b16_32f_k400_zs_ucf101_split1.py']

test_dataloader = dict(
    dataset=dict(ann_file='data/ucf101/ucf101_val_split_2_videos.txt'))
