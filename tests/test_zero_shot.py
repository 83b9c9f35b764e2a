"""The tools end to end: convert_weights -> tools/test.py, zero_shot.py
with its picture, make_few_shot_split.py; the zero-/few-shot configs."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from hf_reference import CLASS_NAMES, random_hf_model
from mmxclip.models.heads import load_class_names
from weight_files import converted_tiny_xclip, load_tool, write_video

pytest.importorskip('transformers')
ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run(*args, cwd=ROOT):
    out = subprocess.run([sys.executable, *args], cwd=cwd, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('zs'))
    videos = [write_video(osp.join(folder, f'video_{i}.mp4'), seed=i)
              for i in range(3)]
    with open(osp.join(folder, 'val.txt'), 'w') as f:
        f.write(''.join(f'{osp.basename(v)} {i}\n'
                        for i, v in enumerate(videos)))
    hf = random_hf_model(seed=13, patch=16, frames=4, layers=2, image=32)
    ckpt = converted_tiny_xclip(
        hf, folder, CLASS_NAMES, '--ann-file', osp.join(folder, 'val.txt'),
        '--data-prefix', folder, '--num-clips', '2', '--num-crops', '3')
    return folder, videos, ckpt


def test_converted_config_runs_tools_test(workspace):
    folder, _, ckpt = workspace
    config = osp.splitext(ckpt)[0] + '.py'
    log = run('tools/test.py', config, ckpt, '--work-dir',
              osp.join(folder, 'work'), '--cfg-options',
              'test_dataloader.num_workers=0')
    assert 'acc/top1' in log


def test_zero_shot_tool_prints_tables_and_draws(workspace):
    folder, videos, ckpt = workspace
    out_dir = osp.join(folder, 'vis')
    log = run('tools/zero_shot.py', *videos, '--checkpoint', ckpt,
              '--labels', 'a square moving right,a dog,cooking pasta',
              '--topk', '2', '--num-clips', '2', '--out-dir', out_dir)
    for video in videos:
        assert video in log
        png = osp.join(out_dir, osp.basename(video)[:-4] + '.png')
        assert osp.getsize(png) > 10_000
    assert log.count('  rank  label') == 3
    assert '[>>' in log  # MMEngine's progress bar on several videos


def test_make_few_shot_split_is_reproducible(tmp_path):
    tool = load_tool('data/make_few_shot_split.py')
    full = tmp_path / 'train.txt'
    full.write_text(''.join(f'v{c}_{i}.mp4 {c}\n' for c in range(5)
                            for i in range(10)))
    outs = []
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        tool.main([str(full), str(tmp_path / name), '--shots', '4',
                   '--seed', str(seed)])
        outs.append((tmp_path / name).read_text().splitlines())
    assert outs[0] == outs[1] != outs[2]
    labels = [line.split()[1] for line in outs[0]]
    assert all(labels.count(str(c)) == 4 for c in range(5))
    with pytest.raises(ValueError, match='class 0 has 10 videos, fewer '
                       'than --shots 11'):
        tool.main([str(full), str(tmp_path / 'd'), '--shots', '11'])


CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/zero_shot/*.py')) +
                 glob.glob(osp.join(ROOT, 'configs/few_shot/*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_zero_and_few_shot_configs(path, workspace, monkeypatch):
    """Published protocol in every config; its pipelines and a (narrowed)
    model build, with class names the K400 / K600 data folders would hold."""
    folder, videos, _ = workspace
    cfg = Config.fromfile(path)
    init_default_scope('mmaction')
    assert cfg.model.neck.num_frames == 32
    names = cfg.model.cls_head.class_names
    if osp.isfile(names):
        assert len(load_class_names(names)) == cfg.model.cls_head.num_classes
    else:  # data/kinetics*/...: not shipped
        names = CLASS_NAMES
    assert cfg.test_pipeline[1] == dict(type='SegmentSampleFrames',
                                        num_segments=32, test_mode=True)
    assert [t['type'] for t in cfg.test_pipeline][3:5] == ['Resize',
                                                            'CenterCrop']
    sample = Compose(cfg.test_pipeline)(dict(
        filename=videos[0], label=0, start_index=0, modality='RGB'))
    assert tuple(sample['inputs'].shape) == (1, 3, 32, 224, 224)
    if 'few_shot' in path:
        assert cfg.train_dataloader.batch_size == 4
        assert cfg.optim_wrapper.accumulative_counts == 2
        assert cfg.optim_wrapper.optimizer.lr == 2e-6
        assert cfg.train_cfg.max_epochs == 50
        k = int(path.rsplit('_k', 1)[1][:-3])
        assert f'_{k}shot_seed0' in cfg.train_dataloader.dataset.ann_file
        Compose(cfg.train_pipeline)
    else:
        assert cfg.train_dataloader is None
    from mmaction.registry import MODELS
    model = cfg.model
    model.backbone.update(width=64, layers=1, heads=1, output_dim=32,
                          init_cfg=None)
    model.neck.embed_dim = 32
    model.cls_head.update(class_names=names, num_classes=None, embed_dim=32,
                          vision_width=64, init_cfg=None,
                          text_cfg=dict(width=32, layers=1, heads=1))
    MODELS.build(model)


# sha256 of the shipped K600 split lists, as checked against ViFi-CLIP's
# labels/ZS_split{1,2,3}_K600.csv and Text4Vis's lists/k600/
# k160_labels_split{1,2,3}.csv (identical names in identical order).
K600_SPLITS = {1: 'c47ed0d0e5c43b73', 2: '917efa8678ef2d7a',
               3: '06384491cb03605f'}


def test_k600_split_lists_are_the_published_draws():
    import hashlib
    splits = {}
    for i, digest in K600_SPLITS.items():
        path = osp.join(ROOT, 'configs', 'zero_shot',
                        f'k600_split{i}_class_names.txt')
        with open(path, 'rb') as f:
            assert hashlib.sha256(f.read()).hexdigest()[:16] == digest
        splits[i] = load_class_names(path, num_classes=160)
        assert splits[i] == sorted(splits[i])
    # Three draws of 160 from the 220 novel classes.
    assert len(set().union(*splits.values())) <= 220
    assert all(len(set(splits[a]) & set(splits[b])) >= 100
               for a, b in ((1, 2), (1, 3), (2, 3)))
    assert not set(splits[1]) & set(load_class_names(
        osp.join(ROOT, 'configs/zero_shot/hmdb51_class_names.txt')))


def test_make_zero_shot_split_relabels_in_split_order(tmp_path):
    tool = load_tool('data/make_zero_shot_split.py')
    label_map = tmp_path / 'label_map.txt'
    label_map.write_text('a\nb\nc\nd\n')
    split = tmp_path / 'split.txt'
    split.write_text('d\nb\n')
    full = tmp_path / 'full.txt'
    full.write_text('v0.mp4 0\nv1.mp4 1\nv3.mp4 3\nv1b.mp4 1\n')
    out = tmp_path / 'out.txt'
    tool.main([str(full), str(label_map), str(split), str(out)])
    assert out.read_text() == 'v1.mp4 1\nv3.mp4 0\nv1b.mp4 1\n'
    split.write_text('d\nz\n')
    with pytest.raises(ValueError, match=r"not in the label map: \['z'\]"):
        tool.main([str(full), str(label_map), str(split), str(out)])
    full.write_text('v0.mp4 0\nv9.mp4 9\n')
    split.write_text('a\n')
    with pytest.raises(ValueError, match='line 2 has label 9'):
        tool.main([str(full), str(label_map), str(split), str(out)])


def test_test_splits_reports_each_split_and_mean_std(workspace, tmp_path,
                                                     capsys):
    """Three splits with different class sets, labelled from what
    init_xclip + zero_shot predicts so that top-1 is 1, 0 and 1/3: the tool
    reports exactly these and their mean and std; a broken split is named
    and the others still run."""
    import json
    import numpy as np
    from mmxclip.apis import init_xclip, zero_shot
    folder, videos, ckpt = workspace
    base = osp.splitext(ckpt)[0] + '.py'
    configs, expected = [], [1., 0., 1 / 3]
    for i, names in enumerate([CLASS_NAMES[:3], CLASS_NAMES[1:4],
                               CLASS_NAMES[2:]], 1):
        model = init_xclip(ckpt, names, num_clips=2, num_crops=3)
        preds = [names.index(zero_shot(model, v, topk=1)[0][0])
                 for v in videos]
        right = {1: (1, 1, 1), 2: (0, 0, 0), 3: (1, 0, 0)}[i]
        labels = [p if r else (p + 1) % 3 for p, r in zip(preds, right)]
        ann = tmp_path / f'split{i}.txt'
        ann.write_text(''.join(f'{osp.basename(v)} {y}\n'
                               for v, y in zip(videos, labels)))
        config = tmp_path / f'split{i}.py'
        config.write_text(
            f'_base_ = [{base!r}]\n'
            f'model = dict(cls_head=dict(class_names={names!r}, '
            'num_classes=None))\n'
            f'test_dataloader = dict(num_workers=0, persistent_workers=False,'
            f' dataset=dict(ann_file={str(ann)!r}))\n')
        configs.append(str(config))
    broken = tmp_path / 'broken.py'
    broken.write_text(open(configs[0]).read().replace('split1.txt',
                                                      'missing.txt'))
    tool = load_tool('test_splits.py')
    out = str(tmp_path / 'splits.json')
    work = str(tmp_path / 'work')
    args = ['--checkpoint', ckpt, '--work-dir', work, '--out', out]
    assert tool.main([*configs[:2], str(broken), configs[2], *args]) == 1
    report = json.load(open(out))
    assert list(report['splits']) == configs and report['summary'] is None
    assert 'missing.txt' in report['errors'][str(broken)]
    assert 'broken.py  FAILED' in capsys.readouterr().out

    assert tool.main([*configs, *args]) == 0
    report = json.load(open(out))
    top1 = [report['splits'][c]['acc/top1'] for c in configs]
    np.testing.assert_allclose(top1, expected)
    summary = report['summary']['acc/top1']
    assert summary == pytest.approx(dict(mean=np.mean(expected),
                                         std=np.std(expected)))
    table = capsys.readouterr().out
    assert f'{100 * summary["mean"]:.2f} +- {100 * summary["std"]:.2f}' in \
        table
    assert osp.isdir(osp.join(work, 'split2'))
