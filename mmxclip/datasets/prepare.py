"""Re-encode a video dataset once for training (tools/data/prepare_videos.py).

Raw Kinetics videos are long-GOP H.264 at up to 1080p. Every clip the
pipelines sample makes decord seek back to the previous keyframe and decode
full-size frames that ``Resize`` then shrinks to a short side of 256.
Re-encoded once at the pipelines' short side with a keyframe every ``gop``
frames, the same clip decodes much faster (``docs/performance.md`` has the
figures).

What is kept: the relative path and file name (so annotation lists work
unchanged), every frame with its timestamp (so the frame count, the frame
rate and the duration, hence the frames the samplers pick, are the
source's), and the aspect ratio (up to rounding to even sizes, which H.264's
4:2:0 chroma needs). What changes: the video is H.264 (``libx264``,
``crf``, ``preset`` and ``tune`` as given) at short side ``short_side``
(never upscaled); audio, subtitles and metadata are dropped (no pipeline
reads them); a ``.webm`` name holds a Matroska file (WebM, a Matroska
subset, does not allow H.264; ffmpeg-based readers such as decord and PyAV
probe the content, not the name).

Encoding goes through PyAV (FFmpeg's libraries), so no ``ffmpeg`` binary is
needed.
"""
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .video_gate import open_container

# x264's ``fastdecode`` tune (CAVLC instead of CABAC, no deblocking filter):
# the train pipeline's prepared 1080p clip took 55-59 ms instead of 87-96 ms
# on one core; crf 22 instead of 23 buys back the deblocking's quality (PSNR
# against the area-shrunk source +0.2 dB over crf 23 untuned, -0.3 to -0.5
# dB at crf 23) for 20-24 % more bytes (docs/performance.md, "Data path").
DEFAULT_CRF = 22
DEFAULT_TUNE = 'fastdecode'

VIDEO_EXTS = ('.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.flv')
# Muxer for names whose own container cannot hold H.264.
_MUXER = {'.webm': 'matroska'}


@dataclass
class PrepareResult:
    """What happened to one video.

    Attributes:
        path: Path relative to the input folder.
        status: ``'done'``, ``'skipped'`` (output already complete) or
            ``'failed'``.
        reason: Why it failed (empty otherwise).
        in_bytes: Size of the source.
        out_bytes: Size of the output (0 when failed).
        frames: Frames written (0 when skipped or failed).
        size: Output (width, height), or None.
        seconds: Wall time spent.
    """
    path: str
    status: str
    reason: str = ''
    in_bytes: int = 0
    out_bytes: int = 0
    frames: int = 0
    size: Optional[Tuple[int, int]] = None
    seconds: float = 0.0


def output_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """(width, height) with the short side scaled to ``short_side``.

    Never upscales; both sides are rounded to even numbers (H.264 4:2:0).

    Args:
        width: Source width.
        height: Source height.
        short_side: Target short side (even).

    Returns:
        tuple: Output (width, height).
    """
    scale = min(1.0, short_side / min(width, height))
    return (max(2, round(width * scale / 2) * 2),
            max(2, round(height * scale / 2) * 2))


def partial_path(dst: str) -> str:
    """The temporary name a video is written under until it is complete;
    it keeps the extension so the muxer is chosen by it."""
    stem, ext = osp.splitext(dst)
    return f'{stem}.partial{ext}'


