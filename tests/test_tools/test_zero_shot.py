"""The tools end to end: convert_weights -> tools/test.py, zero_shot.py
with its picture and its handling of bad input, MMAction2's demo paths
(init_recognizer + visualizer, MMAction2Inferencer) on the converted config,
make_few_shot_split.py; the zero-/few-shot configs."""
import glob
import os
import os.path as osp
import subprocess
import sys
import time

import av
import cv2
import numpy as np
import pytest
import torch
from helpers import ROOT
from helpers.hf_reference import CLASS_NAMES, random_hf_model
from helpers.hostile_videos import TS_FIXTURE, WatchedFifo, hls_playlist
from helpers.weight_files import converted_tiny_xclip, load_tool, write_video
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from mmxclip.apis import init_xclip, zero_shot
from mmxclip.models.heads import load_class_names


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
    """From a shell: a table per video, pictures, a progress bar, and exit
    status 1 because one of the videos is missing."""
    folder, videos, ckpt = workspace
    out_dir = osp.join(folder, 'vis')
    missing = osp.join(folder, 'missing.mp4')
    out = subprocess.run(
        [sys.executable, 'tools/zero_shot.py', *videos[:2], missing,
         videos[2], '--checkpoint', ckpt, '--labels',
         'a square moving right,a dog,cooking pasta', '--topk', '2',
         '--num-clips', '2', '--out-dir', out_dir],
        cwd=ROOT, text=True, capture_output=True, timeout=300)
    assert out.returncode == 1, out.stderr[-3000:]
    assert f"failed: '{missing}': video file not found" in out.stderr
    log = out.stdout + out.stderr
    for video in videos:
        assert video in log
        png = osp.join(out_dir, osp.basename(video) + '.png')
        assert osp.getsize(png) > 10_000
    assert log.count('  rank  label') == 3
    assert '[>>' in log  # MMEngine's progress bar on several videos


