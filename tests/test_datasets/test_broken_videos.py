"""Broken and unusual videos through the real pipeline of configs/xclip_toy.py.

Each broken input raises a :class:`BrokenVideoError` naming the sample index,
the file and what was expected; unusual but valid inputs give correct clips;
``skip_broken=True`` logs and replaces broken training videos, and the count
reaches the training log.
"""
import logging
import os.path as osp

import av
import numpy as np
import pytest
import torch
from helpers.runs import make_toy_dataset, random_video, toy_config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmxclip.datasets import SKIPPED_KEY, BrokenVideoError, RobustVideoDataset

# Training runs in this process: one thread (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures('one_thread')

NUM_FRAMES = 8  # configs/xclip_toy.py samples 8 frames per clip


def _write_faststart(path: str, num_frames: int) -> None:
    """An mp4 with its index first, so a cut file still opens."""
    rng = np.random.default_rng(1)
    with av.open(path, 'w', options={'movflags': 'faststart'}) as out:
        stream = out.add_stream('mpeg4', rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = 'yuv420p'
        for _ in range(num_frames):
            frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, 'rgb24')))
        out.mux(stream.encode())


def _write_gray(path: str, num_frames: int) -> None:
    """A single-channel video (ffv1, pix_fmt gray)."""
    rng = np.random.default_rng(2)
    with av.open(path, 'w') as out:
        stream = out.add_stream('ffv1', rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = 'gray'
        for _ in range(num_frames):
            frame = rng.integers(0, 256, (32, 32), dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, 'gray')))
        out.mux(stream.encode())


