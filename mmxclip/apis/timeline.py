"""What happens when in a long video: labels scored over sliding windows.

:func:`timeline` reads the video once, in order, through the video gate
(:func:`~mmxclip.datasets.video_gate.open_container`): no seek per window,
so a file and a stream read once (standard input) work alike. A window of
``window`` seconds starts every ``stride`` seconds; each is sampled as the
model's test pipeline samples a clip (its sampling steps run on the window's
frame range, e.g. the middles of T segments), the sampled frames go through
the pipeline's steps after its decoder (resize, crop, format), and windows
are scored in batches. Only the last window's worth of decoded frames is
held, so memory does not grow with the video's length.

Frame ``i`` is at ``i / fps`` seconds (the stream's average frame rate):
window ``k`` holds the ``round(window * fps)`` frames from
``round(k * stride * fps)``. Where the windows stop short of the end, one
more window is aligned to the video's end; a video shorter than ``window``
gets one window over all of it.
"""
import collections
import io
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, List, NamedTuple, Optional, Union

import av
import cv2
import numpy as np
from mmaction.datasets.transforms import (DecordInit, OpenCVInit, PIMSInit,
                                          PyAVInit)
from mmengine.utils import ProgressBar
from torch import nn

from ..datasets import BrokenVideoError
from ..datasets.broken_video import explain
from ..datasets.frame_check import DECODERS
from ..datasets.gated_decode import GatedVideoInit
from ..datasets.video_gate import PROBE_BYTES, Deadline, open_container
from .inference import check_fusion, predict_probabilities
from .pipeline import inference_pipeline

# The steps that open a container, replaced here by the one sequential pass.
CONTAINER_INITS = (GatedVideoInit, DecordInit, PyAVInit, OpenCVInit,
                   PIMSInit)
# Height of the thumbnails kept for a picture of the timeline.
THUMBNAIL_HEIGHT = 72


class Window(NamedTuple):
    """One scored window.

    Attributes:
        start: First frame's time, seconds.
        end: Time after the last frame, seconds.
        frame_inds: (num_clips, T) the frames the model saw, indices into
            the whole video.
    """
    start: float
    end: float
    frame_inds: np.ndarray


class Segment(NamedTuple):
    """A run of windows with one label on top, merged.

    Attributes:
        label: The label; None where the top probability is below the
            threshold.
        start: Seconds; the boundary between two windows is halfway between
            their centres.
        end: Seconds.
        score: Mean probability of ``label`` over the run's windows (of the
            top label, for None).
    """
    label: Optional[str]
    start: float
    end: float
    score: float


@dataclass
class Timeline:
    """What :func:`timeline` found.

    Attributes:
        labels: The K labels, in score order.
        windows: The W windows, in time order.
        scores: (W, K) each window's probabilities over ``labels``.
        segments: :func:`find_segments` of the windows.
        fps: The stream's average frame rate.
        frames: Frames decoded.
        notes: What to tell the user (a window longer than the video;
            where and why the stream ended early).
        complete: False when decoding stopped before the video's end; the
            windows before that are kept.
        thumbnails: (time, RGB image) of evenly spaced windows, when asked.
    """
    labels: List[str]
    windows: List[Window]
    scores: np.ndarray
    segments: List[Segment]
    fps: float
    frames: int
    notes: List[str] = field(default_factory=list)
    complete: bool = True
    thumbnails: List[tuple] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        """The timeline as JSON data (times in seconds, ``label`` null for
        a segment below the threshold)."""
        return dict(
            labels=list(self.labels),
            windows=[dict(start=w.start, end=w.end,
                          frame_inds=w.frame_inds.ravel().tolist(),
                          scores=s.tolist())
                     for w, s in zip(self.windows, self.scores)],
            segments=[s._asdict() for s in self.segments],
            fps=self.fps, frames=self.frames, complete=self.complete,
            notes=list(self.notes))


def find_segments(windows: List[Window],
                  scores: np.ndarray,
                  labels: List[str],
                  threshold: Optional[float] = None) -> List[Segment]:
    """Runs of windows with the same top label, merged.

    Each window owns the time closer to its centre than to its neighbours'
    (the first from its start, the last to its end), so the segments tile
    the windows' span without overlap.

    Args:
        windows: In time order.
        scores: (W, K) probabilities.
        labels: The K labels.
        threshold: Below it a window's label is None.

    Returns:
        list[Segment]: In time order.
    """
    if not windows:
        return []
    top = scores.argmax(axis=1)
    best = scores.max(axis=1)
    names = [labels[t] if threshold is None or b >= threshold else None
             for t, b in zip(top, best)]
    centres = [(w.start + w.end) / 2 for w in windows]
    cuts = ([windows[0].start] +
            [(a + b) / 2 for a, b in zip(centres, centres[1:])] +
            [windows[-1].end])
    segments = []
    first = 0
    for i in range(1, len(windows) + 1):
        if i < len(windows) and names[i] == names[first]:
            continue
        run = (scores[first:i, top[first]] if names[first] is not None else
               best[first:i])
        segments.append(Segment(names[first], cuts[first], cuts[i],
                                float(np.mean(run, dtype=np.float64))))
        first = i
    return segments


