# xclip_b16_k400.py (X-CLIP B/16, 8 frames) trained with FSDP: the same
# recipe, sharded over the GPUs (_base_/strategies/fsdp.py).
_base_ = ['../xclip_b16_k400.py', '../_base_/strategies/fsdp.py']
# MMEngine's FlexibleRunner runs the strategy. It replaces mmxclip's
# SafeRunner (_base_/default_runtime.py), so these runs have neither the
# work-dir lock nor the resume fallback past a damaged checkpoint.
runner_type = 'FlexibleRunner'