def _cut(src: str, dst: str) -> None:
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[:len(data) // 2])


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    """name -> (relative file name) of every test video, written once."""
    root = tmp_path_factory.mktemp('videos')
    random_video(str(root / 'good.mp4'), 16, 32, 32)
    (root / 'zero.mp4').write_bytes(b'')
    _cut(str(root / 'good.mp4'), str(root / 'truncated.mp4'))
    _write_faststart(str(root / 'faststart.mp4'), 32)
    _cut(str(root / 'faststart.mp4'), str(root / 'truncated_stream.mp4'))
    (root / 'text.mp4').write_text('not a video\n' * 100)
    random_video(str(root / 'short.mp4'), 3, 32, 32)
    random_video(str(root / 'one.mp4'), 1, 32, 32)
    _write_gray(str(root / 'gray.mkv'), 8)
    random_video(str(root / 'odd.mp4'), 8, 9, 17)
    random_video(str(root / 'large.mp4'), 2, 1080, 1920)
    return root


def _dataset(root, names, pipeline='val', **kwargs):
    """A RobustVideoDataset over ``names`` with the toy config's pipeline."""
    cfg = toy_config(str(root), str(root))
    dl = cfg[f'{pipeline}_dataloader']
    ann = root / f'ann_{"_".join(names)}_{pipeline}.txt'
    ann.write_text(''.join(f'{n if "." in n else n + ".mp4"} {i % 8}\n'
                           for i, n in enumerate(names)))
    kwargs.setdefault('test_mode', pipeline != 'train')
    return RobustVideoDataset(
        ann_file=str(ann), data_prefix=dict(video=str(root)),
        pipeline=dl.dataset.pipeline, **kwargs)


BROKEN = [
    ('missing', "video file not found"),
    ('zero', 'video file is empty (0 bytes); expected a video'),
    ('truncated', 'FFmpeg cannot open it as ISO base media (MP4, MOV, M4V, '
     '3GP): truncated, corrupt or an unsupported codec'),
    ('truncated_stream', 'the video stream ends after 8 of the 32 frames its '
     'container lists (truncated file)'),
    ('text', 'refused: the file is no known video container, not one of the '
     'allowed video containers (ISO base media'),
]


@pytest.mark.parametrize('name,message', BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_video_names_sample_file_and_reason(videos, name, message):
    ds = _dataset(videos, ['good', name])
    with pytest.raises(BrokenVideoError) as info:
        ds[1]
    text = str(info.value)
    assert text.startswith(f"sample 1 ('{videos / name}.mp4'): ")
    assert message in text
    assert info.value.index == 1 and info.value.path.endswith(f'{name}.mp4')


def test_frame_check_refuses_wrong_channels(videos, monkeypatch):
    """A decoder returning 4-channel frames (a decord quirk for some sizes)
    is an error, not a clip."""
    from mmxclip.datasets import GatedVideoDecode
    real = GatedVideoDecode.transform

    def rgba(self, results):
        results = real(self, results)
        results['imgs'] = [np.dstack([im, im[..., :1]])
                           for im in results['imgs']]
        return results

    monkeypatch.setattr(GatedVideoDecode, 'transform', rgba)
    with pytest.raises(BrokenVideoError, match=r"sample 0 \('.*good.mp4'\): "
                       r'decoded frames have shapes \[\(32, 32, 4\)\], '
                       r'expected one \(H, W, 3\) shape'):
        _dataset(videos, ['good'])[0]


@pytest.mark.parametrize('name', ['short', 'one'])
def test_short_videos_loop_by_default_and_fail_with_min_frames(videos, name):
    total = dict(short=3, one=1)[name]
    ds = _dataset(videos, [name])
    inputs = ds[0]['inputs']
    assert inputs.shape == (1, 3, NUM_FRAMES, 32, 32)
    distinct = {inputs[0, :, t].numpy().tobytes() for t in range(NUM_FRAMES)}
    assert len(distinct) == total  # frames repeat, as MMAction2 documents
    strict = _dataset(videos, [name], min_frames=NUM_FRAMES)
    with pytest.raises(BrokenVideoError,
                       match=rf'has {total} frames, expected at least '
                       rf'{NUM_FRAMES} \(min_frames\)'):
        strict[0]


def test_grayscale_video_gives_three_equal_channels(videos):
    inputs = _dataset(videos, ['gray.mkv'])[0]['inputs']
    assert inputs.shape == (1, 3, NUM_FRAMES, 32, 32)
    assert torch.equal(inputs[:, 0], inputs[:, 1])
    assert torch.equal(inputs[:, 1], inputs[:, 2])
    assert inputs.float().std() > 20  # real content, not a blank frame


def test_odd_frame_size_decodes_at_its_size(videos):
    """The 9x17 request (OpenCV writes 16x8), whose frames decord 0.6
    returns with 6 channels (a broken video under DecordDecode), decodes
    through the gated decoder at the stream's size."""
    with av.open(str(videos / 'odd.mp4')) as c:
        size = c.streams.video[0].height, c.streams.video[0].width
    ds = _dataset(videos, ['odd'])
    ds.pipeline.transforms = ds.pipeline.transforms[:4]  # up to the check
    results = ds.pipeline(ds.get_data_info(0))
    assert results['original_shape'] == size == (8, 16)
    assert all(img.shape == (8, 16, 3) for img in results['imgs'])


def test_very_large_frames_are_resized(videos):
    for pipeline in ('train', 'val'):
        inputs = _dataset(videos, ['large'], pipeline)[0]['inputs']
        assert inputs.shape[-2:] == (32, 32)
        assert inputs.dtype == torch.uint8 and inputs.float().std() > 20


def test_pipeline_errors_after_decoding_name_the_frame_shape(videos):
    """A transform that rejects the decoded frames (here ThreeCrop, which
    needs one side equal to the crop) is reported as a size/pipeline
    problem, with the frame shape, not as a broken file."""
    from mmaction.datasets.transforms import ThreeCrop
    ds = _dataset(videos, ['odd', 'large'])
    ds.pipeline.transforms.insert(-2, ThreeCrop(crop_size=24))
    with pytest.raises(BrokenVideoError, match=r"sample 1 \('.*large.mp4'\): "
                       r'ThreeCrop failed on decoded frames of size '
                       r'1080x1920: AssertionError\(\); expected the '
                       r'pipeline to accept frames of this size'):
        ds[1]


def test_skip_broken_is_refused_for_evaluation(videos):
    with pytest.raises(ValueError, match='skip_broken=True is for training'):
        _dataset(videos, ['good'], skip_broken=True)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_skip_broken_logs_and_replaces(videos):
    ds = _dataset(videos, ['text', 'good'], 'train', skip_broken=True)
    handler = _Records()
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        np.random.seed(0)
        data = ds[0]
    finally:
        logger.removeHandler(handler)
    skipped = data['data_samples'].metainfo[SKIPPED_KEY]
    assert skipped[0]['index'] == 0
    assert skipped[0]['path'] == str(videos / 'text.mp4')
    assert data['data_samples'].gt_label.item() == 1  # the good video
    assert any(m.startswith("skip_broken: skipping sample 0 ('") and
               'text.mp4' in m and 'no known video container' in m
               for m in handler.messages)
    assert SKIPPED_KEY not in ds[1]['data_samples'].metainfo


def test_skip_broken_gives_up_when_everything_is_broken(videos):
    ds = _dataset(videos, ['text', 'zero'], 'train', skip_broken=True,
                  max_refetch=3)
    with pytest.raises(BrokenVideoError, match='4 broken samples in a row'):
        ds[0]


def test_skip_broken_count_reaches_training_log(tmp_path):
    """Broken videos in a training run with 2 dataloader workers: the
    run finishes and the log states how many were skipped."""
    data = make_toy_dataset(str(tmp_path / 'toy'), 2, 1, num_frames=8)
    with open(data['ann_files']['train'], 'a') as f:
        f.write('train/missing.mp4 0\ntrain/zero.mp4 1\n')
    open(osp.join(data['data_prefix'], 'train', 'zero.mp4'), 'w').close()
    cfg = toy_config(
        data['out_dir'], str(tmp_path / 'work'),
        **{'train_dataloader.dataset.type': 'RobustVideoDataset',
           'train_dataloader.dataset.skip_broken': True,
           'train_dataloader.batch_size': 9,
           'train_cfg.max_epochs': 1, 'val_cfg': None, 'val_dataloader': None,
           'val_evaluator': None, 'default_hooks.checkpoint': None,
           'custom_hooks': [dict(type='SkippedSamplesHook')]})
    runner = Runner.from_cfg(cfg)
    runner.train()
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert 'skip_broken: 2 broken training samples were replaced in epoch 1' \
        in log
    assert 'skip_broken: 2 broken training samples were skipped and ' \
        'replaced in this run' in log
    assert "train/missing.mp4'): video file not found" in log


def _list(root, name: str, text: str) -> str:
    path = root / name
    path.write_text(text)
    return str(path)


def _val_pipeline(root):
    return toy_config(str(root), str(root)).val_dataloader.dataset.pipeline


def test_annotation_paths_with_spaces(videos, tmp_path):
    """The label is the last field (the trailing integers with multi_class),
    so paths may contain the delimiter; unlabeled lines stay MMAction2's
    -1 (a bare path, which cannot contain the delimiter); blank lines are
    not samples."""
    import shutil
    spaced = videos / 'my clips' / 'a b.mp4'
    spaced.parent.mkdir(exist_ok=True)
    shutil.copy(videos / 'good.mp4', spaced)
    ann = _list(tmp_path, 'spaces.txt',
                'my clips/a b.mp4 3\n\ngood.mp4 7\ngood.mp4\n')
    ds = RobustVideoDataset(ann_file=ann, data_prefix=dict(video=str(videos)),
                            pipeline=_val_pipeline(videos), test_mode=True,
                            num_classes=8)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(d['filename'], d['label']) for d in infos] == [
        (str(spaced), 3), (str(videos / 'good.mp4'), 7),
        (str(videos / 'good.mp4'), -1)]
    assert ds[0]['inputs'].shape == (1, 3, NUM_FRAMES, 32, 32)
    multi = _list(tmp_path, 'multi.txt', 'my clips/a b.mp4 1 4\ngood.mp4\n')
    ds = RobustVideoDataset(ann_file=multi, pipeline=_val_pipeline(videos),
                            data_prefix=dict(video=str(videos)),
                            multi_class=True, num_classes=5, test_mode=True)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(d['filename'], d['label'].tolist()) for d in infos] == [
        (str(spaced), [0, 1, 0, 0, 1]), (str(videos / 'good.mp4'), [0] * 5)]


