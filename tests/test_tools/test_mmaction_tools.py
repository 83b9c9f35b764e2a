"""MMAction2's own tools on an mmxclip config, as a user runs them.

The tools are the ones installed with the mmaction2 wheel
(``mmaction/.mim/tools``), run in fresh interpreters: several import
``mmaction.models`` before they read the config (so before mmxclip), which
works only through mmxclip's start-up hook (``mmxclip-startup.pth``).
``browse_dataset.py`` writes mp4s through moviepy, so its pipeline swap is
tested in-process with the tool's own ``InspectCompose``.
"""
import importlib.util
import os.path as osp
import re
import subprocess
import sys

import mmaction
import numpy as np
import pytest
import torch
from helpers import ROOT
from helpers.toy_data import make_videos
from mmengine.config import Config
from mmengine.fileio import load

from mmxclip.weights.safe_load import load_pickle

TOOLS = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools')


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """Toy videos and a config inheriting configs/xclip_toy.py by absolute
    path (1 epoch, no workers), as a user's own config would."""
    tmp = tmp_path_factory.mktemp('mmaction_tools')
    videos = make_videos(tmp / 'data')
    data = dict(ann_file=videos['val_ann_file'],
                data_prefix=dict(video=videos['data_prefix']))
    loader = dict(num_workers=0, persistent_workers=False)
    settings = dict(
        model=dict(cls_head=dict(class_names=videos['class_file'])),
        train_dataloader=dict(
            loader, batch_size=8,
            dataset=dict(data, ann_file=videos['ann_file'])),
        val_dataloader=dict(loader, dataset=data),
        test_dataloader=dict(loader, dataset=data),
        train_cfg=dict(max_epochs=1, val_interval=1))
    config = str(tmp / 'toy.py')
    with open(config, 'w') as f:
        f.write(f"_base_ = {osp.join(ROOT, 'configs', 'xclip_toy.py')!r}\n")
        f.writelines(f'{k} = {v!r}\n' for k, v in settings.items())
    return dict(videos, tmp=tmp, config=config)


