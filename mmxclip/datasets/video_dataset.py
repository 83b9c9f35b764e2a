"""MMAction2's ``VideoDataset`` with clear errors and an opt-in skip.

:class:`RobustVideoDataset` runs whatever ``self.pipeline`` is (tools such as
MMAction2's ``browse_dataset.py`` replace it) through
:func:`~mmxclip.datasets.broken_video.load_clip`, so every failure becomes a
:class:`BrokenVideoError` that names the sample index, the file, the
transform that failed and what was expected. Decoded frames are checked
(H x W x 3 uint8, one shape per clip) by a :class:`CheckDecodedFrames` step
inserted right after MMAction2's decoding transform, so a mis-decoded video
cannot pass as a valid one.

Annotation lists are MMAction2's (``path label`` per line; ``path l1 l2 ...``
with ``multi_class``; a bare path for unlabeled lists), except that paths
may contain the delimiter: the label is the last field (the trailing integer
fields with ``multi_class``). A line that does not parse, and a label outside
``[0, num_classes)``, is an error naming the file and the line.

By default a broken video stops the run. ``skip_broken=True`` (training
only) logs each broken sample with its path and reason and substitutes a
random other sample; the substituted sample carries the skip in its
``data_samples`` metainfo (key :data:`SKIPPED_KEY`) so that
:class:`mmxclip.engine.SkippedSamplesHook` can count the skips of all
dataloader workers and ranks and log the total at the end of training.
"""
import logging
import os.path as osp
import re
from typing import Any, Iterator, List, Optional, Tuple, Union

from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS
from mmengine.fileio import exists, list_from_file
from mmengine.logging import print_log

from .broken_video import BrokenVideoError, load_clip
from .frame_check import add_frame_checks

SKIPPED_KEY = 'skipped_broken'
_INTEGER = re.compile(r'-?\d+')

Label = Union[None, int, List[int]]


@DATASETS.register_module()
class RobustVideoDataset(VideoDataset):
    """``VideoDataset`` that names broken videos and bad annotation lines,
    and can skip broken videos.

    Behaviour for short videos is MMAction2's: samplers loop over the frames
    of a video shorter than the clip (a 1-frame video gives a clip of one
    repeated frame); ``min_frames`` turns that into an error instead.
    Grayscale videos are decoded as three equal RGB channels.

    Args:
        *args: As for :class:`mmaction.datasets.VideoDataset`.
        skip_broken: Log and replace broken videos instead of raising. Only
            for training datasets (``test_mode=False``): in evaluation a
            replaced sample would be scored in place of the broken one.
        min_frames: When given, videos with fewer frames are broken.
        **kwargs: As for :class:`mmaction.datasets.VideoDataset`; with
            ``num_classes``, every label is checked against it.

    Raises:
        ValueError: ``skip_broken`` with ``test_mode=True``, ``min_frames <
            1`` or without a decoding transform, an annotation line that
            does not parse, or a label outside ``[0, num_classes)``.
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
        self.skip_broken = skip_broken
        super().__init__(*args, **kwargs)
        if not add_frame_checks(self.pipeline, min_frames):
            if min_frames is not None:
                raise ValueError(
                    f'min_frames={min_frames} needs a decoding transform '
                    '(GatedVideoDecode, DecordDecode, PyAVDecode, ...) in '
                    'the pipeline')
            print_log('RobustVideoDataset: no MMAction2 decoding transform '
                      'in the pipeline; decoded frames are not checked',
                      logger='current', level=logging.WARNING)

    def load_data_list(self) -> List[dict]:
        """Read the annotation list, checking labels if ``num_classes``.

        Returns:
            list[dict]: ``filename`` and ``label`` (-1 for unlabeled lines,
            as MMAction2) per sample.
        """
        exists(self.ann_file)
        prefix = self.data_prefix['video']
        data_list = []
        for line, path, label in self._annotations():
            if self.num_classes is not None:
                self._check_label(line, label, self.num_classes,
                                  'num_classes')
            if prefix is not None:
                path = osp.join(prefix, path)
            data_list.append(dict(filename=path,
                                  label=-1 if label is None else label))
        return data_list

    def check_labels(self, num_classes: int,
                     source: str = 'num_classes') -> None:
        """Check every label of the annotation list against a class count.

        Args:
            num_classes: Labels must lie in ``[0, num_classes)``.
            source: Where ``num_classes`` comes from, for the message.

        Raises:
            ValueError: Naming the file, the line and the label.
        """
        for line, _, label in self._annotations():
            self._check_label(line, label, num_classes, source)

    def _annotations(self) -> Iterator[Tuple[int, str, Label]]:
        """(line number, path, label) of each non-blank annotation line."""
        delim = self.delimiter
        for number, text in enumerate(list_from_file(self.ann_file), 1):
            text = text.strip()
            if not text:
                continue
            fields = text.split(delim)
            if self.multi_class:
                # The labels are the trailing integer fields.
                n = len(fields)
                while n > 1 and _INTEGER.fullmatch(fields[n - 1]):
                    n -= 1
                yield number, delim.join(fields[:n]), [
                    int(f) for f in fields[n:]
                ]
            elif len(fields) == 1:
                yield number, text, None  # unlabeled (MMAction2's -1)
            else:
                path, label = text.rsplit(delim, 1)
                if not _INTEGER.fullmatch(label):
                    raise ValueError(
                        f'{self.ann_file}, line {number}: {label!r} is not '
                        f'an integer label; expected "PATH{delim}LABEL" '
                        '(the label is the last field, so paths may contain '
                        f'{delim!r}), or a bare path for an unlabeled list')
                yield number, path, int(label)

    def _check_label(self, line: int, label: Label, num_classes: int,
                     source: str) -> None:
        """Refuse labels outside ``[0, num_classes)``."""
        labels = [label] if isinstance(label, int) else label or []
        bad = [v for v in labels if not 0 <= v < num_classes]
        if bad:
            raise ValueError(
                f'{self.ann_file}, line {line}: label {bad[0]} is outside '
                f'[0, {num_classes}) ({source}={num_classes}); expected class '
                f'indices 0 ... {num_classes - 1}')

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
                data = load_clip(self.pipeline, self.get_data_info(idx), idx)
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
