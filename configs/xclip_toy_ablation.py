# Ablation of xclip_toy.py as in the paper: no cross-frame message tokens and
# MIT replaced by the plain mean of the frame embeddings. Nothing is left that
# sees the order of the frames, so each class of a direction pair (a video and
# its time reversal) is at chance against the other:
#   bash tools/run_toy.sh configs/xclip_toy_ablation.py
_base_ = ['./xclip_toy.py']

model = dict(backbone=dict(use_message=False), neck=None)
