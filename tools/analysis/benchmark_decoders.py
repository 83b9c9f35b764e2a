#!/usr/bin/env python
"""Which video decoder: exactness, speed and hangs on the pipelines' access.

Generates the inputs with PyAV (cached in ``--work-dir``): raw long-GOP
1080p H.264 (one keyframe), its ``prepare_videos.py`` output (256 px, a
keyframe every 16 frames), variable frame rate H.264, MPEG-TS (the
prepared clip remuxed, and ``tests/fixtures/videos/test_mpegts.ts``,
MMAction2's test.mp4 remuxed), AVI/MJPEG and WebM/VP9. Each decoder opens
each input afresh for 8, 16 and 32 frames at the segment middles (the test
pipelines' ``SegmentSampleFrames``), as a data loader does per sample, in a
subprocess with a timeout (a hang is reported, not waited for), on one
thread. Exactness: every returned frame is compared, shrunk, with all
frames of a full sequential PyAV decode; it is exact when the nearest one
is the frame asked for (colour conversions differ slightly between
decoders, so not bit for bit) and the frame counts agree. Prints a table::

    python tools/analysis/benchmark_decoders.py \
        --candidates /tmp/decoders   # pip install --target /tmp/decoders \
                                     #     decord2 torchcodec

``decord2`` installs a module named ``decord``, so the candidates live in
their own folder and only the subprocess that measures them sees it;
torchcodec also needs FFmpeg's shared libraries (4 to 8) on the system.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, TextIO

import numpy as np

from mmxclip.datasets.video_gate import open_container, probe_container

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_data import synthetic_clip  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DECODERS = ('pyav-gated', 'decord', 'decord2', 'torchcodec')
COUNTS = (8, 16, 32)
THUMB = 64  # width of the frames compared for exactness


def make_inputs(work_dir: str, seconds: float) -> Dict[str, str]:
    """The test videos (cached), by name."""
    from mmxclip.datasets.prepare import prepare_video
    os.makedirs(work_dir, exist_ok=True)
    paths = {}
    raw = osp.join(work_dir, 'raw_1080p.mp4')
    if not osp.isfile(raw):
        synthetic_clip(raw, 1920, 1080, seconds)
    paths['raw 1080p, GOP 250'] = raw
    prep_dir = osp.join(work_dir, 'prepared')
    prepare_video(work_dir, prep_dir, osp.basename(raw), short_side=256)
    prepared = osp.join(prep_dir, osp.basename(raw))
    paths['prepared 256p, GOP 16'] = prepared
    small = osp.join(work_dir, 'small.mp4')
    if not osp.isfile(small):
        synthetic_clip(small, 340, 256, seconds, gop=32)
    with open_container(small) as src:
        frames = [f.to_ndarray(format='rgb24') for f in src.decode(video=0)]
    jobs = {
        'vfr 256p': ('vfr.mp4', 'mp4', 'libx264', {}),
        'AVI / MJPEG': ('mjpeg.avi', 'avi', 'mjpeg', {}),
        'WebM / VP9': ('vp9.webm', 'webm', 'libvpx-vp9',
                       {'deadline': 'realtime', 'cpu-used': '8'}),
    }
    for name, (file, fmt, codec, options) in jobs.items():
        path = osp.join(work_dir, file)
        if not osp.isfile(path):
            _encode(path, fmt, codec, options, frames, vfr=name == 'vfr 256p')
        paths[name] = path
    ts = osp.join(work_dir, 'prepared.ts')
    if not osp.isfile(ts):
        sys.path.insert(0, osp.join(ROOT, 'tests', 'fixtures'))
        from make_video_fixtures import remux
        remux(prepared, ts)
    paths['MPEG-TS (prepared, remuxed)'] = ts
    paths["MPEG-TS (MMAction2's test.mp4)"] = osp.join(
        ROOT, 'tests', 'fixtures', 'videos', 'test_mpegts.ts')
    return paths


def _encode(path: str, fmt: str, codec: str, options: dict,
            frames: List[np.ndarray], vfr: bool) -> None:
    """``frames`` encoded; with ``vfr`` at irregular times (1/1000 s)."""
    import av
    with av.open(path, 'w', format=fmt) as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = 'yuvj420p' if codec == 'mjpeg' else 'yuv420p'
        stream.options = options
        if vfr:
            stream.time_base = stream.codec_context.time_base = Fraction(
                1, 1000)
        pts = 0
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, 'rgb24')
            if vfr:  # 20 to 60 ms between frames
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += 20 + (i * 37) % 41
            out.mux(stream.encode(frame))
        out.mux(stream.encode())


def thumb(img: np.ndarray) -> np.ndarray:
    """A frame shrunk to :data:`THUMB` px wide (area), as float32."""
    import cv2
    h = max(1, round(img.shape[0] * THUMB / img.shape[1]))
    return cv2.resize(img, (THUMB, h),
                      interpolation=cv2.INTER_AREA).astype(np.float32)


def reference(path: str, cache: str) -> np.ndarray:
    """Thumbnails of all frames of a sequential PyAV decode (cached)."""
    if not osp.isfile(cache):
        with open_container(path) as c:
            np.save(cache, np.stack([thumb(f.to_ndarray(format='rgb24'))
                                     for f in c.decode(video=0)]))
    return np.load(cache)


def segment_middles(total: int, n: int) -> np.ndarray:
    """``SegmentSampleFrames(n, test_mode=True)``'s indices."""
    return ((np.arange(n) + 0.5) * total / n).astype(np.int64)


