# xclip_l14_336_16f_k400_zero2.py with ZeRO stage 3: the parameters are
# partitioned over the GPUs too.
_base_ = ['./xclip_l14_336_16f_k400_zero2.py']

strategy = dict(zero_optimization=dict(_delete_=True, **_base_.zero3))
# MMEngine's FlexibleRunner runs the strategy. It replaces mmxclip's
# SafeRunner (_base_/default_runtime.py), so these runs have neither the
# work-dir lock nor the resume fallback past a damaged checkpoint.
runner_type = 'FlexibleRunner'
