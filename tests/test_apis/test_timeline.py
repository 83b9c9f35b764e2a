"""mmxclip.apis.timeline: windows scored exactly as recognize() scores their
frames, segments from windows, constant buffering, and bad input (bad
windows, short, empty, truncated and refused videos, a spent budget)."""
import os
import os.path as osp
import threading

import av
import numpy as np
import pytest
from helpers.av_videos import cut_short, encode, noise
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import write_video

from mmxclip.apis import init_xclip, recognize
from mmxclip.apis.timeline import (Segment, Window, _Pass, _RGBBuffers,
                                   find_segments, timeline)
from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.video_gate import decode_budget

LABELS = ['a square moving right', 'a dog', 'cooking pasta', 'swimming']


def decoded(path):
    """All RGB frames of a video, as PyAV decodes them."""
    with av.open(path) as container:
        return np.stack([f.to_ndarray(format='rgb24')
                         for f in container.decode(video=0)])


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp('timeline_model')
    return init_xclip(save_tiny_xclip(str(folder / 'tiny.pth')), LABELS)


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    """40 frames (5 s at 8 fps) of 48 x 64: Resize and CenterCrop work."""
    return write_video(str(tmp_path_factory.mktemp('tl') / 'v.mp4'),
                       frames=40)


@pytest.mark.parametrize('window,stride,batch_size', [(2, 1, 3),
                                                      (2.5, 1.5, 2)])
def test_window_scores_equal_recognize_on_the_windows_frames(
        model, video, tmp_path, window, stride, batch_size):
    """Each window's scores are recognize()'s on a video made of exactly
    that window's frames (decord on a lossless copy), to 1e-6; its frame
    indices are recognize()'s shifted by the window's start. (2.5, 1.5):
    the third window is aligned to the video's end."""
    result = timeline(model, video, window=window, stride=stride,
                      batch_size=batch_size)
    frames = decoded(video)
    size = round(window * 8)
    starts = ([0, 8, 16, 24] if stride == 1 else [0, 12, 20])
    assert [w.start for w in result.windows] == [s / 8 for s in starts]
    assert result.complete and result.frames == 40 and not result.notes
    for k, (w, start) in enumerate(zip(result.windows, starts)):
        assert w.end == (start + size) / 8
        clip = encode(str(tmp_path / f'w{k}.avi'),
                      frames[start:start + size], 'rawvideo', 'bgr24')
        ref = recognize(model, clip, topk=len(LABELS))
        probs = dict(ref.ranking)
        expected = np.array([probs[label] for label in result.labels])
        np.testing.assert_allclose(result.scores[k], expected, rtol=0,
                                   atol=1e-6)
        np.testing.assert_array_equal(w.frame_inds, ref.frame_inds + start)
    assert result.labels == LABELS
    np.testing.assert_allclose(result.scores.sum(1), 1, atol=1e-6)


def test_find_segments_merges_runs_and_cuts_halfway():
    windows = [Window(k, k + 2.0, np.zeros((1, 8))) for k in range(6)]
    scores = np.array([[.9, .1], [.8, .2], [.3, .7], [.2, .8], [.55, .45],
                       [.6, .4]])
    segments = find_segments(windows, scores, ['a', 'b'])
    assert segments == [Segment('a', 0, 2.5, pytest.approx(.85)),
                        Segment('b', 2.5, 4.5, pytest.approx(.75)),
                        Segment('a', 4.5, 7.0, pytest.approx(.575))]
    # Below the threshold: None, scored by the top probability.
    segments = find_segments(windows, scores, ['a', 'b'], threshold=0.65)
    assert [s.label for s in segments] == ['a', 'b', None]
    assert segments[2] == Segment(None, 4.5, 7.0, pytest.approx(.575))
    assert find_segments([], np.zeros((0, 2)), ['a', 'b']) == []


