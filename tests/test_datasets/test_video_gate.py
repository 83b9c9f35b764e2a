"""The video gate (mmxclip/datasets/video_gate.py) attacked with real
artefacts: the MPEG-TS remux of MMAction2's test.mp4 that decord loops on,
HLS playlists and concat lists named like videos that name a file on disk
(a watched named pipe) or a URL (a loopback server), image-sequence
patterns and URLs."""
import os.path as osp
import subprocess
import sys
import threading
import time

import av
import numpy as np
import pytest
from helpers.hostile_videos import (TS_FIXTURE, TS_FRAMES, LoopbackServer,
                                    WatchedFifo, concat_list, hls_playlist)

from mmxclip.datasets import (BrokenVideoError, GatedVideoDecode,
                              GatedVideoInit, RobustVideoDataset)
from mmxclip.datasets.gated_decode import GatedReader
from mmxclip.datasets.video_gate import (decode_budget, open_container,
                                         probe_container)


def test_decord_loops_forever_on_the_ts_fixture():
    """The fixture is what the issue says: PyAV decodes its 300 frames in
    well under a second, decord 0.6 is still busy after 10 s (killed)."""
    start = time.monotonic()
    with av.open(TS_FIXTURE) as c:
        assert sum(1 for _ in c.decode(video=0)) == TS_FRAMES
    assert time.monotonic() - start < 5
    code = ('import sys, decord; r = decord.VideoReader(sys.argv[1]); '
            'print(len(r), flush=True); r.get_batch([0, 100, 200, 299]); '
            'print("done", flush=True)')
    proc = subprocess.Popen([sys.executable, '-c', code, TS_FIXTURE],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.communicate(timeout=10)
    finally:
        proc.kill()
        out, _ = proc.communicate()
    assert out.split() == [str(TS_FRAMES)]  # opened, never finished


def test_ts_fixture_is_an_allowed_container():
    assert probe_container(TS_FIXTURE) == 'mpegts'
    with open_container(TS_FIXTURE) as c:
        assert c.format.name == 'mpegts'


@pytest.fixture
def watched_segment(tmp_path):
    """A named pipe ``seg.ts`` beside the playlists, serving the fixture."""
    with open(TS_FIXTURE, 'rb') as f:
        fifo = WatchedFifo(str(tmp_path / 'seg.ts'), f.read())
    yield fifo
    fifo.close()


def test_watched_segment_sees_a_decoder_that_follows_a_playlist(
        tmp_path, watched_segment):
    """The attack is real (why the gate exists): decord follows an HLS
    playlist named innocent.mp4 to the file it names."""
    import decord
    playlist = hls_playlist(str(tmp_path / 'innocent.mp4'), 'seg.ts')
    reader = decord.VideoReader(playlist)
    assert len(reader) == TS_FRAMES
    del reader
    assert watched_segment.close()


@pytest.mark.parametrize('make, what', [
    (hls_playlist, 'an HLS/M3U playlist'),
    (concat_list, 'an FFmpeg concat list'),
])
def test_playlists_refused_naming_the_file_nothing_opened(
        tmp_path, watched_segment, make, what):
    hostile = make(str(tmp_path / 'innocent.mp4'), 'seg.ts')
    for gate in (probe_container, open_container):
        with pytest.raises(BrokenVideoError, match=what) as err:
            gate(hostile)
        assert err.value.path == hostile
    assert not watched_segment.close()


def test_concat_list_is_followed_without_the_gate(tmp_path,
                                                  watched_segment):
    """The control of the test above: FFmpeg with every demuxer (PyAV's
    plain open) reads the file a concat list names."""
    hostile = concat_list(str(tmp_path / 'innocent.mp4'), 'seg.ts')
    with av.open(hostile) as c:
        assert c.format.name == 'concat'
        next(c.decode(video=0))
    assert watched_segment.close()


def test_playlist_naming_a_url_makes_no_request(tmp_path):
    with LoopbackServer() as server:
        hostile = hls_playlist(str(tmp_path / 'innocent.mp4'),
                               server.url + '/x.ts')
        for gate in (probe_container, open_container):
            with pytest.raises(BrokenVideoError, match='HLS/M3U playlist'):
                gate(hostile)
        for url in (server.url + '/x.mp4', 'concat:' + TS_FIXTURE,
                    f'subfile,,start,0,end,0,,:{TS_FIXTURE}'):
            with pytest.raises(BrokenVideoError, match='only local files'):
                open_container(url)
    assert server.requests == []


def test_image_sequences_refused(tmp_path):
    """A pattern naming images that exist, and an image named .mp4."""
    import cv2
    import numpy as np
    for i in range(1, 4):
        cv2.imwrite(str(tmp_path / f'frame_{i:03d}.png'),
                    np.zeros((8, 8, 3), np.uint8))
    pattern = str(tmp_path / 'frame_%03d.png')
    with pytest.raises(BrokenVideoError, match='not found'):
        open_container(pattern)
    image = str(tmp_path / 'img_%03d.mp4')
    with open(image, 'wb') as f, open(str(tmp_path / 'frame_001.png'),
                                      'rb') as png:
        f.write(png.read())
    with pytest.raises(BrokenVideoError, match='an image'):
        open_container(image)
    assert osp.isfile(image)


# Decoding through the gate (mmxclip/datasets/gated_decode.py).


def _h264(path: str, frames: int = 120, gop: int = 10) -> str:
    """A small H.264 mp4 (x264 with B-frames) whose frames all differ."""
    with av.open(path, 'w') as out:
        stream = out.add_stream('libx264', rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, 'yuv420p'
        stream.codec_context.gop_size = gop
        stream.options = {'preset': 'ultrafast', 'bframes': '3'}
        for t in range(frames):
            img = np.full((48, 64, 3), (7 * t) % 256, np.uint8)
            img[t % 48, :, 1] = 255
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, 'rgb24')))
        out.mux(stream.encode())
    return path


