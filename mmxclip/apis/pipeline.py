"""X-CLIP's test pipeline (:func:`test_pipeline`, the one definition the
configs' copies are checked against), and a model's test pipeline run on one
video with named errors.

What :func:`~mmxclip.apis.recognize`, :func:`~mmxclip.apis.extract_features`
and the video index share: MMAction2's pipeline from ``model.cfg``, with
decoded-frame checks and the sampled frame indices kept in the metainfo.
"""
import copy
from typing import Any, Dict, List, Union

from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from torch import nn

from ..datasets import add_frame_checks, load_clip

# PackActionInputs' default meta_keys.
PACKED_META_KEYS = ('img_shape', 'img_key', 'video_id', 'timestamp')


def test_pipeline(num_frames: int,
                  resolution: int,
                  num_clips: int = 1,
                  num_crops: int = 1) -> List[Dict[str, Any]]:
    """X-CLIP's test pipeline with fixed views (decoding through the video
    gate: :class:`~mmxclip.datasets.GatedVideoInit`; MMAction2 transforms).

    One frame from each of ``num_frames`` segments per clip: the segment
    middle for one clip (the official single-view test), ``(k + 0.5) /
    num_clips`` of each segment for clip ``k`` of several
    (:class:`~mmxclip.datasets.SegmentSampleFrames` in test mode; the
    published multi-view test draws the clips at random instead); 1 crop:
    short side to ``resolution * 256 / 224`` and a centre crop; 3 crops:
    short side to ``resolution`` and three crops along the long side.

    Args:
        num_frames: Frames T per clip.
        resolution: Crop size.
        num_clips: Clips (temporal views) per video.
        num_crops: 1 or 3 spatial views.

    Returns:
        list[dict]: Pipeline config, ending in ``PackActionInputs`` with
        inputs (num_clips * num_crops, 3, T, H, W).
    """
    if num_crops == 1:
        crop = [dict(type='Resize', scale=(-1, resolution * 256 // 224)),
                dict(type='CenterCrop', crop_size=resolution)]
    elif num_crops == 3:
        crop = [dict(type='Resize', scale=(-1, resolution)),
                dict(type='ThreeCrop', crop_size=resolution)]
    else:
        raise ValueError(f'num_crops must be 1 or 3, got {num_crops}')
    return [
        dict(type='GatedVideoInit'),
        dict(type='SegmentSampleFrames', num_segments=num_frames,
             num_views=num_clips, test_mode=True),
        dict(type='GatedVideoDecode'),
        *crop,
        dict(type='FormatShape', input_format='NCTHW'),
        dict(type='PackActionInputs'),
    ]


def inference_pipeline(model: nn.Module) -> Compose:
    """``model.cfg.test_pipeline`` built, checking decoded frames and
    keeping ``frame_inds``, ``num_clips`` and ``clip_len`` in each sample's
    metainfo (which MMAction2's ``inference_recognizer`` drops).

    Args:
        model: A recognizer with ``cfg`` (from :func:`init_xclip` or
            MMAction2's ``init_recognizer``).

    Returns:
        Compose: The pipeline.

    Raises:
        ValueError: The pipeline does not end in ``PackActionInputs``.
    """
    init_default_scope(model.cfg.get('default_scope', 'mmaction'))
    steps = copy.deepcopy(list(model.cfg.test_pipeline))
    pack = steps[-1]
    if pack.get('type') != 'PackActionInputs':
        raise ValueError('model.cfg.test_pipeline must end in '
                         f'PackActionInputs, not {pack.get("type")!r}')
    pack['meta_keys'] = (*pack.get('meta_keys', PACKED_META_KEYS),
                         'frame_inds', 'num_clips', 'clip_len')
    pipeline = Compose(steps)
    add_frame_checks(pipeline)
    return pipeline


def load_video(pipeline: Compose, video: Union[str, Dict[str, Any]]) -> Dict:
    """One packed sample (``inputs``, ``data_samples``) of a video.

    Args:
        pipeline: From :func:`inference_pipeline`.
        video: Video file, or a pipeline input dict.

    Raises:
        BrokenVideoError: The video is missing, empty, not a video, has no
            video stream, or does not decode completely.
    """
    results = (dict(filename=video, label=-1, start_index=0, modality='RGB')
               if isinstance(video, str) else dict(video))
    return load_clip(pipeline, results)
