# Few-shot UCF-101, K = 4; recipe in xclip_b16_32f_few_shot_ucf101_k2.py.
_base_ = ['./xclip_b16_32f_few_shot_ucf101_k2.py']

train_dataloader = dict(
    dataset=dict(ann_file='data/ucf101/ucf101_train_split_1_4shot_seed0.txt'))
