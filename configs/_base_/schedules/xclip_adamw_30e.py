# X-CLIP's fully supervised schedule (official utils/optimizer.py, main.py):
# AdamW (lr 8e-6, weight decay 0.001, betas (0.9, 0.98)), 30 epochs, timm's
# cosine per iteration (TimmCosineLR: the official values, warm-up from 0 over
# 5 epochs, cosine counted from iteration 0 down to lr / 100); mixed
# precision; 4 accumulation steps.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=30, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    accumulative_counts=4,
    optimizer=dict(
        type='AdamW', lr=8e-6, betas=(0.9, 0.98), eps=1e-8,
        weight_decay=0.001),
    # MMAction2's SwinOptimWrapperConstructor multiplies the lr_mult and
    # decay_mult of *every* key contained in a parameter's name, so the 10x
    # lr of the new modules combines with the no-decay rule; MMEngine's
    # default constructor applies only the first matching custom key.
    constructor='SwinOptimWrapperConstructor',
    paramwise_cfg=dict(
        # New modules: message attention, MIT (the neck), prompts.
        message_=dict(lr_mult=10.),
        neck=dict(lr_mult=10.),
        prompts=dict(lr_mult=10.),
        # No weight decay on 1-d parameters (biases, layer norms, class
        # embedding, prompt alpha) and position embeddings, as published.
        bias=dict(decay_mult=0.),
        ln_=dict(decay_mult=0.),
        _ln=dict(decay_mult=0.),
        norm=dict(decay_mult=0.),
        class_embedding=dict(decay_mult=0.),
        positional_embedding=dict(decay_mult=0.),
        alpha=dict(decay_mult=0.)))

# ``end`` defaults to train_cfg.max_epochs: the cosine spans the whole run
# (t_initial = EPOCHS x iterations per epoch, as published).
param_scheduler = [
    dict(
        type='TimmCosineLR',
        warmup=5,
        eta_min_ratio=0.01,
        by_epoch=True,
        convert_to_iter_based=True)
]

# --auto-scale-lr: MMEngine scales lr by (world size x batch_size) /
# base_batch_size and ignores accumulative_counts. The published runs used 8
# GPUs x 8 videos (x 4 accumulation steps = 256 per update), so 64 here: 8
# GPUs x 8 keeps lr 8e-6; 4 GPUs x 8 (add accumulative_counts=8 for the same
# 256 per update) would halve it.
auto_scale_lr = dict(enable=False, base_batch_size=64)