def _sequential(path: str) -> list:
    with av.open(path) as c:
        return [f.to_ndarray(format='rgb24') for f in c.decode(video=0)]


@pytest.fixture(scope='module')
def gop10(tmp_path_factory):
    return _h264(str(tmp_path_factory.mktemp('gate') / 'gop10.mp4'))


@pytest.mark.parametrize('video', ['ts', 'gop10'])
def test_gated_frames_are_those_of_a_sequential_decode(video, gop10):
    path = TS_FIXTURE if video == 'ts' else gop10
    reference = _sequential(path)
    reader = GatedReader(path)
    assert len(reader) == len(reference)
    inds = np.random.default_rng(0).integers(0, len(reference), 16)
    inds = np.concatenate([inds, inds[:3], [len(reference) - 1, 0]])
    frames = reader.get_frames(inds)  # unsorted, with repeats
    for i, frame in zip(inds, frames):
        assert np.array_equal(frame, reference[i]), i


def test_seeks_only_where_that_skips_decoding(gop10, monkeypatch):
    """Keyframes every 10 frames: frames 5 and 95 seek to keyframes 0 and
    90 (about 12 frames decoded, not 96); frames 3 and 7 of one GOP are
    decoded forward from one keyframe."""
    starts, decoded = [], []
    real = GatedReader._frames_from

    def counting(self, key):
        starts.append(key)
        for frame in real(self, key):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(GatedReader, '_frames_from', counting)
    GatedReader(gop10).get_frames([95, 5])
    assert starts == [0, 90] and len(decoded) <= 16
    starts.clear()
    GatedReader(gop10).get_frames([3, 7])
    assert starts == [0]


def test_budget_exceeded_names_the_file_and_budget():
    """Decoding the fixture takes at least ~0.2 s; with a budget of 0.01 s
    the deadline checked between packets stops it."""
    start = time.monotonic()
    with decode_budget(0.01, 0.0):
        with pytest.raises(BrokenVideoError,
                           match='longer than its time budget of 0.0 s') as e:
            GatedReader(TS_FIXTURE).get_frames(np.arange(0, 300, 30))
    assert e.value.path == TS_FIXTURE
    assert time.monotonic() - start < 5
    init = GatedVideoInit(decode_budget=dict(base_s=0.0, per_mb_s=0.0))
    with pytest.raises(BrokenVideoError, match='time budget of 0.0 s'):
        GatedVideoDecode()(dict(init(dict(filename=TS_FIXTURE)),
                                frame_inds=np.arange(8)))


@pytest.mark.parametrize('bad', [dict(base_s=-1), dict(seconds=3),
                                 dict(base_s='10')])
def test_bad_budget_refused(bad):
    with pytest.raises(ValueError, match='decode_budget must be'):
        GatedVideoInit(decode_budget=bad)


