"""The video transforms of X-CLIP's recipe that MMAction2 lacks.

* :class:`SegmentSampleFrames`: the official sampling (one frame per
  segment, MMAction2's ``SampleFrames`` offsets) as clips of T frames, with
  the official random multi-view test draws.
* :class:`VideoColorJitter`: torchvision's ``ColorJitter`` on every frame,
  gated once per clip (official ``datasets/pipeline.py``). MMAction2's
  ``ColorJitter`` draws one set of factors per clip, fixes the order of the
  four operations for the whole run and scales hue differently.
* :class:`VideoGrayscale`: PIL's grayscale of every frame, gated once per
  clip (MMCV's ``RandomGrayscale`` truncates where PIL rounds).

The random gates use Python's ``random`` and the jitter torch's generator,
as the official code does, so the same seeds give the same frames.
"""
import os.path as osp
import random
import zlib
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

import numpy as np
import torchvision.transforms as T
import torchvision.transforms.functional as F
from mmaction.datasets.transforms import SampleFrames
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from PIL import Image


@TRANSFORMS.register_module()
class SegmentSampleFrames(SampleFrames):
    """One frame from each of T equal segments, as clips of T frames.

    X-CLIP samples with ``SampleFrames(clip_len=1, frame_interval=1,
    num_clips=T)``: in training a random frame of each of T segments of
    ``total // T`` frames, in test mode the middle of each of T segments of
    ``total / T`` frames. MMAction2's ``SampleFrames`` computes these
    offsets; this transform returns them as clips of T frames (``clip_len``
    T, ``num_clips`` = views) for ``FormatShape('NCTHW')``. (MMAction2's
    ``UniformSample`` splits the video into segments differently.)

    Several views: without ``test_mode``, ``num_views`` independent random
    draws, as the official multi-view test (``SampleFrames(...,
    multiview=N)`` without ``test_mode``). With ``test_mode``, fixed
    positions: view ``k`` takes the frame at ``(k + 0.5) / num_views`` of
    each segment (one view: the official middle).

    Args:
        num_segments: Frames T per clip.
        num_views: Clips per video.
        test_mode: Fixed positions instead of random draws.
        seed: For random draws: seed a generator with ``(seed, file name)``
            for each video instead of using the global ``np.random``, so a
            video's frames do not depend on workers, ranks or order. The
            file name without its folder, so the same videos elsewhere (a
            moved or re-encoded copy of the dataset) get the same frames.

    Raises:
        ValueError: ``num_segments`` or ``num_views`` below 1, or ``seed``
            with ``test_mode``.
    """

    def __init__(self,
                 num_segments: int,
                 num_views: int = 1,
                 test_mode: bool = False,
                 seed: Optional[int] = None) -> None:
        if num_segments < 1 or num_views < 1:
            raise ValueError('num_segments and num_views must be >= 1, got '
                             f'{num_segments} and {num_views}')
        if seed is not None and test_mode:
            raise ValueError('seed is for random draws; test_mode=True '
                             'samples fixed positions')
        super().__init__(clip_len=1, num_clips=num_segments,
                         test_mode=test_mode)
        self.num_views = num_views
        self.seed = seed

    def transform(self, results: Dict) -> Dict:
        """Add ``frame_inds`` (views x T), ``clip_len`` and ``num_clips``."""
        total = results['total_frames']
        if total < 1:
            raise ValueError(f'the video has no frames (total_frames='
                             f'{total}); expected at least 1')
        segments = self.num_clips
        if self.test_mode:
            length = total / segments
            offsets = [np.arange(segments) * length +
                       (k + 0.5) * length / self.num_views
                       for k in range(self.num_views)]
        else:
            with self._random(results):
                offsets = [self._get_train_clips(total, 1)
                           for _ in range(self.num_views)]
        inds = np.concatenate(offsets).astype(np.int64) % total
        results.update(
            frame_inds=(inds + results['start_index']).astype(np.int32),
            clip_len=segments,
            frame_interval=None,
            num_clips=self.num_views)
        return results

    @contextmanager
    def _random(self, results: Dict) -> Iterator[None]:
        """The global ``np.random``, or it seeded for this video."""
        if self.seed is None:
            yield
            return
        # SampleFrames draws from np.random: seed it, restore it after.
        state = np.random.get_state()
        key = zlib.crc32(osp.basename(str(results['filename'])).encode())
        np.random.seed([self.seed, key])
        try:
            yield
        finally:
            np.random.set_state(state)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_segments={self.num_clips}, '
                f'num_views={self.num_views}, test_mode={self.test_mode}, '
                f'seed={self.seed})')


