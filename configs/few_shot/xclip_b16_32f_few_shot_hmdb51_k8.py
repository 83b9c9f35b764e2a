# Few-shot HMDB-51, K = 8 (published: 62.8 top-1); recipe in
# xclip_b16_32f_few_shot_hmdb51_k2.py, list from
# tools/data/make_few_shot_split.py ... --shots 8 --seed 0.
_base_ = ['./xclip_b16_32f_few_shot_hmdb51_k2.py']

train_dataloader = dict(
    dataset=dict(ann_file='data/hmdb51/hmdb51_train_split_1_8shot_seed0.txt'))
