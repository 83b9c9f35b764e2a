"""Videos written with PyAV for the timeline tests: any codec and
container, streams, lossless copies and files cut short."""
from typing import Optional

import av
import numpy as np


def encode(path: str, frames: np.ndarray, codec: str = 'mpeg4',
           pix_fmt: str = 'yuv420p', fmt: Optional[str] = None,
           options: Optional[dict] = None, fps: int = 8) -> str:
    """Write RGB frames (N, H, W, 3); ``codec='rawvideo', pix_fmt='bgr24'``
    in an AVI stores them losslessly (decord reads them back bit for
    bit)."""
    out = av.open(path, 'w', format=fmt, options=options or {})
    stream = out.add_stream(codec, rate=fps)
    stream.height, stream.width = frames.shape[1:3]
    stream.pix_fmt = pix_fmt
    for img in frames:
        out.mux(stream.encode(av.VideoFrame.from_ndarray(img, 'rgb24')))
    out.mux(stream.encode())
    out.close()
    return path


def noise(num_frames: int, seed: int, size: int = 32) -> np.ndarray:
    """Random RGB frames (num_frames, size, size, 3)."""
    return np.random.default_rng(seed).integers(
        0, 255, (num_frames, size, size, 3), np.uint8)


def cut_short(folder: str, num_frames: int, keep: float,
              seed: int = 0) -> tuple:
    """An mp4 of noise with its index in front, and a copy cut after
    ``keep`` of its bytes: a file whose header declares more frames than
    decode.

    Returns:
        tuple: The whole file's path and the cut one's.
    """
    whole = encode(f'{folder}/whole.mp4', noise(num_frames, seed),
                   options=dict(movflags='faststart'))
    with open(whole, 'rb') as f:
        data = f.read()
    cut = f'{folder}/cut.mp4'
    with open(cut, 'wb') as f:
        f.write(data[:int(len(data) * keep)])
    return whole, cut
