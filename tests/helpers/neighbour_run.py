"""A stock MMAction2 run, for tests/test_neighbour.py: MMAction2's own TSN
config (its ResNet at depth 18, random init, sizes shrunk to 32 px) trains
one epoch and checkpoints, a second runner resumes and trains the next,
then tests; prints what the run computed as one JSON line.

``python neighbour_run.py DATA WORK_DIR [--with-mmxclip]``. Imports nothing
of mmxclip or of the tests' helpers unless told to: the run without the
flag is MMAction2 as it is installed.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys

import mmaction
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

STOCK = 'recognition/tsn/tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_' \
    'kinetics400-rgb.py'


class Record(Hook):
    """Keeps every training iteration's loss, unrounded, and every
    validation's metrics."""

    def __init__(self) -> None:
        self.losses, self.val = [], []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.losses.append(outputs['loss'].item())

    def after_val_epoch(self, runner, metrics=None) -> None:
        self.val.append({k: float(v) for k, v in metrics.items()})


def stock_config(data: str, work_dir: str) -> Config:
    """MMAction2's TSN config at test size: only sizes, data and schedule
    changed, every type and transform as shipped."""
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmaction.__file__), '.mim', 'configs', STOCK))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.model.backbone.update(depth=18, pretrained=None)
    cfg.model.cls_head.update(in_channels=512, num_classes=2)
    cfg.train_cfg.update(max_epochs=2, val_interval=1)
    cfg.default_hooks.checkpoint.update(interval=1)
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'MultiScaleCrop':
            step.input_size = 32
        if step.type == 'Resize':
            step.scale = (-1, 36) if step.scale[0] == -1 else (32, 32)
    for step in cfg.val_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (-1, 36)
        if step.type == 'CenterCrop':
            step.crop_size = 32
    cfg.test_dataloader = cfg.val_dataloader.copy()
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(ann_file=osp.join(data, 'list.txt'),
                              data_prefix=dict(video=data))
    return cfg


def tensor_digests(model: torch.nn.Module) -> dict:
    return {k: hashlib.sha256(v.detach().cpu().contiguous().numpy()
                              .tobytes()).hexdigest()
            for k, v in model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('data')
    parser.add_argument('work_dir')
    parser.add_argument('--with-mmxclip', action='store_true')
    args = parser.parse_args()
    if args.with_mmxclip:
        import mmxclip  # noqa: F401
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    torch.set_num_threads(1)

    cfg = stock_config(args.data, args.work_dir)
    cfg.train_cfg.max_epochs = 1
    first = Runner.from_cfg(cfg)
    first_record = Record()
    first.register_hook(first_record)
    first.train()

    cfg = stock_config(args.data, args.work_dir)
    cfg.resume = True
    second = Runner.from_cfg(cfg)
    second_record = Record()
    second.register_hook(second_record)
    second.train()
    test_metrics = second.test()
    print(json.dumps(dict(
        mmxclip_imported='mmxclip' in sys.modules,
        losses=[first_record.losses, second_record.losses],
        val=[first_record.val, second_record.val],
        weights=tensor_digests(second.model),
        test={k: float(v) for k, v in test_metrics.items()},
        files=sorted(f for f in os.listdir(args.work_dir)
                     if f.endswith('.pth') or f == 'last_checkpoint'))))


if __name__ == '__main__':
    main()
