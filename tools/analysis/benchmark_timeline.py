"""Cost of a timeline: compute per minute of video, and peak memory
against the video's length.

    python tools/analysis/random_checkpoint.py configs/xclip_b16_k400.py \
        work_dirs/b16_random.pth
    python tools/analysis/benchmark_timeline.py work_dirs/b16_random.pth \
        --minutes 1 --decode-pass
    python tools/analysis/random_checkpoint.py configs/xclip_toy.py \
        work_dirs/toy_random.pth
    python tools/analysis/benchmark_timeline.py work_dirs/toy_random.pth \
        --minutes 10 60

Writes synthetic 720p videos (H.264, ``--fps``, a 2 s GOP; a 10 s piece of
sliding bars encoded once and repeated by stream copy, so a long video is
cheap to make) into ``--video-dir`` unless they are there, then runs
:func:`mmxclip.apis.timeline` (``--window``, ``--stride``) on each in a
fresh process and prints, per video: wall and CPU seconds of the timeline,
both per minute of video, with ``--decode-pass`` the wall seconds per minute
of a decode-only pass (demux and decode, nothing else), and the process's
resident memory after loading the model and its peak (``VmHWM``). Memory
that does not grow with the video shows as equal peaks.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional, Sequence

import numpy as np

PIECE_S = 10


def frame_width(height: int) -> int:
    """16:9, even (what H.264's 4:2:0 needs)."""
    return height * 16 // 9 // 2 * 2


def piece_frames(fps: int, height: int) -> np.ndarray:
    """A 10 s piece: bars sliding over a gradient, a square crossing."""
    width = frame_width(height)
    x = np.arange(width)
    base = np.broadcast_to((x * 255 // width).astype(np.uint8)[None, :, None],
                           (height, width, 3)).copy()
    side = height // 6
    frames = np.empty((PIECE_S * fps, height, width, 3), np.uint8)
    for t, frame in enumerate(frames):
        frame[:] = base
        frame[:, (x + 8 * t) % 160 < 40] = (200, 40, 40)
        left = t * (width - side) // len(frames)
        frame[side:2 * side, left:left + side] = (40, 200, 255)
    return frames


def synthetic_video(path: str, minutes: float, fps: int, height: int) -> str:
    """An H.264 mp4 of ``minutes``: the piece encoded once, then its
    packets repeated with shifted timestamps."""
    import av
    if osp.isfile(path):
        return path
    piece = path + '.piece.mp4'
    with av.open(piece, 'w') as out:
        stream = out.add_stream('libx264', rate=fps,
                                options=dict(g=str(2 * fps),
                                             preset='veryfast'))
        stream.height, stream.width = height, frame_width(height)
        stream.pix_fmt = 'yuv420p'
        for img in piece_frames(fps, height):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, 'rgb24')))
        out.mux(stream.encode())
    copies = int(np.ceil(minutes * 60 / PIECE_S))
    with av.open(piece) as source, av.open(path + '.tmp', 'w',
                                           format='mp4') as out:
        src = source.streams.video[0]
        dst = out.add_stream_from_template(src)
        packets = [p for p in source.demux(src) if p.size]
        step = int(round(PIECE_S / src.time_base))
        for i in range(copies):
            for p in packets:
                copy = av.Packet(bytes(p))
                copy.pts, copy.dts = p.pts + i * step, p.dts + i * step
                copy.is_keyframe = p.is_keyframe
                copy.time_base = src.time_base
                copy.stream = dst
                out.mux(copy)
    os.replace(path + '.tmp', path)
    os.remove(piece)
    return path


def memory_mib(key: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, MiB. (Not
    ``ru_maxrss``: Linux carries it over ``execve`` from the parent.)"""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) / 1024
    raise KeyError(key)


def decode_seconds(video: str) -> float:
    """Wall seconds of demuxing and decoding every frame, nothing else."""
    import av
    start = time.perf_counter()
    with av.open(video) as container:
        stream = container.streams.video[0]
        stream.thread_type = 'AUTO'
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - start


def measure(checkpoint: str, video: str, window: float, stride: float,
            batch_size: int, decode_pass: bool) -> dict:
    """One run, in this process (started fresh for it)."""
    import mmxclip  # noqa: F401
    from mmxclip.apis import init_xclip, timeline
    from mmxclip.datasets.video_gate import decode_budget
    decode_s = decode_seconds(video) if decode_pass else float('nan')
    model = init_xclip(checkpoint, ['a person walking', 'a car driving',
                                    'a dog running', 'nothing happens'])
    loaded = memory_mib('VmRSS')
    wall, cpu = time.perf_counter(), time.process_time()
    # No decode budget: on a busy machine a long, highly compressible
    # video's decoding outlasts the default one (10 s + 2 s per MiB).
    with decode_budget(1e9, 0):
        result = timeline(model, video, window=window, stride=stride,
                          batch_size=batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not result.complete:
        raise RuntimeError(' '.join(result.notes))
    peak = memory_mib('VmHWM')
    return dict(frames=result.frames, windows=len(result.windows),
                wall_s=wall, cpu_s=cpu, decode_s=decode_s,
                loaded_mib=loaded, peak_mib=peak,
                minutes=result.frames / result.fps / 60)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='e.g. from random_checkpoint.py')
    parser.add_argument('--minutes', type=float, nargs='+', default=[1.0])
    parser.add_argument('--fps', type=int, default=30)
    parser.add_argument('--height', type=int, default=720)
    parser.add_argument('--window', type=float, default=2.0)
    parser.add_argument('--stride', type=float, default=1.0)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--video-dir', default='work_dirs/timeline_videos')
    parser.add_argument('--decode-pass', action='store_true',
                        help='also time a decode-only pass of each video')
    parser.add_argument('--run', help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.run:
        print(json.dumps(measure(args.checkpoint, args.run, args.window,
                                 args.stride, args.batch_size,
                                 args.decode_pass)))
        return
    os.makedirs(args.video_dir, exist_ok=True)
    import torch
    print(f'{args.checkpoint}: window {args.window} s, stride '
          f'{args.stride} s, batch {args.batch_size}, {args.height}p '
          f'{args.fps} fps H.264, torch threads {torch.get_num_threads()}')
    print(f'{"minutes":>8} {"windows":>8} {"wall s":>8} {"wall/min":>9} '
          f'{"cpu/min":>8} {"decode/min":>10} {"loaded MiB":>10} '
          f'{"peak MiB":>9}')
    for minutes in args.minutes:
        video = synthetic_video(
            osp.join(args.video_dir, f'{args.height}p{args.fps}_'
                     f'{minutes:g}min.mp4'), minutes, args.fps, args.height)
        out = subprocess.run(
            [sys.executable, __file__, args.checkpoint, '--run', video,
             '--window', str(args.window), '--stride', str(args.stride),
             '--batch-size', str(args.batch_size)] +
            ['--decode-pass'] * args.decode_pass,
            capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        m = r['minutes']
        print(f'{m:>8.2f} {r["windows"]:>8} {r["wall_s"]:>8.1f} '
              f'{r["wall_s"] / m:>9.1f} {r["cpu_s"] / m:>8.1f} '
              f'{r["decode_s"] / m:>10.1f} {r["loaded_mib"]:>10.0f} '
              f'{r["peak_mib"]:>9.0f}', flush=True)


if __name__ == '__main__':
    main()
