"""Run a video pipeline so that any failure names the file and the step.

decord and mmaction report a broken video with messages that name neither
the file nor the sample (``RuntimeError: Error reading 1200 bytes...``,
``DECORDError ... Check failed: from_size == to_size``). :func:`load_clip`
calls a pipeline as it is, whatever object it is (MMEngine's ``Compose``,
a tool's replacement such as MMAction2's ``InspectCompose``), and turns
every failure into a :class:`BrokenVideoError` naming the file, the sample
index, the transform that failed and what was expected.

Before any transform runs, the file passes the video gate's container
probe (:func:`~mmxclip.datasets.video_gate.probe_container`), whatever the
pipeline decodes with, so MMAction2's own ``DecordInit`` / ``PyAVInit``
never see a playlist, a concat list or a URL. An MPEG transport stream is
refused under ``DecordInit``: decord 0.6 can loop forever on one, and
nothing can stop it from outside; mmxclip's ``GatedVideoInit`` decodes it.
"""
import os
import os.path as osp
import traceback
from typing import Any, Callable, Optional, Tuple

# Cryptic decoder messages -> what they mean for the user.
_HINTS = (
    ('Error reading', 'not a readable video container (truncated, empty, '
     'not a video, or an unsupported codec)'),
    ('cannot find video stream', 'the file has no video stream (audio only, '
     'or not a video)'),
    ('av_read_frame failed', 'the video stream ends early (truncated file)'),
    ('from_size == to_size', 'decord 0.6 mis-decodes this frame size (odd '
     'heights or widths, and some widths such as 24, fail); re-encode the '
     'video at a size that is a multiple of 8, or decode it with '
     'PyAVInit/PyAVDecode'),
)


class BrokenVideoError(RuntimeError):
    """A video that cannot be turned into a clip.

    Args:
        index: Sample index in the dataset; None outside a dataset.
        path: The video file.
        reason: What went wrong and what was expected.
    """

    def __init__(self, index: Optional[int], path: str, reason: str) -> None:
        where = repr(path) if index is None else f'sample {index} ({path!r})'
        super().__init__(f'{where}: {reason}')
        self.index = index
        self.path = path
        self.reason = reason


def load_clip(pipeline: Callable[[dict], Any],
              results: dict,
              index: Optional[int] = None) -> Any:
    """``pipeline(results)``, with every failure a :class:`BrokenVideoError`.

    Missing, empty and refused files (not an allowed container; a URL; an
    MPEG-TS under ``DecordInit``) are refused before any decoder sees them.
    The failing step is the outermost transform on the traceback, so a step
    inside ``RandomApply`` is reported as ``RandomApply``, as the pipeline
    lists it.

    Args:
        pipeline: Any callable over a results dict.
        results: The sample's info, with ``filename``.
        index: Sample index, for the message.

    Returns:
        The pipeline's output.

    Raises:
        BrokenVideoError: The video could not be made into a clip.
    """
    path = results['filename']
    _check_file(index, path, pipeline)
    try:
        return pipeline(results)
    except BrokenVideoError as err:  # a check inside the pipeline
        raise BrokenVideoError(index, path, err.reason) from err
    except Exception as err:
        step, inputs = _failing_step(err)
        shape = inputs.get('original_shape') if isinstance(inputs,
                                                           dict) else None
        if shape is None:
            reason = (f'{step} failed: {explain(err)}; expected a video file '
                      'that decodes completely')
        else:
            reason = (f'{step} failed on decoded frames of size '
                      f'{shape[0]}x{shape[1]}: {explain(err)}; expected the '
                      'pipeline to accept frames of this size')
        raise BrokenVideoError(index, path, reason) from err


def _check_file(index: Optional[int], path: str,
                pipeline: Callable[[dict], Any]) -> None:
    """The video gate's probe, and MPEG-TS kept from ``DecordInit``."""
    # video_gate imports this module (BrokenVideoError).
    from mmaction.datasets.transforms import DecordInit

    from .video_gate import probe_container
    if osp.isfile(path) and os.stat(path).st_size == 0:
        raise BrokenVideoError(
            index, path, 'video file is empty (0 bytes); expected a video')
    try:
        kind = probe_container(path)
    except BrokenVideoError as err:
        raise BrokenVideoError(index, path, err.reason) from err
    steps = getattr(pipeline, 'transforms', ())
    if kind == 'mpegts' and any(isinstance(t, DecordInit) for t in steps):
        raise BrokenVideoError(
            index, path, 'an MPEG transport stream is refused under '
            'DecordInit: decord 0.6 can loop forever on MPEG-TS (decord '
            'issues #269, #373) and cannot be stopped; decode it with '
            "GatedVideoInit / GatedVideoDecode (mmxclip's default "
            'pipelines; docs/video_gate.md) or remux it to MP4')


def _failing_step(err: Exception) -> Tuple[str, Any]:
    """The outermost transform on the traceback and its input.

    Found on the traceback rather than by running the transforms one by one
    here, so the pipeline object runs unchanged.
    """
    from mmcv.transforms import BaseTransform
    for frame, _ in traceback.walk_tb(err.__traceback__):
        step = frame.f_locals.get('self')
        if isinstance(step, BaseTransform):
            return type(step).__name__, frame.f_locals.get('results')
    return 'the pipeline', None


def explain(err: Exception) -> str:
    """The exception's type and first line, with a hint where one is known."""
    lines = [line for line in str(err).splitlines() if line.strip()]
    text = f'{type(err).__name__}: {lines[0]}' if lines else repr(err)
    hints = [hint for key, hint in _HINTS if key in str(err)]
    return f'{hints[0]} ({text})' if hints else text