def find_videos(in_dir: str, exts: Sequence[str] = VIDEO_EXTS,
                exclude: Optional[str] = None
                ) -> Tuple[List[str], List[str]]:
    """Videos under ``in_dir`` (relative paths, sorted) and the other files.

    Linked folders are followed; a folder reached again (a link loop, or a
    second link to it) is walked once and listed among the other files as
    ``PATH/ (a link to ...)``, never dropped without a word.

    Args:
        in_dir: Dataset folder.
        exts: Video file extensions (lower case, with the dot).
        exclude: A folder not to read (the output folder, when it is inside
            ``in_dir``: its videos are outputs, not sources).

    Returns:
        tuple: (videos, other files), both relative to ``in_dir``.
    """
    videos, others = [], []
    skip = osp.realpath(exclude) if exclude else None
    walked = {osp.realpath(in_dir)}
    for root, dirs, files in os.walk(in_dir, followlinks=True):
        kept = []
        for name in sorted(dirs):
            target = osp.realpath(osp.join(root, name))
            if target == skip:
                continue
            if target in walked:
                others.append(osp.relpath(osp.join(root, name), in_dir) +
                              f'/ (a link to {target}, read once)')
                continue
            walked.add(target)
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            rel = osp.relpath(osp.join(root, name), in_dir)
            ext = osp.splitext(name)[1]
            (videos if ext.lower() in exts else others).append(rel)
    return videos, others


def reencode(src: str, dst: str, short_side: int = 256, gop: int = 16,
             crf: int = DEFAULT_CRF, preset: str = 'medium',
             tune: Optional[str] = DEFAULT_TUNE,
             threads: int = 0) -> Tuple[int, Tuple[int, int]]:
    """Re-encode one video to ``dst`` (written in place; see
    :func:`prepare_video` for the atomic, resumable version).

    Args:
        src: Source video.
        dst: Output path.
        short_side: Short side of the output.
        gop: Maximum frames between keyframes.
        crf: x264 constant rate factor (quality; lower is better, larger).
        preset: x264 preset (speed of encoding vs size).
        tune: x264 tune, or None for none.
        threads: Encoder and decoder threads (0: FFmpeg's choice).

    Returns:
        tuple: Frames written and the output (width, height).

    Raises:
        ValueError: No video stream, no decodable frame, or a frame count
            the output does not reproduce.
        BrokenVideoError: The source is refused by the video gate (not an
            allowed container) or FFmpeg cannot open it.
        av.error.FFmpegError: The source cannot be decoded.
    """
    import av
    ext = osp.splitext(dst)[1].lower()
    with open_container(src) as inp:
        if not inp.streams.video:
            raise ValueError('no video stream')
        stream = inp.streams.video[0]
        stream.thread_type = 'AUTO'
        stream.codec_context.thread_count = threads
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise ValueError('no frame rate in the video stream')
        size = output_size(stream.width, stream.height, short_side)
        frames = 0
        with av.open(dst, 'w', format=_MUXER.get(ext)) as out:
            enc = out.add_stream('libx264', rate=rate)
            enc.width, enc.height = size
            enc.pix_fmt = 'yuv420p'
            # The source's timestamps, unchanged: same frame times,
            # frame rate and duration (variable frame rate included).
            enc.time_base = enc.codec_context.time_base = stream.time_base
            enc.codec_context.gop_size = gop
            enc.codec_context.thread_count = threads
            enc.options = {'crf': str(crf), 'preset': preset,
                           **({'tune': tune} if tune else {})}
            for frame in inp.decode(stream):
                # swscale's area filter averages the pixels a shrunk pixel
                # covers (no aliasing when 1080p becomes 256).
                small = frame.reformat(*size, format='yuv420p',
                                       interpolation='AREA')
                small.pts, small.time_base = frame.pts, frame.time_base
                out.mux(enc.encode(small))
                frames += 1
            out.mux(enc.encode())
    if frames == 0:
        raise ValueError('no decodable video frame')
    with open_container(dst) as check:
        written = check.streams.video[0].frames
    if written not in (0, frames):  # 0: a container without a frame count
        raise ValueError(f'wrote {frames} frames but the output holds '
                         f'{written}')
    return frames, size


