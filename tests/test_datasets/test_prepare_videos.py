"""tools/data/prepare_videos.py: what a re-encoded dataset keeps, resuming,
broken inputs, and that the pipelines sample and shape it as the raw one."""
import os
import os.path as osp
import shutil
import sys

import av
import decord
import numpy as np
import pytest
from helpers import ROOT
from mmaction.registry import DATASETS
from mmengine.config import Config

from mmxclip.datasets import prepare
from mmxclip.datasets.prepare import output_size, partial_path

sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import prepare_videos  # noqa: E402
from benchmark_data import synthetic_clip  # noqa: E402

FRAMES, FPS = 40, 20


@pytest.fixture(scope='module')
def raw(tmp_path_factory):
    """Long-GOP H.264 (one keyframe) 160 x 128, 40 frames at 20 fps, in a
    sub-folder, plus a second video."""
    root = tmp_path_factory.mktemp('raw')
    synthetic_clip(str(root / 'cls_a' / 'v0.mp4'), 160, 128, FRAMES / FPS,
                   FPS, seed=0)
    synthetic_clip(str(root / 'cls_b' / 'v1.mp4'), 160, 128, FRAMES / FPS,
                   FPS, seed=1)
    return str(root)


def _keyframes(path):
    with av.open(path) as c:
        return [i for i, p in enumerate(c.demux(c.streams.video[0]))
                if p.size and p.is_keyframe]


def _duration(path):
    with av.open(path) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base)


@pytest.fixture(scope='module')
def prepared(raw, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('prepared'))
    assert prepare_videos.main([raw, out, '--short-side', '64', '--gop', '8',
                                '--workers', '2']) == 0
    return out


def test_output_size_scales_short_side_never_up_even():
    assert output_size(1920, 1080, 256) == (456, 256)
    assert output_size(1080, 1920, 256) == (256, 456)
    assert output_size(340, 256, 256) == (340, 256)
    assert output_size(128, 96, 256) == (128, 96)  # no upscaling
    assert output_size(341, 257, 256) == (340, 256)  # even for 4:2:0


def test_prepared_keeps_path_frames_fps_duration(raw, prepared):
    for rel in ('cls_a/v0.mp4', 'cls_b/v1.mp4'):
        src, dst = osp.join(raw, rel), osp.join(prepared, rel)
        a = decord.VideoReader(src, num_threads=1)
        b = decord.VideoReader(dst, num_threads=1)
        assert len(a) == len(b) == FRAMES
        assert a.get_avg_fps() == b.get_avg_fps() == FPS
        assert abs(_duration(src) - _duration(dst)) < 1e-6
        assert b[0].shape == (64, 80, 3)
        # The source has one keyframe; the output one every <= 8 frames.
        assert _keyframes(src) == [0]
        keys = _keyframes(dst)
        assert keys[0] == 0 and max(np.diff(keys + [FRAMES])) <= 8
        # The same pictures, smaller (not e.g. a blank or shifted video).
        small = np.stack([np.asarray(
            av.VideoFrame.from_ndarray(f, 'rgb24').reformat(
                80, 64, interpolation='AREA').to_ndarray(format='rgb24'),
            np.float32) for f in a.get_batch([0, 20, 39]).asnumpy()])
        ours = b.get_batch([0, 20, 39]).asnumpy()
        same = np.abs(small - ours).mean()
        other = np.abs(small - ours[::-1]).mean()  # frames 39, 20, 0
        assert same < other / 3, (same, other)
    assert not [f for _, _, fs in os.walk(prepared) for f in fs
                if '.partial' in f]


def _pipelines():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'xclip_b16_k400.py'))
    return {p: cfg[f'{p}_pipeline'] for p in ('train', 'val', 'test')}


@pytest.mark.parametrize('name', ['train', 'val', 'test'])
def test_annotation_list_unchanged_same_sampling_and_shapes(
        raw, prepared, tmp_path, name):
    """The same list on both folders: the samplers see the same frame count
    and pick the same frames for the same seed; the clips have one shape."""
    ann = tmp_path / 'list.txt'
    ann.write_text('cls_a/v0.mp4 0\ncls_b/v1.mp4 1\n')
    pipeline = _pipelines()[name]
    out = {}
    for kind, root in (('raw', raw), ('prepared', prepared)):
        ds = DATASETS.build(dict(
            type='RobustVideoDataset', ann_file=str(ann),
            data_prefix=dict(video=root), pipeline=pipeline,
            test_mode=name != 'train'))
        sampled, shapes = [], []
        for i in range(len(ds)):
            np.random.seed(i)
            info = ds.get_data_info(i)
            for t in ds.pipeline.transforms[:2]:  # DecordInit, UniformSample
                info = t(info)
            sampled.append((info['total_frames'], info['avg_fps'],
                            info['frame_inds'].tolist()))
            shapes.append(tuple(ds[i]['inputs'].shape))
        out[kind] = sampled, shapes
    assert out['raw'] == out['prepared']
    assert out['raw'][0][0][0] == FRAMES


