#!/usr/bin/env python
"""GFLOPs per view of X-CLIP configs' eval forward, beside the paper's.

MMAction2's own ``tools/analysis_tools/get_flops.py`` counts a config's
``extract_feat`` (backbone and MIT), attention included since ``import
mmxclip`` gives MMEngine's counter a handle for
``scaled_dot_product_attention`` (:func:`mmxclip.compat.sdpa_flop_jit`). The
paper's figures also hold the prompt generator and the similarity over the
classes; this tool counts that whole eval forward, with the class texts'
encoding cached and excluded, as the paper's figures are. MMEngine's
:class:`FlopAnalyzer` counts one multiply-add as one FLOP (fvcore's
convention, the paper's too). The weights are random: the count depends on
the shapes only.

Example::

    python tools/analysis/get_flops.py configs/xclip_b32_k400.py \\
        configs/xclip_b16_k400.py configs/xclip_b16_16f_k400.py \\
        configs/xclip_l14_k400.py
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor, nn

import mmxclip  # noqa: F401  (SDPA handle, registries)

# The paper's GFLOPs per view (Table 1), by config name.
PAPER_GFLOPS = {'xclip_b32_k400': 39, 'xclip_b16_k400': 145,
                'xclip_b16_16f_k400': 287, 'xclip_l14_k400': 658}


class _EvalForward(nn.Module):
    """mmxclip's eval forward as one tensor-in, tensor-out module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clips: Tensor) -> Tensor:
        return self.model.cls_head(self.model.encode_video(clips))


def count_flops(model: nn.Module, frames: int,
                image: int) -> Dict[str, float]:
    """GFLOPs (multiply-adds) of one view through the eval forward.

    Args:
        model: An :class:`~mmxclip.models.XCLIPRecognizer`.
        frames: T of the view.
        image: Its height and width.

    Returns:
        dict: ``total``, ``attention`` (the SDPA handle's share) and
        ``vision`` (the backbone's and the neck's: the video path) in G.
    """
    from mmengine.analysis import FlopAnalyzer
    model.eval()
    with torch.no_grad():
        model.cls_head.class_embeddings()  # cached: the text is not counted
    clip = torch.randn(1, 3, frames, image, image,
                       device=model.cls_head.logit_scale.device)
    analyzer = FlopAnalyzer(_EvalForward(model), (clip, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_op = analyzer.by_operator()
    by_module = analyzer.by_module()
    return dict(total=analyzer.total() / 1e9,
                attention=by_op.get('scaled_dot_product_attention', 0) / 1e9,
                vision=(by_module.get('model.backbone', 0) +
                        by_module.get('model.neck', 0)) / 1e9)


def config_flops(path: str, num_classes: int) -> Dict:
    """:func:`count_flops` of a config's model over ``num_classes``
    placeholder class names (their encoding is not counted)."""
    init_default_scope('mmaction')
    cfg = Config.fromfile(path)
    model_cfg = cfg.model
    model_cfg.cls_head.class_names = [f'class {i}'
                                      for i in range(num_classes)]
    model_cfg.cls_head.num_classes = num_classes
    model = MODELS.build(model_cfg)
    frames = model_cfg.neck.num_frames
    image = model_cfg.backbone.input_resolution
    name = osp.splitext(osp.basename(path))[0]
    return dict(config=name, frames=frames, image=image, classes=num_classes,
                **count_flops(model, frames, image),
                paper=PAPER_GFLOPS.get(name))


def markdown(rows: List[Dict]) -> str:
    """The table :func:`main` prints."""
    lines = ['| config | T | K | GFLOPs/view (MMEngine) | of which SDPA | '
             'paper | diff |', '|' + '---|' * 7]
    for r in rows:
        diff = (f'{100 * (r["total"] / r["paper"] - 1):+.1f}%'
                if r['paper'] else '-')
        lines.append(f'| {r["config"]} | {r["frames"]} | {r["classes"]} | '
                     f'{r["total"]:.4g} | {r["attention"]:.3g} | '
                     f'{r["paper"] or "-"} | {diff} |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None, out=sys.stdout) -> List[Dict]:
    """Entry point; returns the rows it printed."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('configs', nargs='+', help='X-CLIP config files')
    parser.add_argument('--classes', type=int, default=400,
                        help='classes the similarity is over (default 400)')
    args = parser.parse_args(argv)
    rows = [config_flops(path, args.classes) for path in args.configs]
    print(markdown(rows), file=out)
    return rows


if __name__ == '__main__':
    main()
