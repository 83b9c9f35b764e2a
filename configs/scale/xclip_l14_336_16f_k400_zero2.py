# xclip_l14_336_16f_k400.py (X-CLIP L/14-336, 16 frames) trained with
# DeepSpeed ZeRO-2 in bf16 (_base_/strategies/deepspeed.py): the recipe's
# optimizer, parameter groups and schedule, DeepSpeed's optimizer wrapper and
# gradient accumulation in place of AmpOptimWrapper's.
_base_ = [
    '../xclip_l14_336_16f_k400.py', '../_base_/strategies/deepspeed.py'
]

optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=_base_.optim_wrapper.optimizer,
    constructor=_base_.optim_wrapper.constructor,
    paramwise_cfg=_base_.optim_wrapper.paramwise_cfg)
strategy = dict(
    gradient_accumulation_steps=_base_.optim_wrapper.accumulative_counts)
# MMEngine's FlexibleRunner runs the strategy. It replaces mmxclip's
# SafeRunner (_base_/default_runtime.py), so these runs have neither the
# work-dir lock nor the resume fallback past a damaged checkpoint.
runner_type = 'FlexibleRunner'
