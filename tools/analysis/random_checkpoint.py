"""A randomly initialised X-CLIP of a config's size, as an mmxclip checkpoint.

    python tools/analysis/random_checkpoint.py configs/xclip_b16_k400.py \
        work_dirs/b16_random.pth

For measuring costs (indexing, export size, latency) at a real model's size
without downloading weights: the config's model with its ``init_cfg`` removed
(nothing is loaded), saved with ``meta['model_cfg']`` so that
:func:`mmxclip.apis.init_xclip` and every tool rebuild it.
"""
import argparse
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an mmxclip config')
    parser.add_argument('out', help='the checkpoint to write (.pth)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    import torch
    from mmaction.registry import MODELS
    init_default_scope('mmaction')
    cfg = Config.fromfile(args.config).model.to_dict()
    for part in (cfg, cfg['backbone'], cfg['cls_head']):
        part.pop('init_cfg', None)
    cfg['cls_head'].update(class_names=['a video'], num_classes=None)
    cfg['data_preprocessor'].pop('blending', None)
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg)
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(model_cfg=cfg)), args.out)
    count = sum(p.numel() for p in model.parameters())
    print(f'{args.out}: {args.config} at random, {count / 1e6:.1f} M '
          'parameters')


if __name__ == '__main__':
    main()
