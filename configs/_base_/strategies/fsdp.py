# For MMEngine's FlexibleRunner (the scale configs set runner_type): PyTorch
# FSDP: parameters, gradients and optimizer states sharded over the GPUs, one
# FSDP unit per transformer block (mmxclip.engine.xclip_fsdp_wrap_policy), so
# only one block is gathered in full at a time. The numerics are the recipe's
# (AmpOptimWrapper, fp16 autocast, dynamic loss scale; MMEngine switches it to
# FSDP's sharded grad scaler). use_orig_params: the optimizer sees every
# parameter under its own name (SwinOptimWrapperConstructor's lr / decay rules
# match them) and the frozen text encoder may share a unit with trained
# parameters. CLIP's frozen 0-d logit_scale, which FSDP cannot shard, stays
# replicated (mmxclip.engine.XCLIPFullyShardedDataParallel).
# Checkpoints: epoch_N.pth/rank{r}.pth, each rank's rows of every parameter
# (SHARDED_STATE_DICT); --resume reads them on the same number of GPUs, and
#   python tools/convert_weights.py --src-format mmxclip epoch_N.pth out.pth
# gathers them into one file.
strategy = dict(
    # MMEngine's FSDPStrategy with its optimizer resume fixed
    # (mmxclip.engine.XCLIPFSDPStrategy).
    type='XCLIPFSDPStrategy',
    model_wrapper=dict(
        type='XCLIPFullyShardedDataParallel',
        auto_wrap_policy='xclip_fsdp_wrap_policy',
        use_orig_params=True,
        sharding_strategy='FULL_SHARD'),
    state_dict_cfg=dict(
        state_dict_type='SHARDED_STATE_DICT',
        state_dict_config=dict(
            type='ShardedStateDictConfig', offload_to_cpu=True),
        optim_state_dict_config=dict(
            type='ShardedOptimStateDictConfig', offload_to_cpu=True)))