def _audio_only(path: str) -> str:
    """An mp4 with an AAC stream and no video stream (PyAV)."""
    with av.open(path, 'w') as out:
        stream = out.add_stream('aac', rate=16000)
        stream.layout = 'mono'
        for _ in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format='fltp',
                layout='mono')
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope='module')
def bad_videos(workspace):
    """name -> (path, what the tool must say about it)."""
    folder, videos, _ = workspace
    bad = osp.join(folder, 'bad')
    os.makedirs(bad, exist_ok=True)
    open(osp.join(bad, 'empty.mp4'), 'w').close()
    with open(osp.join(bad, 'text.mp4'), 'w') as f:
        f.write('not a video\n' * 50)
    with open(videos[0], 'rb') as f:
        data = f.read()
    with open(osp.join(bad, 'truncated.mp4'), 'wb') as f:
        f.write(data[:len(data) // 2])
    _audio_only(osp.join(bad, 'audio.mp4'))
    return {
        'missing': (osp.join(bad, 'missing.mp4'), 'video file not found'),
        'empty': (osp.join(bad, 'empty.mp4'), 'video file is empty'),
        'text': (osp.join(bad, 'text.mp4'),
                 'refused: the file is no known video container'),
        'audio': (osp.join(bad, 'audio.mp4'), 'the file has no video stream'),
        'truncated': (osp.join(bad, 'truncated.mp4'),
                      'FFmpeg cannot open it as ISO base media (MP4, MOV, '
                      'M4V, 3GP): truncated'),
    }


def test_zero_shot_reports_bad_videos_and_goes_on(workspace, bad_videos,
                                                  capsys):
    """Each bad video is named with what is wrong, the good ones after it
    are still ranked, the exit status says some failed."""
    _, videos, ckpt = workspace
    bad = [path for path, _ in bad_videos.values()]
    tool = load_tool('zero_shot.py')
    code = tool.main([videos[0], *bad, videos[1], '--checkpoint', ckpt,
                      '--labels', 'a dog,cooking pasta', '--topk', '1'])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count('  rank  label') == 2
    assert videos[0] in out and videos[1] in out
    for path, reason in bad_videos.values():
        assert f"failed: '{path}': " in err and reason in err, (path, err)
        assert path not in out
    assert f'5 of 7 videos failed: {", ".join(bad)}' in err


def test_zero_shot_prints_each_ranking_when_it_is_done(workspace,
                                                       monkeypatch, capsys):
    """A run that dies on the second video has already printed the first
    video's ranking."""
    _, videos, ckpt = workspace
    tool = load_tool('zero_shot.py')
    real, done = tool.recognize, []

    def dies_on_second(model, video, **kwargs):
        if done:
            raise KeyboardInterrupt
        done.append(video)
        return real(model, video, **kwargs)

    monkeypatch.setattr(tool, 'recognize', dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        tool.main([*videos, '--checkpoint', ckpt, '--labels', 'a,b'])
    out = capsys.readouterr().out
    assert out.startswith(videos[0]) and out.count('  rank  label') == 1


def test_zero_shot_pictures_have_unique_names(workspace, tmp_path):
    """test.mp4 and test.avi, and x.mp4 in two folders: four pictures."""
    _, videos, ckpt = workspace
    names = [osp.join('a', 'test.mp4'), osp.join('a', 'test.avi'),
             osp.join('b', 'x', 'test.mp4'), osp.join('c', 'x', 'test.mp4')]
    paths = [str(tmp_path / 'in' / n) for n in names]
    for path, source in zip(paths, videos + videos[:1]):
        os.makedirs(osp.dirname(path), exist_ok=True)
        if path.endswith('.avi'):  # a real AVI (MJPG), not a renamed mp4
            frames = cv2.VideoCapture(source)
            writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'),
                                     8, (64, 48))
            ok, img = frames.read()
            while ok:
                writer.write(img)
                ok, img = frames.read()
            writer.release()
        else:
            with open(source, 'rb') as f, open(path, 'wb') as g:
                g.write(f.read())
    out_dir = tmp_path / 'vis'
    tool = load_tool('zero_shot.py')
    assert tool.main([*paths, '--checkpoint', ckpt, '--labels', 'a,b',
                      '--out-dir', str(out_dir)]) == 0
    pngs = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob('*.png'))
    assert pngs == sorted(n + '.png' for n in names)


def test_zero_shot_picture_shows_the_frames_the_model_saw(workspace,
                                                          monkeypatch):
    """The pictured frames are the test pipeline's sampler output (here 2
    clips of 4 frames of a 16-frame video), the frames of a sequential
    decode; the old re-derivation (segment middles) was 1-2 frames off."""
    from mmengine.dataset import Compose
    _, videos, ckpt = workspace
    tool = load_tool('zero_shot.py')
    drawn = []
    monkeypatch.setattr(tool, 'draw', lambda frames, result, *a:
                        drawn.append((frames, result)))
    assert tool.main([videos[2], '--checkpoint', ckpt, '--labels', 'a,b',
                      '--num-clips', '2', '--out-dir', 'unused']) == 0
    (frames, result), = drawn
    model = tool.init_xclip(ckpt, ['a', 'b'], num_clips=2)
    sampled = Compose(model.cfg.test_pipeline[:3])(dict(
        filename=videos[2], label=-1, start_index=0, modality='RGB'))
    assert result.frame_inds.tolist() == sampled['frame_inds'].reshape(
        2, 4).tolist() == [[1, 5, 9, 13], [3, 7, 11, 15]]
    np.testing.assert_array_equal(frames.reshape(8, *frames.shape[2:]),
                                  np.stack(sampled['imgs']))
    segment_middles = (np.arange(4) * 4 + 2).tolist()
    assert segment_middles not in result.frame_inds.tolist()
    with av.open(videos[2]) as c:
        every = [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]
    np.testing.assert_array_equal(
        frames[0], np.stack([every[i] for i in result.frame_inds[0]]))


def test_zero_shot_ranks_the_ts_fixture_and_refuses_a_playlist(
        workspace, tmp_path, capsys):
    """The MPEG-TS remux that decord loops on is ranked within seconds,
    an HLS playlist named innocent.mp4 is refused naming the file without
    the file it names being opened, and the video after both is ranked."""
    _, videos, ckpt = workspace
    with open(TS_FIXTURE, 'rb') as f:
        segment = WatchedFifo(str(tmp_path / 'seg.ts'), f.read())
    playlist = hls_playlist(str(tmp_path / 'innocent.mp4'), 'seg.ts')
    tool = load_tool('zero_shot.py')
    start = time.monotonic()
    code = tool.main([TS_FIXTURE, playlist, videos[0], '--checkpoint', ckpt,
                      '--labels', 'a dog,cooking pasta', '--topk', '1'])
    seconds = time.monotonic() - start
    out, err = capsys.readouterr()
    assert not segment.close()
    assert code == 1 and seconds < 60
    assert out.count('  rank  label') == 2
    assert TS_FIXTURE in out and videos[0] in out
    assert f"failed: '{playlist}': refused: the file is an HLS/M3U " \
        'playlist' in err


def test_zero_shot_video_over_its_budget_fails_and_the_next_is_ranked(
        workspace, monkeypatch, capsys):
    """--decode-budget 2.5 0 with a clock advancing 10 ms per packet
    check: the 300-packet fixture is over its budget, the 16-frame video
    after it is not."""
    from mmxclip.datasets import video_gate

    class FastClock:
        now = 0.0

        def monotonic(self):
            self.now += 0.01
            return self.now

    _, videos, ckpt = workspace
    monkeypatch.setattr(video_gate, 'time', FastClock())
    tool = load_tool('zero_shot.py')
    code = tool.main([TS_FIXTURE, videos[0], '--checkpoint', ckpt,
                      '--labels', 'a,b', '--decode-budget', '2.5', '0'])
    out, err = capsys.readouterr()
    assert code == 1 and out.count('  rank  label') == 1
    assert f"failed: '{TS_FIXTURE}': decoding took longer than its time " \
        'budget of 2.5 s' in err


@pytest.mark.parametrize('args,message', [
    (['--labels', ''], '--labels is empty; expected comma-separated labels'),
    (['--labels', ' , '], '--labels: entry 1 is blank'),
    (['--labels', 'a,,b'], '--labels: entry 2 is blank'),
    (['--labels', 'swimming,Swimming'], "--labels: class name 'Swimming' on "
     "entry 2 duplicates entry 1 ('swimming') after CLIP's text "
     'normalisation'),
    (['--labels', 'riding a bike, riding  a bike'], "duplicates entry 1 "
     "('riding a bike') after CLIP's text normalisation"),
    (['--label-file', 'no/such/file.txt'],
     "class-name file not found: 'no/such/file.txt'"),
    (['--labels', 'a', '--topk', '0'],
     "argument --topk: expected a positive integer, got '0'"),
    (['--labels', 'a', '--topk', '-3'],
     "argument --topk: expected a positive integer, got '-3'"),
    (['--labels', 'a', '--topk', 'two'],
     "argument --topk: expected a positive integer, got 'two'"),
    (['--labels', 'a', '--num-clips', '0'],
     "argument --num-clips: expected a positive integer, got '0'"),
])
def test_zero_shot_arguments_are_checked(args, message, capsys):
    tool = load_tool('zero_shot.py')
    with pytest.raises(SystemExit) as exit_info:
        tool.parse_args(['v.mp4', '--checkpoint', 'c.pth', *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_zero_shot_label_file(workspace, tmp_path, capsys):
    """``--label-file``: one label per line, the same table as ``--labels``
    with the model's probabilities (``zero_shot``); a blank line is named
    with the file and line."""
    _, videos, ckpt = workspace
    labels = ['a dog', 'cooking pasta', 'a square moving right']
    path = tmp_path / 'labels.txt'
    path.write_text('\n'.join(labels) + '\n')
    tool = load_tool('zero_shot.py')
    assert tool.main([videos[2], '--checkpoint', ckpt, '--label-file',
                      str(path), '--topk', '3']) == 0
    table = capsys.readouterr().out
    tool.main([videos[2], '--checkpoint', ckpt, '--labels', ','.join(labels),
               '--topk', '3'])
    assert capsys.readouterr().out == table
    ranking = zero_shot(init_xclip(ckpt, labels), videos[2], topk=3)
    rows = table.splitlines()[2:5]
    assert [row.split()[-1] for row in rows] == [
        f'{p:.4f}' for _, p in ranking]
    assert [name in row for row, (name, _) in zip(rows, ranking)] == [
        True] * 3
    path.write_text('a dog\n\ncooking pasta\n')
    with pytest.raises(SystemExit):
        tool.parse_args(['v.mp4', '--checkpoint', 'c.pth', '--label-file',
                         str(path)])
    assert f'{path}: line 2 is blank' in capsys.readouterr().err


def test_mmaction_demo_path_on_converted_config(workspace, tmp_path):
    """What MMAction2's demo/demo.py does: init_recognizer on the converted
    config, inference_recognizer, names from the label file, and
    ActionVisualizer drawing the prediction (frames as images: writing mp4
    needs moviepy, which demo.py's own output needs too)."""
    from mmaction.apis import inference_recognizer, init_recognizer
    from mmaction.visualization import ActionVisualizer
    folder, videos, ckpt = workspace
    config = osp.splitext(ckpt)[0] + '.py'
    model = init_recognizer(config, ckpt, device='cpu')
    result = inference_recognizer(model, videos[0])
    labels = [x.strip() for x in open(osp.join(folder, 'class_names.txt'))]
    assert labels == CLASS_NAMES
    ours = dict(zero_shot(init_xclip(ckpt, num_clips=2, num_crops=3),
                          videos[0], topk=5))  # as converted
    torch.testing.assert_close(result.pred_score,
                               torch.tensor([ours[n] for n in labels]))
    visualizer = ActionVisualizer()
    visualizer.dataset_meta = dict(classes=labels)
    drawn = visualizer.add_datasample(
        'demo', videos[0], result, draw_gt=False, out_type='img',
        out_path=str(tmp_path / 'demo'))
    assert drawn.shape[0] == 16 and len(list(tmp_path.rglob('*.png'))) == 16


def test_mmaction_inferencer_on_converted_config(workspace, tmp_path):
    """What MMAction2's demo/demo_inferencer.py does with --label-file and
    --vid-out-dir: the converted config has the visualizer it needs (it
    crashed on ``None.dataset_meta`` before), the scores are init_xclip's,
    and the drawn frames carry the class names."""
    from mmaction.apis.inferencers import MMAction2Inferencer

    from mmxclip.apis import init_xclip, zero_shot
    folder, videos, ckpt = workspace
    config = osp.splitext(ckpt)[0] + '.py'
    inferencer = MMAction2Inferencer(
        rec=config, rec_weights=ckpt, device='cpu',
        label_file=osp.join(folder, 'class_names.txt'))
    visualizer = inferencer.actionrecog_inferencer.visualizer
    assert visualizer.dataset_meta == dict(classes=CLASS_NAMES)
    out = inferencer(videos[0], vid_out_dir=str(tmp_path), out_type='img',
                     return_vis=True)
    scores = torch.tensor(out['predictions'][0]['rec_scores'][0])
    # The inferencer turns the config's ThreeCrop into a CenterCrop.
    model = init_xclip(ckpt)
    model.cfg.test_pipeline = [
        dict(t, type='CenterCrop') if t['type'] == 'ThreeCrop' else t
        for t in Config.fromfile(config).test_pipeline]
    ours = dict(zero_shot(model, videos[0], topk=5))
    assert torch.allclose(scores, torch.tensor([ours[n] for n in CLASS_NAMES]),
                          atol=1e-6)
    assert len(list(tmp_path.rglob('*.png'))) == 16


def test_converted_config_dataset_is_robust_with_class_names(workspace):
    """Like every mmxclip config: RobustVideoDataset, labels checked
    against the head, and the class names as the dataset's metainfo (the
    runner gives them to its visualizer and evaluator)."""
    from mmaction.registry import DATASETS
    _, _, ckpt = workspace
    cfg = Config.fromfile(osp.splitext(ckpt)[0] + '.py')
    init_default_scope('mmaction')
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    assert type(dataset).__name__ == 'RobustVideoDataset'
    assert dataset.metainfo['classes'] == CLASS_NAMES
    assert dict(type='CheckLabelsHook') in cfg.custom_hooks
    assert cfg.visualizer.type == 'ActionVisualizer'
    assert cfg.default_scope == 'mmaction'


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
    assert [t['type'] for t in cfg.test_pipeline][3:5] == [
        'Resize', 'CenterCrop']
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