def prepare_video(in_dir: str, out_dir: str, rel: str, short_side: int = 256,
                  gop: int = 16, crf: int = DEFAULT_CRF,
                  preset: str = 'medium', tune: Optional[str] = DEFAULT_TUNE,
                  threads: int = 0) -> PrepareResult:
    """Re-encode ``in_dir/rel`` to ``out_dir/rel``, atomically and resumably.

    The video is written under :func:`partial_path` and renamed when
    complete, so an existing ``out_dir/rel`` is always complete and is
    skipped; an interrupted one is redone. Any failure is returned, not
    raised, so one broken video never stops the others.

    Args:
        in_dir: Source dataset folder.
        out_dir: Output dataset folder.
        rel: The video's path relative to both.
        short_side, gop, crf, preset, tune, threads: As for
            :func:`reencode`.

    Returns:
        PrepareResult: What happened.
    """
    src, dst = osp.join(in_dir, rel), osp.join(out_dir, rel)
    start = time.perf_counter()
    in_bytes = osp.getsize(src) if osp.isfile(src) else 0
    if osp.isfile(dst):
        return PrepareResult(rel, 'skipped', in_bytes=in_bytes,
                             out_bytes=osp.getsize(dst))
    tmp = partial_path(dst)
    os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
    try:
        frames, size = reencode(src, tmp, short_side, gop, crf, preset,
                                tune, threads)
        with open(tmp, 'rb') as f:  # on disk before it takes the name
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except Exception as err:  # any decoder / muxer error: report, go on
        if osp.exists(tmp):
            os.remove(tmp)
        lines = str(err).strip().splitlines()
        reason = f'{type(err).__name__}: {lines[0] if lines else err!r}'
        return PrepareResult(rel, 'failed', reason, in_bytes,
                             seconds=time.perf_counter() - start)
    return PrepareResult(rel, 'done', '', in_bytes, osp.getsize(dst), frames,
                         size, time.perf_counter() - start)


class _Task:
    """One video's job, picklable for worker processes."""

    def __init__(self, in_dir: str, out_dir: str, **options) -> None:
        self.in_dir, self.out_dir, self.options = in_dir, out_dir, options

    def __call__(self, rel: str) -> PrepareResult:
        return prepare_video(self.in_dir, self.out_dir, rel, **self.options)


def prepare_videos(in_dir: str, out_dir: str, videos: Sequence[str],
                   workers: int = 1, **options) -> List[PrepareResult]:
    """Re-encode ``videos`` with a progress bar (MMEngine's).

    Args:
        in_dir: Source dataset folder.
        out_dir: Output dataset folder (may not be ``in_dir``).
        videos: Paths relative to ``in_dir``.
        workers: Processes.
        **options: :func:`prepare_video` options.

    Returns:
        list: One :class:`PrepareResult` per video, in order.

    Raises:
        ValueError: ``out_dir`` is ``in_dir``, or ``workers < 1``.
    """
    from mmengine.utils import track_parallel_progress, track_progress
    if osp.realpath(in_dir) == osp.realpath(out_dir):
        raise ValueError(f'OUT_DIR must differ from IN_DIR ({in_dir}): the '
                         'sources are read while the outputs are written')
    if workers < 1:
        raise ValueError(f'--workers must be >= 1, got {workers}')
    # A source named like another's temporary output (x.partial.mp4 beside
    # x.mp4) would be taken for that output, or clobber it.
    temporary = {partial_path(v): v for v in videos}
    clashes = {v: PrepareResult(
        v, 'failed', f'its output name is the temporary name of the output '
        f'of {temporary[v]}; rename it') for v in videos if v in temporary}
    todo = [v for v in videos if v not in clashes]
    task = _Task(in_dir, out_dir, **options)
    if not todo:
        done = []
    elif workers > 1:
        # One thread per worker: the workers are the parallelism.
        task.options.setdefault('threads', 1)
        done = track_parallel_progress(task, todo, workers)
    else:
        done = track_progress(task, todo)
    results = dict(zip(todo, done), **clashes)
    return [results[v] for v in videos]
