# For MMEngine's FlexibleRunner (the scale configs set runner_type): DeepSpeed
# ZeRO stage 2: optimizer states and gradients partitioned over the GPUs,
# parameters replicated (the stage-3 settings, which partition the parameters
# too, are `zero3` below; see configs/scale/*_zero3.py). bf16 weights and
# activations with fp32 master weights in the optimizer (Ampere or newer; for
# fp16 set strategy.bf16=None and strategy.fp16=dict(enabled=True,
# loss_scale=0)).
# A config using this also needs the DeepSpeed optimizer wrapper and
# DeepSpeed's gradient accumulation (configs/scale/*_zero2.py).
# Checkpoints: DeepSpeed's folder epoch_N.pth/ (model states and each rank's
# optimizer partition); --resume reads them on the same number of GPUs, and
#   python tools/convert_weights.py --src-format mmxclip epoch_N.pth out.pth
# gathers the fp32 master weights into one file.
strategy = dict(
    type='DeepSpeedStrategy',
    bf16=dict(enabled=True),
    inputs_to_half=['inputs'],
    zero_optimization=dict(
        stage=2,
        allgather_partitions=True,
        reduce_scatter=True,
        overlap_comm=True,
        contiguous_gradients=True),
    # The recipe does not clip gradients; DeepSpeed 0.19 clips to norm 1.0
    # unless told otherwise.
    gradient_clipping=0.0,
    # DeepSpeed checks a list of its own optimizers; AdamW of torch is fine.
    config=dict(zero_allow_untested_optimizer=True))
zero3 = dict(
    stage=3,
    overlap_comm=True,
    contiguous_gradients=True,
    # Saving gathers no 16-bit copy: the checkpoint is the partitions.
    stage3_gather_16bit_weights_on_model_save=False)
