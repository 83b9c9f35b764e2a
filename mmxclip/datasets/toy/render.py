"""Rendering a :class:`~mmxclip.datasets.toy.spec.VideoSpec` into frames
and writing them as an mp4 file."""
import os.path as osp
import tempfile

import cv2
import numpy as np

from .spec import SHAPES, VideoSpec

_SUPERSAMPLE = 4           # shapes are rasterised at 4x and area-downsampled
FPS = 8  # frames per second of the written videos


def _unit_shape(shape: str) -> np.ndarray:
    """Returns the vertices of a shape with circumradius 1, shape (N, 2)."""
    if shape == 'square':
        t = np.deg2rad([45.0, 135.0, 225.0, 315.0])
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if shape == 'rectangle':  # 2:1, 180-degree symmetric
        pts = np.array([[2.0, 1.0], [-2.0, 1.0], [-2.0, -1.0], [2.0, -1.0]])
        return pts / np.sqrt(5.0)
    if shape == 'triangle':  # isosceles, no rotational symmetry
        return np.array([[1.0, 0.0], [-0.6, 0.6], [-0.6, -0.6]])
    if shape == 'ellipse':  # aspect 0.55, 180-degree symmetric
        t = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
        return np.stack([np.cos(t), 0.55 * np.sin(t)], axis=1)
    if shape == 'kite':  # convex, no rotational symmetry
        return np.array([[1.0, 0.0], [-0.3, 0.65], [-0.7, 0.0], [-0.3, -0.65]])
    raise ValueError(f'Unknown shape {shape!r}; expected one of {SHAPES}.')


def render_video(spec: VideoSpec, size: int = 32) -> np.ndarray:
    """Renders a video spec into frames.

    Args:
        spec: The video to render.
        size: Frame height and width in pixels.

    Returns:
        uint8 array of shape ``(T, size, size, 3)`` in BGR order.
    """
    ss = _SUPERSAMPLE
    bg = np.empty((size, size, 3), np.float32)
    bg[:] = spec.bg_color
    if spec.noise_std > 0:
        noise_rng = np.random.default_rng(spec.noise_seed)
        noise = noise_rng.normal(0.0, spec.noise_std, bg.shape)
        bg += noise.astype(np.float32)
    color = np.asarray(spec.color, np.float32)
    unit = _unit_shape(spec.shape)
    canvas = np.zeros((size * ss, size * ss), np.uint8)
    shift = 4  # sub-pixel vertex precision for fillPoly
    frames = np.empty((len(spec.radii), size, size, 3), np.uint8)
    theta = np.deg2rad(spec.angle)
    c, s = np.cos(theta), np.sin(theta)
    shape = unit @ np.array([[c, -s], [s, c]]).T
    for t, (center, radius) in enumerate(zip(spec.centers, spec.radii)):
        pts = shape * radius + center  # pixel coordinates
        # Pixel i covers [i, i+1); map to the supersampled grid.
        pts_hr = np.round((pts * ss - 0.5) * (1 << shift)).astype(np.int32)
        canvas.fill(0)
        cv2.fillPoly(canvas, [pts_hr], 255, lineType=cv2.LINE_AA, shift=shift)
        alpha = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
        alpha = alpha.astype(np.float32)[..., None] / 255.0
        frame = bg * (1.0 - alpha) + color * alpha
        frames[t] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return frames


def write_video(path: str, frames: np.ndarray, fps: int = FPS) -> None:
    """Writes BGR frames to an mp4 file with OpenCV's 'mp4v' codec.

    Args:
        path: Output file path; its directory must exist.
        frames: uint8 array of shape ``(T, H, W, 3)`` in BGR order.
        fps: Frame rate stored in the container.

    Raises:
        RuntimeError: If OpenCV cannot open a writer for ``path``.
    """
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    if not writer.isOpened():
        raise RuntimeError(
            f'cv2.VideoWriter could not open {path!r} with fourcc "mp4v"; '
            'is OpenCV built with FFmpeg support?')
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def _check_decodable(size: int, num_frames: int) -> None:
    """Checks that decord can read an mp4v video with these dimensions.

    decord 0.6 silently mis-decodes some frame widths written by OpenCV's
    mp4v encoder (e.g. 16, 24, 48 and 72 give 4-channel frames and make
    ``VideoReader.get_batch`` fail), so probe the requested size once.
    Skipped if decord is not installed.
    """
    try:
        import decord
    except ImportError:
        return
    frames = np.zeros((min(num_frames, 4), size, size, 3), np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, 'probe.mp4')
        write_video(path, frames)
        try:
            reader = decord.VideoReader(path)
            batch = reader.get_batch(list(range(len(frames)))).asnumpy()
            ok = batch.shape == frames.shape
        except Exception:  # noqa: BLE001 - any decode failure means "bad"
            ok = False
        finally:
            reader = None  # release the file before the dir is removed
    if not ok:
        raise ValueError(
            f'size={size} produces mp4v videos that decord cannot decode '
            'correctly (a decord quirk: e.g. 16, 24, 48 and 72 fail); '
            'choose another size such as 32, 40, 56 or 64.')