def test_segments_come_from_the_windows_of_a_long_toy_video(model, tmp_path):
    """Mechanics on the generator's long video (not accuracy: random
    weights): windows every stride, segments tiling [0, 16] s, each the
    run of its windows' top label."""
    from mmxclip.datasets.toy import make_long_video
    truth = make_long_video(str(tmp_path))
    assert [s['start'] for s in truth['segments']] == list(range(0, 16, 2))
    assert sorted(s['label'] for s in truth['segments']) == list(range(8))
    result = timeline(model, truth['video'], window=2, stride=1)
    assert len(result.windows) == 15 and result.frames == 128
    assert [w.start for w in result.windows] == list(range(15))
    top = result.scores.argmax(1)
    centres = [(w.start + w.end) / 2 for w in result.windows]
    owned = []
    for seg, after in zip(result.segments, result.segments[1:] + [None]):
        mine = [k for k, c in enumerate(centres) if seg.start <= c < seg.end]
        assert mine and {result.labels[top[k]] for k in mine} == {seg.label}
        assert seg.score == pytest.approx(result.scores[mine, top[mine[0]]]
                                          .mean())
        assert after is None or (after.start == seg.end
                                 and after.label != seg.label)
        owned += mine
    assert owned == list(range(15))
    assert result.segments[0].start == 0 and result.segments[-1].end == 16


def test_held_frames_do_not_grow_with_the_length(model, tmp_path,
                                                 monkeypatch):
    """Frames and RGB copies held stay under one window's worth, for a
    video 6x longer."""
    held = []
    add = _Pass.add

    def spy(self, frame):
        add(self, frame)
        held.append((len(self.frames), len(self.rgb)))

    monkeypatch.setattr(_Pass, 'add', spy)
    for n in (40, 240):
        held.clear()
        path = encode(str(tmp_path / f'{n}.mp4'), noise(n, seed=n))
        result = timeline(model, path, window=2, stride=1)
        assert result.frames == n
        assert max(f for f, _ in held) == 16
        assert max(r for _, r in held) <= 16


def test_rgb_arrays_are_recycled(model, tmp_path, monkeypatch):
    """The RGB arrays are reused: a video 6x longer converts 6x the frames
    into no more arrays (fresh ones per frame fragmented glibc's heap)."""
    made = []
    convert = _RGBBuffers.convert

    def spy(self, frame):
        free = {id(a) for a in self.free}
        array = convert(self, frame)
        made.append(id(array) not in free)
        return array

    monkeypatch.setattr(_RGBBuffers, 'convert', spy)
    counts = []
    for n in (40, 240):
        made.clear()
        timeline(model, encode(str(tmp_path / f'{n}.mp4'),
                               noise(n, seed=n)), window=2, stride=1)
        counts.append((len(made), sum(made)))
    assert counts[1][0] > 5 * counts[0][0]
    assert counts[1][1] == counts[0][1] <= 16


def test_an_rgb_array_held_elsewhere_is_never_overwritten():
    """A released array is reused only if nothing else holds it: not a
    pipeline step that kept it, not a view of it."""
    frames = [av.VideoFrame.from_ndarray(
        np.full((4, 6, 3), v, np.uint8), format='rgb24') for v in (1, 2, 3)]
    buffers = _RGBBuffers()
    first = buffers.convert(frames[0])
    view = first[:, ::2]
    buffers.release([first])
    second = buffers.convert(frames[1])
    assert second is not first and (view == 1).all() and (second == 2).all()
    buffers.release([second])
    assert buffers.convert(frames[2]) is not second  # held by this test
    buffers.release([buffers.convert(frames[1])])
    free = id(buffers.free[0])
    again = buffers.convert(frames[2])
    assert id(again) == free and (again == 3).all()


