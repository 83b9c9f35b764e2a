"""Decoding through the video gate: exact frames, sensible seeks, no hang.

:class:`GatedVideoInit` and :class:`GatedVideoDecode` are drop-in
replacements for MMAction2's ``DecordInit`` / ``DecordDecode`` (same keys:
``video_reader``, ``total_frames``, ``avg_fps``; ``imgs``,
``original_shape``, ``img_shape``). The video is opened by
:func:`~mmxclip.datasets.video_gate.open_container` (container allowlist,
demuxer pinned, ``file`` protocol only) and decoded by PyAV under a
:class:`~mmxclip.datasets.video_gate.Deadline` checked between packets, so
a file that would make a decoder loop (decord on an MPEG-TS remux) becomes
a :class:`BrokenVideoError` naming the file and the budget.

Frame ``i`` is the ``i``-th frame of a full sequential decode, as
``DecordDecode`` indexes them. Init reads the packet index (no decoding):
the frame count and which frames are keyframes. Decode visits the wanted
frames in order and seeks to the keyframe before a frame only when that
keyframe lies after the last decoded frame (seeking then skips decoding,
decoding forward would not); a seek that does not land on the keyframe it
asked for, or timestamps that do not identify frames, fall back to one
sequential decode from the start.
"""
import os
from typing import Dict, Iterator, List, Optional, Sequence

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from .broken_video import BrokenVideoError
from .video_gate import Deadline, open_container


class _SeekMissed(Exception):
    """A seek landed after the keyframe it asked for."""


class GatedReader:
    """A video opened through the gate, with its packet index and deadline.

    Args:
        path: Local video file.
        num_threads: Decoder threads (1: MMAction2's ``DecordInit``
            default; the data loader's workers are the parallelism).
        decode_budget: ``base_s`` / ``per_mb_s`` of the :class:`Deadline`;
            None: :func:`~mmxclip.datasets.video_gate.current_budget`.

    Raises:
        BrokenVideoError: Refused by the gate, no video stream, no frames,
            or the budget spent while reading the index.
    """

    def __init__(self, path: str, num_threads: int = 1,
                 decode_budget: Optional[Dict[str, float]] = None) -> None:
        self.name = path
        self.num_threads = num_threads
        self.deadline = Deadline(path, os.path.getsize(path) if
                                 os.path.isfile(path) else 0,
                                 **(decode_budget or {}))
        self._open()
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.fps = float(rate) if rate else None
        self._index()
        if not self.total_frames:
            raise BrokenVideoError(None, path, 'the video stream has no '
                                   'frames; expected a video')

    def _open(self) -> None:
        """(Re)open the container and set up its video stream."""
        self.container = open_container(self.name)
        if not self.container.streams.video:
            self.container.close()
            raise BrokenVideoError(None, self.name, 'the file has no video '
                                   'stream (audio only, or not a video)')
        self.stream = self.container.streams.video[0]
        self.stream.codec_context.thread_count = self.num_threads
        if self.num_threads != 1:
            self.stream.thread_type = 'AUTO'

    def _index(self) -> None:
        """Frame count, presentation timestamps and keyframes, from the
        packets (demuxed, not decoded)."""
        pts, keys = [], []
        packets = 0
        for packet in self.container.demux(self.stream):
            self.deadline.check()
            if packet.size == 0:
                continue  # the end-of-stream packet
            packets += 1
            if not packet.is_discard:  # edit-list drops are not frames
                pts.append(packet.pts)
                keys.append(packet.is_keyframe)
        listed = self.stream.frames  # the container's own count, 0: none
        if packets < listed:
            raise BrokenVideoError(
                None, self.name, f'the video stream ends after {packets} of '
                f'the {listed} frames its container lists (truncated file)')
        self.total_frames = len(pts)
        # Frame i is the frame of the i-th smallest timestamp, if every
        # packet has a distinct one and the first frame is a keyframe;
        # otherwise frames are only counted (sequential decoding).
        self._rank: Optional[Dict[int, int]] = None
        if (pts and None not in pts and len(set(pts)) == len(pts)):
            order = np.argsort(pts, kind='stable')
            sorted_pts = np.asarray(pts, np.int64)[order]
            keyframes = np.flatnonzero(np.asarray(keys)[order])
            if keyframes.size and keyframes[0] == 0:
                self._pts = sorted_pts
                self._keyframes = keyframes
                self._rank = {int(p): i for i, p in enumerate(sorted_pts)}

    def __len__(self) -> int:
        return self.total_frames

    def get_frames(self, frame_inds: Sequence[int]) -> List[np.ndarray]:
        """RGB frames at ``frame_inds`` (any order, repeats allowed).

        Returns:
            list[np.ndarray]: (H, W, 3) uint8 frames, in the order asked.

        Raises:
            ValueError: An index outside ``[0, total_frames)``.
            BrokenVideoError: The budget is spent, FFmpeg cannot decode the
                stream, or it ends before a frame the index promised.
        """
        import av
        inds = np.asarray(frame_inds, np.int64).ravel()
        if inds.size and (inds.min() < 0 or inds.max() >= self.total_frames):
            raise ValueError(
                f'{self.name!r}: frame indices {inds.min()}..{inds.max()} '
                f'outside [0, {self.total_frames})')
        wanted = [int(i) for i in np.unique(inds)]
        try:
            found = None
            if self._rank is not None:
                try:
                    found = self._seeking_decode(wanted)
                except _SeekMissed:
                    pass
            if found is None:
                self.container.close()
                self._open()
                found = self._sequential_decode(wanted)
        except av.FFmpegError as err:
            raise BrokenVideoError(
                None, self.name, f'FFmpeg cannot decode the video stream '
                f'({type(err).__name__}: {err})') from err
        return [found[i] for i in inds.tolist()]

    def _seeking_decode(self, wanted: List[int]) -> Optional[dict]:
        """The wanted frames by timestamp, seeking where that skips work;
        None if a decoded frame's timestamp is not in the index."""
        found = {}
        frames: Optional[Iterator] = None
        last = -1  # the last decoded frame
        for want in wanted:
            key = int(self._keyframes[np.searchsorted(
                self._keyframes, want, side='right') - 1])
            if frames is None or key > last + 1:
                frames = self._frames_from(key)
            for frame in frames:
                last = self._rank.get(frame.pts, -2)
                if last == -2 or last > want:
                    return None
                if last == want:
                    found[want] = frame.to_ndarray(format='rgb24')
                    break
            else:
                self._ended(want)
        return found

    def _frames_from(self, key: int) -> Iterator:
        """Decoded frames from keyframe ``key`` (by index) on.

        A seek to the keyframe's timestamp, or where that lands after it
        (MPEG-TS seeks land on the first packet after the timestamp, not on
        the keyframe before), a reopened container; packets before the
        keyframe are demuxed, not decoded.

        Raises:
            _SeekMissed: The reopened container does not reach it either.
        """
        target = int(self._pts[key])
        for reopen in (False, True):
            if reopen:
                self.container.close()
                self._open()
            else:
                self.container.seek(target, stream=self.stream, backward=True)
            started = False
            for packet in self.container.demux(self.stream):
                self.deadline.check()
                if not started:
                    if packet.pts is None or packet.pts > target:
                        break  # past the keyframe (or the end)
                    started = packet.is_keyframe and packet.pts == target
                    if not started:
                        continue
                yield from packet.decode()
            if started:
                return
        raise _SeekMissed

    def _sequential_decode(self, wanted: List[int]) -> dict:
        """The wanted frames by counting frames from the start."""
        found, todo = {}, set(wanted)
        count = 0
        for packet in self.container.demux(self.stream):
            self.deadline.check()
            for frame in packet.decode():
                if count in todo:
                    found[count] = frame.to_ndarray(format='rgb24')
                    if len(found) == len(todo):
                        return found
                count += 1
        self._ended(min(todo - set(found)))

    def _ended(self, want: int) -> None:
        raise BrokenVideoError(
            None, self.name, f'the video stream ends before frame {want} of '
            f'the {self.total_frames} its packets promise (truncated or '
            'corrupt)')

    def close(self) -> None:
        self.container.close()