def test_resume_skips_complete_and_redoes_interrupted(raw, tmp_path,
                                                      monkeypatch):
    out = str(tmp_path / 'out')
    rel = 'cls_a/v0.mp4'
    real = prepare.reencode

    def interrupted(src, dst, *args, **kwargs):
        with open(dst, 'wb') as f:
            f.write(b'\0' * 100)  # half-written
        raise KeyboardInterrupt

    monkeypatch.setattr(prepare, 'reencode', interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare.prepare_video(raw, out, rel, short_side=64)
    assert osp.isfile(partial_path(osp.join(out, rel)))
    assert not osp.exists(osp.join(out, rel))  # never taken as complete
    monkeypatch.setattr(prepare, 'reencode', real)
    assert prepare_videos.main([raw, out, '--short-side', '64']) == 0
    done = osp.join(out, rel)
    assert len(decord.VideoReader(done)) == FRAMES
    assert not osp.exists(partial_path(done))
    stamp = os.stat(done).st_mtime_ns
    results = prepare.prepare_videos(raw, out, [rel, 'cls_b/v1.mp4'],
                                     short_side=64)
    assert [r.status for r in results] == ['skipped', 'skipped']
    assert os.stat(done).st_mtime_ns == stamp


def test_broken_inputs_named_skipped_and_exit_code(raw, tmp_path, capsys):
    src = tmp_path / 'in'
    shutil.copytree(raw, src)
    good = (src / 'cls_a' / 'v0.mp4').read_bytes()
    (src / 'broken').mkdir()
    (src / 'broken' / 'empty.mp4').write_bytes(b'')
    (src / 'broken' / 'truncated.mp4').write_bytes(good[:len(good) // 2])
    (src / 'broken' / 'text.mkv').write_text('not a video\n')
    (src / 'notes.txt').write_text('other file\n')
    out = tmp_path / 'out'
    assert prepare_videos.main([str(src), str(out), '--short-side',
                                '64']) == 1
    err = capsys.readouterr()
    for name in ('empty.mp4', 'truncated.mp4', 'text.mkv'):
        assert f'FAILED broken/{name}: ' in err.err
        assert not (out / 'broken' / name).exists()
    assert '3 failed' in err.out and '2 re-encoded' in err.out
    assert '1 other files not copied' in err.out
    for rel in ('cls_a/v0.mp4', 'cls_b/v1.mp4'):
        assert len(decord.VideoReader(str(out / rel))) == FRAMES
    assert not [f for _, _, fs in os.walk(out) for f in fs
                if '.partial' in f]


def test_webm_name_kept_and_decodable(tmp_path):
    """H.264 cannot go in WebM: a .webm keeps its name, holds Matroska."""
    src = tmp_path / 'in'
    src.mkdir()
    with av.open(str(src / 'v.webm'), 'w') as c:
        s = c.add_stream('libvpx-vp9', rate=FPS)
        s.width, s.height, s.pix_fmt = 128, 96, 'yuv420p'
        rng = np.random.default_rng(0)
        for _ in range(12):
            img = rng.integers(0, 255, (96, 128, 3), np.uint8)
            c.mux(s.encode(av.VideoFrame.from_ndarray(img, 'rgb24')))
        c.mux(s.encode())
    out = tmp_path / 'out'
    assert prepare_videos.main([str(src), str(out), '--short-side',
                                '64']) == 0
    vr = decord.VideoReader(str(out / 'v.webm'))
    assert len(vr) == 12 and vr[0].shape == (64, 86, 3)
    with av.open(str(out / 'v.webm')) as c:
        assert c.streams.video[0].codec_context.name == 'h264'


def _x264_settings(path):
    """The settings x264 writes into its first packet's SEI."""
    with av.open(path) as c:
        head = bytes(next(c.demux(c.streams.video[0])))
    return head[head.index(b'options: '):].split(b'\x00')[0].decode().split()


def test_default_tune_is_fastdecode_and_none_turns_it_off(raw, prepared,
                                                          tmp_path):
    """By default CAVLC and no deblocking filter (the prepared clip decodes
    ~1.6x faster, docs/performance.md); ``--tune none``: x264's own."""
    tuned = _x264_settings(osp.join(prepared, 'cls_a', 'v0.mp4'))
    assert {'cabac=0', 'deblock=0:0:0', 'crf=22.0'} <= set(tuned)
    out = str(tmp_path / 'plain')
    assert prepare_videos.main([raw, out, '--short-side', '64', '--tune',
                                'none', '--crf', '23']) == 0
    plain = _x264_settings(osp.join(out, 'cls_a', 'v0.mp4'))
    assert {'cabac=1', 'deblock=1:0:0', 'crf=23.0'} <= set(plain)


def test_cli_refuses_bad_arguments(raw, capsys):
    with pytest.raises(SystemExit):
        prepare_videos.main([raw, raw + '_x', '--short-side', '255'])
    assert '--short-side must be even' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prepare_videos.main([raw, raw + '_x', '--tune', 'fast'])
    assert "--tune: invalid choice: 'fast'" in capsys.readouterr().err
    with pytest.raises(ValueError, match='OUT_DIR must differ'):
        prepare_videos.main([raw, raw])
