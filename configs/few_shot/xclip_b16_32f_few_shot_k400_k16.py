# Few-shot Kinetics-400, K = 16; recipe in xclip_b16_32f_few_shot_k400_k2.py.
_base_ = ['./xclip_b16_32f_few_shot_k400_k2.py']

train_dataloader = dict(
    dataset=dict(
        ann_file='data/kinetics400/kinetics400_train_list_videos_16shot_seed0'
        '.txt'))