def decode(decoder: str, path: str, inds: np.ndarray):
    """(frame count, RGB frames at ``inds``), one thread, a fresh open.
    The candidates open the file themselves (the measurement), after the
    gate's probe."""
    probe_container(path)
    if decoder == 'pyav-gated':
        from mmxclip.datasets.gated_decode import GatedReader
        reader = GatedReader(path)
        return len(reader), reader.get_frames(inds)
    if decoder in ('decord', 'decord2'):
        import decord
        reader = decord.VideoReader(path, num_threads=1)
        return len(reader), list(reader.get_batch(list(inds)).asnumpy())
    from torchcodec.decoders import VideoDecoder
    reader = VideoDecoder(path, num_ffmpeg_threads=1, seek_mode='exact',
                          dimension_order='NHWC')
    return len(reader), list(reader.get_frames_at(
        [int(i) for i in inds]).data.numpy())


def worker(decoder: str, path: str, ref_path: str) -> None:
    """Measure one decoder on one input; JSON lines on stdout."""
    ref = np.load(ref_path)
    total = len(ref)
    for n in COUNTS:
        inds = segment_middles(total, n)
        start = time.perf_counter()
        count, frames = decode(decoder, path, inds)
        seconds = time.perf_counter() - start
        exact = 0
        for i, img in zip(inds, frames):
            if img.ndim != 3 or img.shape[2] != 3:
                continue
            diff = np.abs(ref - thumb(img)[None]).mean(axis=(1, 2, 3))
            exact += int(diff.argmin() == i and diff[i] < 3)
        print(json.dumps(dict(n=n, count=count, seconds=seconds,
                              exact=exact)), flush=True)


def measure(decoder: str, path: str, ref_path: str, timeout: float,
            candidates: Optional[str]) -> dict:
    """The worker in a subprocess: its rows, or why it gave none."""
    first = candidates if decoder in ('decord2', 'torchcodec') else None
    path_dirs = (first, ROOT, os.environ.get('PYTHONPATH'))
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(p for p in path_dirs if p))
    cmd = [sys.executable, osp.abspath(__file__), '--worker', decoder, path,
           ref_path]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        rows = [json.loads(line) for line in out.splitlines()]
        return dict(rows=rows, error=f'HANG (killed after {timeout:.0f} s)')
    rows = [json.loads(line) for line in out.splitlines()
            if line.startswith('{')]
    error = None
    if proc.returncode:
        lines = [line for line in err.splitlines() if line.strip()]
        error = 'error: ' + (lines[-1][:90] if lines else f'exit '
                             f'{proc.returncode}')
    return dict(rows=rows, error=error)


def format_table(results: Dict[str, Dict[str, dict]],
                 totals: Dict[str, int]) -> str:
    """One row per (input, decoder)."""
    head = ['input', 'decoder', 'frames'] + [
        f'{n} frames ms (exact)' for n in COUNTS]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for name, by_decoder in results.items():
        for decoder, result in by_decoder.items():
            rows = {r['n']: r for r in result['rows']}
            count = (rows[COUNTS[0]]['count'] if rows else None)
            cells = [name, decoder,
                     '–' if count is None else
                     f'{count}' + ('' if count == totals[name] else
                                   f' (WRONG: {totals[name]})')]
            for n in COUNTS:
                if n in rows:
                    r = rows[n]
                    cells.append(f"{1000 * r['seconds']:.0f} "
                                 f"({r['exact']}/{n})")
                else:
                    cells.append(result['error'] or '–')
            lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/benchmark_decoders')
    parser.add_argument('--decoders', nargs='+', choices=DECODERS,
                        default=list(DECODERS))
    parser.add_argument('--candidates',
                        help='folder holding decord2 / torchcodec (pip '
                        'install --target DIR decord2 torchcodec)')
    parser.add_argument('--seconds', type=float, default=4.0,
                        help='duration of the generated videos')
    parser.add_argument('--timeout', type=float, default=60.0,
                        help='seconds one decoder may take on one input')
    parser.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None,
         out: TextIO = sys.stdout) -> dict:
    """Run the benchmark, print the table; the results."""
    args = parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return {}
    inputs = make_inputs(args.work_dir, args.seconds)
    results, totals = {}, {}
    for name, path in inputs.items():
        # By input: the prepared clip has the raw clip's file name.
        ref_path = osp.join(args.work_dir,
                            re.sub(r'\W+', '_', name) + '.reference.npy')
        totals[name] = len(reference(path, ref_path))
        results[name] = {
            d: measure(d, path, ref_path, args.timeout, args.candidates)
            for d in args.decoders
        }
    load = os.getloadavg()
    print(format_table(results, totals), file=out)
    print(f'\nms: open + decode, 1 thread, a fresh open per sample; '
          f'{os.cpu_count()} cores, load average {load[0]:.2f} / '
          f'{load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)', file=out)
    return results


if __name__ == '__main__':
    main()