def read_video_frames(path: str, frame_inds: Sequence[int],
                      num_threads: int = 1) -> np.ndarray:
    """RGB frames of a video through the gate (what
    :class:`GatedVideoDecode` returns), stacked.

    Returns:
        np.ndarray: (len(frame_inds), H, W, 3) uint8.
    """
    reader = GatedReader(path, num_threads)
    try:
        return np.stack(reader.get_frames(frame_inds))
    finally:
        reader.close()


@TRANSFORMS.register_module()
class GatedVideoInit(BaseTransform):
    """Open ``filename`` through the video gate (``DecordInit``'s keys).

    Args:
        num_threads: Decoder threads per video.
        decode_budget: ``dict(base_s=..., per_mb_s=...)``: seconds any
            video may take to index and decode, plus seconds per MiB of
            file. None: the budget in force
            (:func:`~mmxclip.datasets.video_gate.decode_budget`, default
            :data:`~mmxclip.datasets.video_gate.DEFAULT_BUDGET`).
    """

    def __init__(self, num_threads: int = 1,
                 decode_budget: Optional[Dict[str, float]] = None) -> None:
        if num_threads < 0:
            raise ValueError(f'num_threads must be >= 0 (0: FFmpeg '
                             f'chooses), got {num_threads}')
        if decode_budget is not None:
            keys = set(decode_budget)
            if not keys <= {'base_s', 'per_mb_s'} or any(
                    not isinstance(v, (int, float)) or v < 0
                    for v in decode_budget.values()):
                raise ValueError(
                    f'decode_budget must be dict(base_s=S, per_mb_s=S) with '
                    f'seconds >= 0, got {decode_budget!r}')
        self.num_threads = num_threads
        self.decode_budget = decode_budget

    def transform(self, results: Dict) -> Dict:
        """Add ``video_reader``, ``total_frames`` and ``avg_fps``."""
        reader = GatedReader(results['filename'], self.num_threads,
                             self.decode_budget)
        results['video_reader'] = reader
        results['total_frames'] = reader.total_frames
        results['avg_fps'] = reader.fps
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_threads={self.num_threads}, '
                f'decode_budget={self.decode_budget})')


@TRANSFORMS.register_module()
class GatedVideoDecode(BaseTransform):
    """Decode ``frame_inds`` of :class:`GatedVideoInit`'s reader
    (``DecordDecode``'s keys; the reader is closed)."""

    def transform(self, results: Dict) -> Dict:
        """Add ``imgs``, ``original_shape`` and ``img_shape``."""
        reader = results['video_reader']
        if not isinstance(reader, GatedReader):
            raise TypeError('GatedVideoDecode needs GatedVideoInit before '
                            f'it, got a {type(reader).__name__} reader')
        inds = np.squeeze(results['frame_inds'])
        if inds.ndim != 1:  # MMAction2's decoders squeeze (N, 1) to (N,)
            inds = inds.reshape(-1)
        results['frame_inds'] = inds
        try:
            imgs = reader.get_frames(inds)
        finally:
            reader.close()
            results['video_reader'] = None
        results['imgs'] = imgs
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        return results