def tool(name: str, *args: str, cwd) -> str:
    """Run an installed MMAction2 tool; its output, or fail with it."""
    proc = subprocess.run([sys.executable, osp.join(TOOLS, name), *args],
                          cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture(scope='module')
def checkpoint(toy):
    """One epoch through MMAction2's tools/train.py."""
    work = toy['tmp'] / 'work'
    tool('train.py', toy['config'], '--work-dir', str(work), cwd=toy['tmp'])
    return str(work / 'epoch_1.pth')


@pytest.fixture(scope='module')
def dumped(toy, checkpoint):
    """MMAction2's tools/test.py --dump: (output, predictions file)."""
    dump = str(toy['tmp'] / 'preds.pkl')
    out = tool('test.py', toy['config'], checkpoint, '--dump', dump,
               '--work-dir', str(toy['tmp'] / 'work_test'), cwd=toy['tmp'])
    return out, dump


def test_mmaction_test_and_eval_metric(toy, dumped):
    """test.py evaluates the checkpoint; eval_metric.py re-scores its dump
    with the config's evaluator to the same accuracy."""
    out, dump = dumped
    top1 = re.search(r'acc/top1: ([\d.]+)', out).group(1)
    scored = tool('analysis_tools/eval_metric.py', toy['config'], dump,
                  cwd=toy['tmp'])
    assert float(re.search(r"'acc/top1': (?:np.float64\()?([\d.]+)",
                           scored).group(1)) == pytest.approx(float(top1))


def test_mmaction_confusion_matrix_imports_models_first(toy, checkpoint,
                                                        dumped):
    """confusion_matrix.py imports mmaction.models before reading the
    config; its matrix counts every validation video once, in the cell of
    its label and the class test.py predicted for it."""
    out_file = str(toy['tmp'] / 'cm.pkl')
    tool('analysis_tools/confusion_matrix.py', toy['config'], checkpoint,
         '--out', out_file, '--show-path', str(toy['tmp'] / 'cm.png'),
         '--label-file', toy['class_file'], cwd=toy['tmp'])
    cm = load(out_file)  # the tool's own pickle, written just now
    expected = torch.zeros(8, 8)
    for r in load_pickle(dumped[1]):
        expected[int(r['gt_label']), int(r['pred_score'].argmax())] += 1
    assert expected.sum() == 8
    assert torch.equal(torch.as_tensor(cm).float(), expected)
    assert osp.getsize(toy['tmp'] / 'cm.png') > 1000


def test_mmaction_clip_feature_extraction(toy, checkpoint):
    """clip_feature_extraction.py swaps the head for MMAction2's
    FeatureHead: each video's feature is its X-CLIP video embedding
    averaged over the test views."""
    from mmaction.apis import init_recognizer
    from mmaction.registry import DATASETS
    out_dir = toy['tmp'] / 'feats'
    tool('misc/clip_feature_extraction.py', toy['config'], checkpoint,
         str(out_dir), cwd=toy['tmp'])
    first = open(toy['val_ann_file']).readline().split()[0]
    feature = load(str(out_dir / (first + '.pkl')))  # the tool's pickle
    model = init_recognizer(toy['config'], checkpoint, device='cpu')
    cfg = Config.fromfile(toy['config'])
    sample = DATASETS.build(cfg.test_dataloader.dataset)[0]
    batch = model.data_preprocessor(dict(
        inputs=[sample['inputs']], data_samples=[sample['data_samples']]))
    with torch.no_grad():
        (video, _), _ = model.extract_feat(batch['inputs'], test_mode=True)
    assert feature.shape == (64, )
    torch.testing.assert_close(feature, video.mean(dim=0), atol=1e-5,
                               rtol=1e-5)


def test_mmaction_get_flops_counts_attention(toy):
    """get_flops.py counts what MMEngine's analysis counts in-process after
    ``import mmxclip``, which includes scaled_dot_product_attention."""
    from mmaction.registry import MODELS
    from mmengine.analysis import FlopAnalyzer, get_model_complexity_info
    out = tool('analysis_tools/get_flops.py', toy['config'], '--shape', '1',
               '3', '8', '32', '32', cwd=toy['tmp'])
    model = MODELS.build(Config.fromfile(toy['config']).model).eval()
    model.forward = model.extract_feat
    inputs = torch.randn(1, 1, 3, 8, 32, 32)
    ours = get_model_complexity_info(model, inputs=(inputs, ))
    assert f"Flops: {ours['flops_str']}\n" in out
    analyzer = FlopAnalyzer(model, (inputs, ))
    attention = analyzer.by_operator()['scaled_dot_product_attention']
    assert ours['flops'] == analyzer.total()
    assert attention > 0.05 * ours['flops']


def test_mmaction_print_config(toy):
    out = tool('analysis_tools/print_config.py', toy['config'],
               cwd=toy['tmp'])
    assert "type='RobustVideoDataset'" in out
    assert "dict(type='CheckLabelsHook')" in out


def _browse_dataset_module():
    """MMAction2's installed tools/visualizations/browse_dataset.py."""
    path = osp.join(TOOLS, 'visualizations', 'browse_dataset.py')
    spec = importlib.util.spec_from_file_location('browse_dataset', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_browse_dataset_pipeline_swap(toy, tmp_path):
    """browse_dataset.py replaces ``dataset.pipeline`` with its
    InspectCompose (it crashed with IndexError when the dataset ran the
    transforms itself): every step's frames are recorded, its grid and the
    visualizer draw them, and a broken video is still named with its
    sample, file and step."""
    from mmaction.registry import DATASETS
    from mmaction.visualization import ActionVisualizer

    from mmxclip.datasets import BrokenVideoError
    browse = _browse_dataset_module()
    cfg = Config.fromfile(toy['config'])
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    steps = []
    dataset.pipeline = browse.InspectCompose(dataset.pipeline.transforms,
                                             steps)
    item = dataset[0]
    assert [s['name'] for s in steps] == [
        'GatedVideoDecode', 'CheckDecodedFrames', 'RandomResizedCrop',
        'Resize', 'RandomApply']
    assert np.shape(steps[0]['imgs']) == (8, 32, 32, 3)
    assert tuple(item['inputs'].shape) == (1, 3, 8, 32, 32)
    grid = browse.make_grid([s['imgs'] for s in steps],
                            [s['name'] for s in steps])
    assert len(grid) == 8 and grid[0].shape[1] > 5 * 32
    visualizer = ActionVisualizer(  # as browse_dataset.py builds it
        name='browse', save_dir='place_holder',
        vis_backends=[dict(type='LocalVisBackend', save_dir=str(tmp_path))])
    visualizer.dataset_meta = dict(classes=open(
        toy['class_file']).read().splitlines())
    visualizer.add_datasample('video_0', [x[..., ::-1] for x in grid],
                              item['data_samples'].numpy(), out_type='img')
    assert len(list(tmp_path.rglob('*.png'))) == 8
    broken = tmp_path / 'broken.mp4'
    broken.write_text('not a video')
    dataset.get_data_info = lambda idx: dict(
        filename=str(broken), label=0, start_index=0, modality='RGB')
    with pytest.raises(BrokenVideoError, match=r"sample 3 \('.*broken.mp4'\)"
                       r': refused: the file is no known video container'):
        dataset[3]
