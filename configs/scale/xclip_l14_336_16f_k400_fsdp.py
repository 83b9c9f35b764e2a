# xclip_l14_336_16f_k400.py (X-CLIP L/14-336, 16 frames) trained with FSDP:
# the same recipe, the model's parameters, gradients and optimizer states
# sharded over the GPUs (_base_/strategies/fsdp.py). The memory it frees can
# buy batch instead of accumulation at the same 256 videos per update, e.g.
#   tools/dist_train.sh configs/scale/xclip_l14_336_16f_k400_fsdp.py 8 \
#       --cfg-options train_dataloader.batch_size=4 \
#       optim_wrapper.accumulative_counts=8 auto_scale_lr.base_batch_size=32
_base_ = [
    '../xclip_l14_336_16f_k400.py', '../_base_/strategies/fsdp.py'
]
# MMEngine's FlexibleRunner runs the strategy. It replaces mmxclip's
# SafeRunner (_base_/default_runtime.py), so these runs have neither the
# work-dir lock nor the resume fallback past a damaged checkpoint.
runner_type = 'FlexibleRunner'