def _frames(results: Dict, name: str) -> List[np.ndarray]:
    """The clip's frames, checked to be RGB uint8 (what PIL takes)."""
    imgs = results['imgs']
    bad = [i for i, img in enumerate(imgs)
           if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3]
    if bad:
        raise TypeError(f'{name} needs (H, W, 3) uint8 frames; frame '
                        f'{bad[0]} is {imgs[bad[0]].dtype} '
                        f'{imgs[bad[0]].shape}')
    return imgs


@TRANSFORMS.register_module()
class VideoColorJitter(BaseTransform):
    """torchvision's ``ColorJitter`` on a clip, gated once per clip.

    With probability ``p`` the clip is jittered. ``per_frame=True`` (X-CLIP's
    recipe) draws new brightness / contrast / saturation / hue factors and a
    new operation order for every frame; ``per_frame=False`` draws them once
    and applies the same to all frames of the clip.

    Args:
        p: Probability of jittering a clip.
        brightness: As torchvision's ``ColorJitter``.
        contrast: As torchvision's ``ColorJitter``.
        saturation: As torchvision's ``ColorJitter``.
        hue: As torchvision's ``ColorJitter``.
        per_frame: Draw the factors for each frame (else once per clip).
    """

    def __init__(self,
                 p: float = 0.8,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.2,
                 hue: float = 0.1,
                 per_frame: bool = True) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f'p must be in [0, 1], got {p}')
        self.p = p
        self.per_frame = per_frame
        self.jitter = T.ColorJitter(brightness, contrast, saturation, hue)

    def _draw(self) -> tuple:
        """Operation order and factors, from torch's generator."""
        j = self.jitter
        return j.get_params(j.brightness, j.contrast, j.saturation, j.hue)

    def transform(self, results: Dict) -> Dict:
        """Jitter ``imgs`` (uint8 RGB frames) with probability ``p``."""
        imgs = _frames(results, type(self).__name__)
        if random.random() >= self.p:
            return results
        # All draws before any frame: the same torch draws as the official
        # per-frame calls (applying the factors draws nothing).
        params = ([self._draw() for _ in imgs]
                  if self.per_frame else [self._draw()] * len(imgs))
        results['imgs'] = [
            np.asarray(_jitter(Image.fromarray(img), draw))
            for img, draw in zip(imgs, params)
        ]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(p={self.p}, {self.jitter!r}, ' \
               f'per_frame={self.per_frame})'


def _jitter(img: Image.Image, params: tuple) -> Image.Image:
    """torchvision's ``ColorJitter.forward`` with given parameters."""
    order, brightness, contrast, saturation, hue = params
    ops = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation,
           F.adjust_hue)
    factors = (brightness, contrast, saturation, hue)
    for i in order.tolist():
        if factors[i] is not None:
            img = ops[i](img, factors[i])
    return img


@TRANSFORMS.register_module()
class VideoGrayscale(BaseTransform):
    """All frames of a clip to 3-channel grayscale with probability ``p``.

    PIL's luma (ITU-R 601-2, rounded), as torchvision's ``Grayscale`` and
    the official ``GrayScale`` compute it.

    Args:
        p: Probability of converting a clip.
    """

    def __init__(self, p: float = 0.2) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f'p must be in [0, 1], got {p}')
        self.p = p

    def transform(self, results: Dict) -> Dict:
        """Convert ``imgs`` (uint8 RGB frames) with probability ``p``."""
        imgs = _frames(results, type(self).__name__)
        if random.random() < self.p:
            results['imgs'] = [
                np.asarray(F.rgb_to_grayscale(Image.fromarray(img), 3))
                for img in imgs
            ]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(p={self.p})'
