"""A pipeline step that checks decoded frames, so that a mis-decoded video
cannot pass as a valid clip."""
from typing import Optional

import numpy as np
from mmaction.datasets.transforms import (DecordDecode, OpenCVDecode,
                                          PIMSDecode, PyAVDecode,
                                          RawFrameDecode)
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose

from .broken_video import BrokenVideoError
from .gated_decode import GatedVideoDecode

# The transforms that turn a container into frames (``imgs``).
DECODERS = (GatedVideoDecode, DecordDecode, PyAVDecode, PIMSDecode,
            OpenCVDecode, RawFrameDecode)


@TRANSFORMS.register_module()
class CheckDecodedFrames(BaseTransform):
    """Refuse decoded frames that are not H x W x 3 uint8 of one shape.

    Placed right after the decoding transform (:func:`add_frame_checks`
    does it); decord returns 4-channel or oddly shaped frames for some
    sizes without raising.

    Args:
        min_frames: When given, videos with fewer frames are broken.
    """

    def __init__(self, min_frames: Optional[int] = None) -> None:
        if min_frames is not None and min_frames < 1:
            raise ValueError(f'min_frames must be >= 1, got {min_frames}')
        self.min_frames = min_frames

    def transform(self, results: dict) -> dict:
        """Check ``results['imgs']`` (and ``total_frames``).

        Raises:
            BrokenVideoError: Naming the file and what was expected.
        """
        path = results.get('filename', '<array>')
        total = results.get('total_frames')
        if total is not None and total < (self.min_frames or 1):
            raise BrokenVideoError(
                None, path, f'video has {total} frames, expected at least '
                f'{self.min_frames or 1} (min_frames)')
        imgs = results['imgs']
        shapes = {np.shape(img) for img in imgs}
        bad = [s for s in shapes if len(s) != 3 or s[2] != 3]
        if not len(imgs) or bad or len(shapes) > 1:
            raise BrokenVideoError(
                None, path, f'decoded frames have shapes {sorted(shapes)}, '
                'expected one (H, W, 3) shape for all frames')
        if imgs[0].dtype != np.uint8:
            raise BrokenVideoError(
                None, path, f'decoded frames are {imgs[0].dtype}, expected '
                'uint8')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(min_frames={self.min_frames})'


def add_frame_checks(pipeline: Compose,
                     min_frames: Optional[int] = None) -> int:
    """Insert :class:`CheckDecodedFrames` after each decoding transform.

    Args:
        pipeline: Built pipeline, changed in place.
        min_frames: As for :class:`CheckDecodedFrames`.

    Returns:
        int: How many checks were inserted (0: no MMAction2 decoder found).
    """
    steps = pipeline.transforms
    inserted = 0
    for i in reversed(range(len(steps))):
        if isinstance(steps[i], DECODERS):
            steps.insert(i + 1, CheckDecodedFrames(min_frames))
            inserted += 1
    return inserted