class _ReadOnce:
    """A stream read once from its start (standard input, a pipe) as PyAV
    reads it: its first bytes replayed after the gate's probe, not
    seekable otherwise, and each read grown into the decode budget with
    the wait for the writer off the clock.

    Args:
        raw: The binary stream.
        deadline: The video's decode budget.
    """

    def __init__(self, raw: BinaryIO, deadline: Deadline) -> None:
        self.raw = raw
        self.deadline = deadline
        self.name = getattr(raw, 'name', '<stream>')
        self.head = b''
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Back into the replayed first bytes only (the probe's seek)."""
        target = offset + (self.pos if whence == io.SEEK_CUR else 0)
        if whence == io.SEEK_END or not 0 <= target <= len(self.head):
            raise OSError(f'{self.name}: a stream read once cannot seek '
                          f'(offset {offset}, whence {whence})')
        self.pos = target
        return target

    def read(self, size: int = -1) -> bytes:
        if self.pos < len(self.head):
            end = len(self.head) if size < 0 else self.pos + size
            data = self.head[self.pos:end]
        else:
            with self.deadline.paused():
                data = self.raw.read(size)
            self.deadline.grow(len(data))
            if len(self.head) == self.pos < PROBE_BYTES:
                self.head += data
        self.pos += len(data)
        return data


class _Thumbnails:
    """Thumbnails of evenly spaced windows of a video of unknown length, at
    most ``2 * count``: every ``step``-th window's, ``step`` doubled and
    every other thumbnail dropped whenever there are more."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.step = 1
        self.items: List[tuple] = []  # (window index, time, image)

    def offer(self, index: int, time: float, frame: np.ndarray) -> None:
        if not self.count or index % self.step:
            return
        height, width = frame.shape[:2]
        size = (max(1, round(width * THUMBNAIL_HEIGHT / height)),
                THUMBNAIL_HEIGHT)
        self.items.append((index, time, cv2.resize(
            frame, size, interpolation=cv2.INTER_AREA)))
        if len(self.items) > 2 * self.count:
            self.step *= 2
            self.items = [t for t in self.items if t[0] % self.step == 0]


def _check_args(window: float, stride: float, threshold: Optional[float],
                batch_size: int) -> None:
    for name, value in (('window', window), ('stride', stride)):
        if not (isinstance(value, (int, float)) and math.isfinite(value)
                and value > 0):
            raise ValueError(f'{name} must be a positive number of seconds, '
                             f'got {value!r}')
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f'threshold must be a probability in (0, 1], got '
                         f'{threshold!r}')
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')


def _clip_steps(model: nn.Module) -> tuple:
    """The model's test pipeline around its decoder: the sampling steps
    (between opening the container and decoding) and the steps after
    decoding (resize, crop, format, pack)."""
    steps = inference_pipeline(model).transforms
    decoders = [i for i, s in enumerate(steps) if isinstance(s, DECODERS)]
    if len(decoders) != 1:
        raise ValueError('model.cfg.test_pipeline must decode a video in one '
                         f'step ({", ".join(d.__name__ for d in DECODERS)}); '
                         f'it has {len(decoders)}')
    sampling = [s for s in steps[:decoders[0]]
                if not isinstance(s, CONTAINER_INITS)]
    return sampling, steps[decoders[0] + 1:]


class _RGBBuffers:
    """RGB frames converted into recycled arrays.

    Why not a fresh array per frame: each 720p RGB frame is 2.7 MB, freed a
    window later while the model allocates in between; glibc's heap then
    fragments and a process's peak grew by 18 % from a 10- to a 60-minute
    video (measured: docs/performance.md, "Timeline"). Reusing the arrays
    keeps it flat without changing the process's allocator settings.
    """

    def __init__(self) -> None:
        self.free: List[np.ndarray] = []

    def convert(self, frame: Any) -> np.ndarray:
        """``frame`` (decoded) as an (H, W, 3) uint8 RGB array."""
        rgb = frame.to_ndarray(format='rgb24')  # a view of FFmpeg's frame
        while self.free:
            array = self.free.pop()
            # 2 = ``array`` and getrefcount's argument: nothing else, not a
            # view, holds it (a pipeline step may keep what it was given).
            if array.shape == rgb.shape and sys.getrefcount(array) == 2:
                np.copyto(array, rgb)
                return array
        return rgb.copy()

    def release(self, arrays: List[np.ndarray]) -> None:
        """Take back arrays the pass no longer holds."""
        self.free += arrays


class _Pass:
    """One sequential pass: frames in, windows built and scored in batches.

    Args:
        model: The recognizer.
        name: The video, for messages.
        fps: Its frame rate.
        window: Window length, seconds.
        stride: Seconds between window starts.
        batch_size: Windows per model call.
        thumbnails: Thumbnails to keep.
    """

    def __init__(self, model: nn.Module, name: str, fps: float,
                 window: float, stride: float, batch_size: int,
                 thumbnails: _Thumbnails) -> None:
        self.size = round(window * fps)
        self.step = stride * fps
        for what, seconds in (('window', window), ('stride', stride)):
            if seconds * fps < 1 - 1e-9:
                raise ValueError(
                    f'{what} {seconds:g} s is shorter than one frame of '
                    f'{name!r} ({fps:g} fps); expected at least {1 / fps:g} s')
        self.model = model
        self.name = name
        self.fps = fps
        self.batch_size = batch_size
        self.bar: Optional[ProgressBar] = None
        self.thumbnails = thumbnails
        self.sampling, self.finishing = _clip_steps(model)
        self.frames: collections.deque = collections.deque(maxlen=self.size)
        self.rgb: Dict[int, np.ndarray] = {}
        self.buffers = _RGBBuffers()
        self.count = 0  # frames seen
        self.pending: List[tuple] = []  # (Window, packed sample)
        self.windows: List[Window] = []
        self.scores: List[np.ndarray] = []

    def start(self, k: int) -> int:
        """First frame of window ``k`` (rounded half up: starts strictly
        increase for a stride of at least one frame)."""
        return math.floor(k * self.step + 0.5)

    def expected(self, frames: int) -> int:
        """How many windows a video of ``frames`` frames gets."""
        k = 0
        while self.start(k) + self.size <= frames:
            k += 1
        last_end = self.start(k - 1) + self.size if k else 0
        return k + (last_end < frames)

    def add(self, frame: Any) -> None:
        """Take the next decoded frame; a window that ends with it is
        built."""
        self.frames.append(frame)
        self.count += 1
        k = len(self.windows) + len(self.pending)
        if self.start(k) + self.size == self.count:
            self.build(self.start(k), self.size)

    def finish(self) -> None:
        """At the stream's end: the window that reaches it, then the last
        batch."""
        done = len(self.windows) + len(self.pending)
        last_end = self.start(done - 1) + self.size if done else 0
        if last_end < self.count:
            size = min(self.size, self.count)
            self.build(self.count - size, size)
        self.run()

    def image(self, index: int) -> np.ndarray:
        """The RGB frame ``index`` (converted once, while it is held)."""
        if index not in self.rgb:
            frame = self.frames[index - (self.count - len(self.frames))]
            self.rgb[index] = self.buffers.convert(frame)
        return self.rgb[index]

    def build(self, start: int, size: int) -> None:
        """Sample window ``[start, start + size)`` as the test pipeline
        samples a clip and run the pipeline's steps after decoding."""
        oldest = self.count - len(self.frames)
        stale = [i for i in self.rgb if i < oldest]
        self.buffers.release([self.rgb.pop(i) for i in stale])
        results = dict(filename=self.name, label=-1, modality='RGB',
                       start_index=start, total_frames=size)
        for step in self.sampling:
            results = step(results)
        inds = np.asarray(results['frame_inds']).ravel()
        imgs = [self.image(int(i)) for i in inds]
        # What the pipeline's decoder adds.
        results.update(frame_inds=inds, imgs=imgs,
                       original_shape=imgs[0].shape[:2],
                       img_shape=imgs[0].shape[:2])
        try:
            for step in self.finishing:
                results = step(results)
        except Exception as err:
            raise BrokenVideoError(
                None, self.name, f'{type(step).__name__} failed on decoded '
                f'frames of size {imgs[0].shape[0]}x{imgs[0].shape[1]}: '
                f'{explain(err)}') from err
        meta = results['data_samples'].metainfo
        window = Window(start / self.fps, (start + size) / self.fps,
                        inds.reshape(meta['num_clips'], meta['clip_len']))
        index = len(self.windows) + len(self.pending)
        self.thumbnails.offer(index, (window.start + window.end) / 2,
                              imgs[len(imgs) // meta['num_clips'] // 2])
        self.pending.append((window, results))
        if len(self.pending) == self.batch_size:
            self.run()

    def run(self) -> None:
        """Score the pending windows in one model call."""
        if not self.pending:
            return
        results = predict_probabilities(self.model,
                                        [s for _, s in self.pending])
        self.windows += [w for w, _ in self.pending]
        self.scores += [r.pred_score.cpu().numpy() for r in results]
        if self.bar:
            self.bar.update(len(self.pending))
        self.pending = []


def _decode(container: Any, stream: Any, deadline: Deadline,
            run: _Pass) -> Optional[str]:
    """Demux and decode ``stream`` in order into ``run``, the decode budget
    checked between packets and charged with decoding only.

    Returns:
        str | None: Why decoding stopped before the end, or None.
    """
    packets = container.demux(stream)
    while True:
        try:
            deadline.check()
            packet = next(packets, None)
            if packet is None:
                return None
            frames = packet.decode()
        except BrokenVideoError as err:  # the budget
            return err.reason
        except (av.FFmpegError, OSError) as err:
            return explain(err)
        with deadline.paused():
            for frame in frames:
                run.add(frame)


def timeline(model: nn.Module,
             video: Union[str, BinaryIO],
             labels: Union[None, str, List[str]] = None,
             window: float = 2.0,
             stride: float = 1.0,
             threshold: Optional[float] = None,
             batch_size: int = 8,
             progress: bool = False,
             thumbnails: int = 0,
             name: Optional[str] = None) -> Timeline:
    """Score labels over sliding windows of a long video, in one pass.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (from
            :func:`init_xclip`); its test pipeline samples each window.
        video: A video file, or a binary stream read once from its start
            (e.g. ``sys.stdin.buffer``) in a container the gate allows and
            that needs no seeking (MPEG-TS, Matroska, ...).
        labels: Names or a label-map file; replaces the model's class set.
            None keeps the current one.
        window: Window length, seconds (> 0).
        stride: Seconds between window starts (> 0).
        threshold: Segments where the top probability is below it get the
            label None.
        batch_size: Windows per model call.
        progress: Show MMEngine's progress bar on stderr.
        thumbnails: Keep about this many evenly spaced thumbnails (for a
            picture of the timeline; 0: none).
        name: How to name the video in messages (default: the path, or the
            stream's name).

    Returns:
        Timeline: The windows, their scores and the segments. A stream that
        ends early, breaks or runs out of its decode budget keeps the
        windows scored so far (``complete`` False, the reason in
        ``notes``).

    Raises:
        ValueError: A window or stride that is not a positive number of
            seconds, or shorter than one frame; a bad threshold.
        BrokenVideoError: The video cannot be opened, has no video stream,
            or gives no frame at all.
    """
    _check_args(window, stride, threshold, batch_size)
    if labels is not None:
        model.set_class_names(labels)
    check_fusion(model)
    if isinstance(video, str):
        name = name or video
        deadline = Deadline(name, os.path.getsize(video)
                            if os.path.isfile(video) else 0)
        source: Any = video
    else:
        name = name or getattr(video, 'name', '<stream>')
        deadline = Deadline(name)
        source = _ReadOnce(video, deadline)
    with open_container(source, name) as container:
        if not container.streams.video:
            raise BrokenVideoError(None, name, 'the file has no video stream '
                                   '(audio only, or not a video)')
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise BrokenVideoError(None, name, 'the video stream declares no '
                                   'frame rate; expected a video')
        fps = float(rate)
        run = _Pass(model, name, fps, window, stride, batch_size,
                    _Thumbnails(thumbnails))
        if progress:  # stream.frames: 0 where the container does not say
            run.bar = ProgressBar(run.expected(stream.frames),
                                  file=sys.stderr)
        stopped = _decode(container, stream, deadline, run)
        if not run.count:
            raise BrokenVideoError(None, name, stopped or 'no frames '
                                   'decoded; expected a video with at least '
                                   'one frame')
        if stopped is None and stream.frames > run.count:
            stopped = (f'the stream ended after {run.count} of the '
                       f'{stream.frames} frames its header declares (a '
                       'truncated file?)')
        run.finish()
    notes = []
    if stopped is not None:
        notes.append(f'{name}: decoding stopped at {run.count / fps:.2f} s: '
                     f'{stopped}; the windows up to there are kept')
    if run.count < run.size:
        notes.append(f'{name}: the window ({window:g} s) is longer than the '
                     f'video ({run.count / fps:.2f} s); one window over all '
                     'of it')
    names = list(model.cls_head.class_names)
    scores = np.stack(run.scores)
    return Timeline(names, run.windows, scores,
                    find_segments(run.windows, scores, names, threshold),
                    fps, run.count, notes, stopped is None,
                    [(t, img) for _, t, img in run.thumbnails.items])