@pytest.mark.parametrize('kwargs,message', [
    (dict(stride=0), 'stride must be a positive number of seconds, got 0'),
    (dict(stride=-1), 'stride must be a positive number of seconds, got -1'),
    (dict(window=float('nan')), 'window must be a positive number'),
    (dict(window=0.0), 'window must be a positive number of seconds'),
    (dict(stride=0.05), 'stride 0.05 s is shorter than one frame'),
    (dict(window=0.1), 'window 0.1 s is shorter than one frame'),
    (dict(threshold=1.5), 'threshold must be a probability in (0, 1]'),
])
def test_bad_windows_are_named(model, video, kwargs, message):
    with pytest.raises(ValueError) as err:
        timeline(model, video, **kwargs)
    assert message in str(err.value)


def test_window_longer_than_the_video_is_one_window_said(model, video):
    result = timeline(model, video, window=30, stride=1)
    assert len(result.windows) == 1 and result.complete
    assert result.windows[0].start == 0 and result.windows[0].end == 5
    assert 'the window (30 s) is longer than the video (5.00 s); one ' \
        'window over all of it' in result.notes[0]
    assert result.segments[0].start == 0 and result.segments[0].end == 5


def test_a_truncated_file_keeps_what_was_scored(model, tmp_path):
    """An mp4 whose index is at the front, cut at 60 %: the windows of the
    frames that decode are kept, the stop is said."""
    whole, cut = cut_short(str(tmp_path), 64, keep=0.6, seed=1)
    full = timeline(model, whole, window=2, stride=1)
    part = timeline(model, cut, window=2, stride=1)
    assert not part.complete and 16 <= part.frames < 64
    assert 'of the 64 frames its header declares' in part.notes[0]
    assert 'the windows up to there are kept' in part.notes[0]
    # The complete windows before the cut score as in the whole file.
    same = [k for k, w in enumerate(part.windows)
            if w.end * 8 <= part.frames - 1 and w.start == k]
    assert same
    np.testing.assert_allclose(part.scores[same], full.scores[same],
                               atol=1e-6)


def test_a_video_without_frames_is_named(model, tmp_path):
    import cv2
    path = str(tmp_path / 'empty.avi')
    cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 8,
                    (64, 48)).release()
    with pytest.raises(BrokenVideoError) as err:
        timeline(model, path)
    assert str(err.value) == (f"{path!r}: no frames decoded; expected a "
                              'video with at least one frame')


@pytest.mark.parametrize('content,reason', [
    (b'#EXTM3U\n#EXT-X-VERSION:3\nhttp://example.invalid/x.ts\n',
     'an HLS/M3U playlist'),
    (b'', 'empty'),
])
def test_refused_files_never_reach_the_decoder(model, tmp_path, content,
                                               reason):
    path = str(tmp_path / 'clip.mp4')
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(BrokenVideoError, match=f'refused: the file is '
                       f'{reason}'):
        timeline(model, path)


def test_a_spent_decode_budget_stops_decoding(model, video):
    with decode_budget(0, 0), pytest.raises(BrokenVideoError) as err:
        timeline(model, video)
    assert 'decoding took longer than its time budget of 0.0 s' in str(
        err.value)


def test_a_stream_read_once_gives_the_file_s_timeline(model, tmp_path):
    """A non-seekable stream (a pipe) of MPEG-TS: the same windows and
    scores as the file."""
    path = encode(str(tmp_path / 's.ts'), noise(40, seed=2), fmt='mpegts')
    read, write = os.pipe()
    data = open(path, 'rb').read()

    def feed():
        with os.fdopen(write, 'wb') as pipe:
            pipe.write(data)

    feeder = threading.Thread(target=feed)
    feeder.start()
    with os.fdopen(read, 'rb') as stream:
        assert not stream.seekable()
        piped = timeline(model, stream, window=2, stride=1, name='<pipe>')
    feeder.join()
    direct = timeline(model, path, window=2, stride=1)
    assert piped.complete and piped.frames == direct.frames == 40
    assert [w.start for w in piped.windows] == [w.start for w in
                                                direct.windows]
    np.testing.assert_array_equal(piped.scores, direct.scores)
    assert osp.getsize(path) == len(data)
