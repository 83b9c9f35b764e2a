"""MMAction2's ``VideoDataset`` with clear errors and an opt-in skip.

decord and mmaction report a broken video with messages that name neither
the file nor the sample (``RuntimeError: Error reading 1200 bytes...``,
``DECORDError ... Check failed: from_size == to_size``).
:class:`RobustVideoDataset` runs the same pipeline, but every failure becomes
a :class:`BrokenVideoError` that names the sample index, the file, the
transform that failed and what was expected. Decoded frames are checked
(H x W x 3 uint8, one shape per clip) right after the decoding transform, so
a mis-decoded video cannot pass as a valid one.

By default a broken video stops the run. ``skip_broken=True`` (training
only) logs each broken sample with its path and reason and substitutes a
random other sample; the substituted sample carries the skip in its
``data_samples`` metainfo (key :data:`SKIPPED_KEY`) so that
:class:`mmxclip.engine.SkippedSamplesHook` can count the skips of all
dataloader workers and ranks and log the total at the end of training.
"""
import logging
import os
import os.path as osp
from typing import Any, List, Optional

import numpy as np
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.logging import print_log

SKIPPED_KEY = 'skipped_broken'

# Cryptic decoder messages -> what they mean for the user.
_HINTS = (
    ('Error reading', 'not a readable video container (truncated, empty, '
     'not a video, or an unsupported codec)'),
    ('av_read_frame failed', 'the video stream ends early (truncated file)'),
    ('from_size == to_size', 'decord 0.6 mis-decodes this frame size (odd '
     'heights or widths, and some widths such as 24, fail); re-encode the '
     'video at a size that is a multiple of 8, or decode it with '
     'PyAVInit/PyAVDecode'),
)


class BrokenVideoError(RuntimeError):
    """A video that cannot be turned into a clip.

    Args:
        index: Sample index in the dataset.
        path: The video file.
        reason: What went wrong and what was expected.
    """

    def __init__(self, index: int, path: str, reason: str) -> None:
        super().__init__(f'sample {index} ({path!r}): {reason}')
        self.index = index
        self.path = path
        self.reason = reason


@DATASETS.register_module()
class RobustVideoDataset(VideoDataset):
    """``VideoDataset`` that names broken videos and can skip them.

    Behaviour for short videos is MMAction2's: samplers loop over the frames
    of a video shorter than the clip (a 1-frame video gives a clip of one
    repeated frame); ``min_frames`` turns that into an error instead.
    Grayscale videos are decoded by decord as three equal RGB channels.

    Args:
        *args: As for :class:`mmaction.datasets.VideoDataset`.
        skip_broken: Log and replace broken videos instead of raising. Only
            for training datasets (``test_mode=False``): in evaluation a
            replaced sample would be scored in place of the broken one.
        min_frames: When given, videos with fewer frames are broken.
        **kwargs: As for :class:`mmaction.datasets.VideoDataset`.

    Raises:
        ValueError: ``skip_broken`` with ``test_mode=True``, or
            ``min_frames < 1``.
    """

    def __init__(self,
                 *args: Any,
                 skip_broken: bool = False,
                 min_frames: Optional[int] = None,
                 **kwargs: Any) -> None:
        if skip_broken and kwargs.get('test_mode', False):
            raise ValueError(
                'skip_broken=True is for training datasets only: with '
                'test_mode=True a replacement would be scored in place of '
                'the broken video; fix or remove the video instead')
        if min_frames is not None and min_frames < 1:
            raise ValueError(f'min_frames must be >= 1, got {min_frames}')
        self.skip_broken = skip_broken
        self.min_frames = min_frames
        super().__init__(*args, **kwargs)

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output for sample ``idx``.

        With ``skip_broken``, a broken sample is logged and a random other
        one is returned, with the skipped paths and reasons under
        ``data_samples.metainfo[SKIPPED_KEY]``.

        Args:
            idx: Sample index.

        Returns:
            The packed sample (or None where a transform returns None).

        Raises:
            BrokenVideoError: The video is broken (and ``skip_broken`` is
                off, or ``max_refetch`` replacements were broken too).
        """
        skipped: List[dict] = []
        for _ in range(self.max_refetch + 1):
            try:
                data = self._load(idx)
            except BrokenVideoError as err:
                if not self.skip_broken:
                    raise
                skipped.append(dict(index=err.index, path=err.path,
                                    reason=err.reason))
                print_log(f'skip_broken: skipping {err}', logger='current',
                          level=logging.WARNING)
                idx = self._rand_another()
                continue
            if skipped and data is not None:
                data['data_samples'].set_metainfo({SKIPPED_KEY: skipped})
            return data
        raise BrokenVideoError(
            skipped[-1]['index'], skipped[-1]['path'],
            f'{skipped[-1]["reason"]}; {len(skipped)} broken samples in a '
            f'row (max_refetch={self.max_refetch})')

    def _load(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx``, naming the failing step."""
        results = self.get_data_info(idx)
        path = results['filename']
        self._check_file(idx, path)
        checked = False
        for transform in self.pipeline.transforms:
            try:
                results = transform(results)
            except Exception as err:
                step = type(transform).__name__
                if not checked:
                    reason = (f'{step} failed: {_explain(err)}; expected a '
                              'video file that decodes completely')
                else:
                    reason = (f'{step} failed on decoded frames of shape '
                              f'{shape}: {_explain(err)}; expected the '
                              'pipeline to accept frames of this size')
                raise BrokenVideoError(idx, path, reason) from err
            if results is None:
                return None
            if not checked and 'imgs' in results:
                self._check_frames(idx, path, results)
                checked = True
                shape = results['imgs'][0].shape
        return results

    @staticmethod
    def _check_file(idx: int, path: str) -> None:
        """Missing or empty local files, before any decoder sees them."""
        if '://' in path:
            return
        if not osp.isfile(path):
            raise BrokenVideoError(idx, path, 'video file not found')
        if os.stat(path).st_size == 0:
            raise BrokenVideoError(
                idx, path, 'video file is empty (0 bytes); expected a video')

    def _check_frames(self, idx: int, path: str, results: dict) -> None:
        """Decoded frames: H x W x 3 uint8, one shape, enough of them."""
        total = results.get('total_frames')
        if total is not None and total < (self.min_frames or 1):
            raise BrokenVideoError(
                idx, path, f'video has {total} frames, expected at least '
                f'{self.min_frames or 1} (min_frames)')
        imgs = results['imgs']
        shapes = {np.shape(img) for img in imgs}
        bad = [s for s in shapes if len(s) != 3 or s[2] != 3]
        if not imgs or bad or len(shapes) > 1:
            raise BrokenVideoError(
                idx, path, f'decoded frames have shapes {sorted(shapes)}, '
                'expected one (H, W, 3) shape for all frames')
        if imgs[0].dtype != np.uint8:
            raise BrokenVideoError(
                idx, path, f'decoded frames are {imgs[0].dtype}, expected '
                'uint8')


def _explain(err: Exception) -> str:
    """The exception's type and first line, with a hint where one is known."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    text = f'{type(err).__name__}: {lines[0]}' if lines else repr(err)
    hints = [hint for key, hint in _HINTS if key in str(err)]
    return f'{hints[0]} ({text})' if hints else text