@pytest.mark.parametrize('text,kwargs,message', [
    ('good.mp4 1\nmy video.mp4\n', {}, r"spaces_bad.txt, line 2: "
     r"'video.mp4' is not an integer label; expected \"PATH LABEL\""),
    ('good.mp4 1\ngood.mp4 8\n', dict(num_classes=8), r'spaces_bad.txt, '
     r'line 2: label 8 is outside \[0, 8\) \(num_classes=8\)'),
    ('good.mp4 -1\n', dict(num_classes=8), r'line 1: label -1 is outside'),
    ('good.mp4 0 5\n', dict(num_classes=5, multi_class=True),
     r'line 1: label 5 is outside \[0, 5\)'),
])
def test_bad_annotation_lines_name_file_and_line(videos, tmp_path, text,
                                                 kwargs, message):
    ann = _list(tmp_path, 'spaces_bad.txt', text)
    with pytest.raises(ValueError, match=message):
        RobustVideoDataset(ann_file=ann, data_prefix=dict(video=str(videos)),
                           pipeline=_val_pipeline(videos), test_mode=True,
                           **kwargs)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_labels_checked_against_the_head_before_training_and_testing(
        tmp_path, split):
    """CheckLabelsHook (in every mmxclip config) refuses a label outside
    the head's classes, naming file and line, before the first iteration:
    training would fail inside the loss, testing would score it silently."""
    data = make_toy_dataset(str(tmp_path / 'toy'), 1, 1, num_frames=8)
    ann = data['ann_files']['train' if split == 'train' else 'val']
    with open(ann, 'a') as f:
        f.write(open(ann).readline().split()[0] + ' 8\n')  # 8 classes: 0-7
    line = len(open(ann).readlines())
    # Batch 4: the toy config drops the last partial batch, and 9 videos
    # in batches of 16 would leave no iteration at all.
    cfg = toy_config(data['out_dir'], str(tmp_path / 'work'),
                     **{'train_cfg.max_epochs': 1, 'val_cfg': None,
                        'val_dataloader': None, 'val_evaluator': None,
                        'default_hooks.checkpoint': None,
                        'train_dataloader.batch_size': 4})
    assert dict(type='CheckLabelsHook') in cfg.custom_hooks
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'{osp.basename(ann)}, line {line}:'
                       r' label 8 is outside \[0, 8\) '
                       r'\(model.cls_head.num_classes=8\)'):
        getattr(runner, split)()