# Every pipeline passes the gate (load_clip), the gated one by default.


def _pipeline(init: str, decode: str) -> list:
    return [dict(type=init),
            dict(type='SegmentSampleFrames', num_segments=8, test_mode=True),
            dict(type=decode),
            dict(type='Resize', scale=(32, 32), keep_ratio=False),
            dict(type='FormatShape', input_format='NCTHW'),
            dict(type='PackActionInputs')]


GATED = _pipeline('GatedVideoInit', 'GatedVideoDecode')
STOCK = _pipeline('DecordInit', 'DecordDecode')


def _dataset(tmp_path, videos, pipeline, **kwargs):
    ann = tmp_path / f'ann{len(list(tmp_path.glob("ann*")))}.txt'
    ann.write_text(''.join(f'{v} {i}\n' for i, v in enumerate(videos)))
    return RobustVideoDataset(ann_file=str(ann), pipeline=pipeline,
                              data_prefix=dict(video=''), **kwargs)


def test_ts_fixture_decodes_in_the_dataset_within_seconds(tmp_path):
    start = time.monotonic()
    data = _dataset(tmp_path, [TS_FIXTURE], GATED, test_mode=True)[0]
    assert time.monotonic() - start < 10
    assert data['inputs'].shape == (1, 3, 8, 32, 32)
    assert data['inputs'].float().std() > 10  # real frames


def test_ts_under_stock_decord_is_refused_not_hung(tmp_path):
    """Stock MMAction2 pipelines pass the same gate; decord would loop on
    the fixture, so it is refused with a message naming the way out. (A
    thread, so that a regression fails instead of hanging the suite.)"""
    ds = _dataset(tmp_path, [TS_FIXTURE], STOCK, test_mode=True)
    errors = []

    def load():
        try:
            ds[0]
        except BrokenVideoError as err:
            errors.append(err)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), 'DecordInit was given the MPEG-TS file'
    assert 'refused under DecordInit' in str(errors[0])
    assert 'GatedVideoInit / GatedVideoDecode' in str(errors[0])


def test_stock_decord_pipeline_still_works(tmp_path, gop10):
    data = _dataset(tmp_path, [gop10], STOCK, test_mode=True)[0]
    assert data['inputs'].shape == (1, 3, 8, 32, 32)


@pytest.mark.parametrize('pipeline', [GATED, STOCK], ids=['gated', 'stock'])
def test_playlists_refused_by_every_pipeline(tmp_path, watched_segment,
                                             pipeline):
    with LoopbackServer() as server:
        videos = [hls_playlist(str(tmp_path / 'innocent.mp4'), 'seg.ts'),
                  concat_list(str(tmp_path / 'concat.mp4'), 'seg.ts'),
                  hls_playlist(str(tmp_path / 'net.mp4'),
                               server.url + '/x.ts'),
                  server.url + '/x.mp4']
        ds = _dataset(tmp_path, videos, pipeline, test_mode=True)
        for i, video in enumerate(videos):
            with pytest.raises(BrokenVideoError) as err:
                ds[i]
            assert err.value.index == i and err.value.path == video
            assert 'refused' in err.value.reason or 'only local' in \
                err.value.reason
    assert server.requests == []
    assert not watched_segment.close()


class _FastClock:
    """time.monotonic advancing 10 ms per call: a deadline that depends on
    the packets checked, not on the machine's load."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        self.now += 0.01
        return self.now


def test_over_budget_video_skipped_and_loader_goes_on(tmp_path, gop10,
                                                      monkeypatch):
    """A 2.5 s budget at 10 ms per packet check: the fixture (300 packets)
    is over it, the 120-frame video is not; with skip_broken the loader
    replaces the first by the second."""
    from mmxclip.datasets import SKIPPED_KEY, video_gate
    monkeypatch.setattr(video_gate, 'time', _FastClock())
    pipeline = [dict(GATED[0], decode_budget=dict(base_s=2.5, per_mb_s=0))
                ] + GATED[1:]
    ds = _dataset(tmp_path, [TS_FIXTURE, gop10], pipeline,
                  skip_broken=True, max_refetch=20)
    data = ds[0]
    skipped = data['data_samples'].metainfo[SKIPPED_KEY]
    assert skipped[0]['path'] == TS_FIXTURE
    assert 'time budget of 2.5 s' in skipped[0]['reason']
    assert data['data_samples'].gt_label.item() == 1
