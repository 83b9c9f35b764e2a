# Zero-shot HMDB-51, split 3 (see xclip_b16_32f_k400_zs_hmdb51_split1.py).
_base_ = ['./xclip_b16_32f_k400_zs_hmdb51_split1.py']

test_dataloader = dict(
    dataset=dict(ann_file='data/hmdb51/hmdb51_val_split_3_videos.txt'))
