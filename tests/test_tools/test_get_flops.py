"""tools/analysis/get_flops.py counts the whole eval forward of a config,
attention and head included, and prints the table docs/performance.md shows."""
import io
import os.path as osp

import torch
from helpers import ROOT
from helpers.weight_files import load_tool
from mmengine.analysis import FlopAnalyzer

get_flops = load_tool('analysis/get_flops.py')


def test_toy_config_counts_attention_and_head():
    out = io.StringIO()
    rows = get_flops.main([osp.join(ROOT, 'configs', 'xclip_toy.py'),
                           '--classes', '8'], out=out)
    (row, ) = rows
    assert (row['config'], row['frames'], row['image'], row['classes']) == (
        'xclip_toy', 8, 32, 8)
    assert row['total'] > row['attention'] > 0  # SDPA is counted
    assert row['paper'] is None
    lines = out.getvalue().splitlines()
    assert lines[0].startswith('| config | T | K | GFLOPs/view')
    assert lines[2].startswith(f'| xclip_toy | 8 | 8 | {row["total"]:.4g} |')


class _VideoPath(torch.nn.Module):
    """Backbone and MIT: what MMAction2's get_flops.py counts."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, clips):
        return self.model.encode_video(clips)


def test_count_is_more_than_the_video_path_alone():
    """The eval forward adds the prompt generator and the similarity to
    what MMAction2's get_flops.py counts (``extract_feat``)."""
    from mmaction.registry import MODELS
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'xclip_toy.py'))
    cfg.model.cls_head.class_names = [f'class {i}' for i in range(8)]
    cfg.model.cls_head.num_classes = 8
    model = MODELS.build(cfg.model).eval()
    total = get_flops.count_flops(model, 8, 32)['total']
    clip = torch.randn(1, 3, 8, 32, 32)
    video = FlopAnalyzer(_VideoPath(model), (clip, ))
    video.unsupported_ops_warnings(False)
    video.uncalled_modules_warnings(False)
    assert total > video.total() / 1e9 > 0
