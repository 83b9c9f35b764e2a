"""The video gate (mmxclip/datasets/video_gate.py) attacked with real
artefacts: the MPEG-TS remux of MMAction2's test.mp4 that decord loops on,
HLS playlists and concat lists named like videos that name a file on disk
(a watched named pipe) or a URL (a loopback server), image-sequence
patterns and URLs."""
import os.path as osp
import subprocess
import sys
import time

import av
import pytest
from helpers.hostile_videos import (TS_FIXTURE, TS_FRAMES, LoopbackServer,
                                    WatchedFifo, concat_list, hls_playlist)

from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.video_gate import open_container, probe_container


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
