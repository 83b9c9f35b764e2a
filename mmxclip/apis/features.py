"""Video embeddings: what X-CLIP computes for a video before any text.

The quantities are the recognizer's own, computed by the same modules in
the same order as ``predict`` (:meth:`XCLIPRecognizer.integrate`,
:meth:`XCLIPTextHead.visual_tokens`), batched over videos.
"""
import sys
from typing import (Any, Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, TextIO, Tuple, Union)

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from torch import Tensor, nn

from ..datasets import BrokenVideoError
from .pipeline import inference_pipeline, load_video

Video = Union[str, Dict[str, Any]]
# The class set of a model built for its video side only (features, an
# index): no tool that scores no text may need class names, and the names'
# tokens are no part of the state dict, so they change no fingerprint.
NO_TEXT = ('a video', )


class VideoFeatures(NamedTuple):
    """One video's features, V views (the test pipeline's clips x crops, in
    the order of its ``FormatShape``), T frames, N patches, E channels.

    Attributes:
        frame_embeddings: (V, T, E) CCT's projected class token of each
            frame: MIT's input.
        view_embeddings: (V, E) each view's video embedding after MIT: the
            head's video input, one per view as ``predict`` scores them.
        visual_tokens: (V, N, E) the prompt generator's visual input: patch
            tokens layer-normed, averaged over time and projected
            (:meth:`XCLIPTextHead.visual_tokens`).
        video_embedding: (E,) the mean of ``view_embeddings`` over the
            views: one vector per video (retrieval, clustering).
            ``predict`` does not average embeddings; it scores every view
            and averages the scores as ``cls_head.average_clips`` says.
        frame_inds: (num_clips, T) indices of the frames sampled.
    """
    frame_embeddings: Tensor
    view_embeddings: Tensor
    visual_tokens: Tensor
    video_embedding: Tensor
    frame_inds: np.ndarray


def encode_batch(model: nn.Module, samples: List[Dict]) -> List[VideoFeatures]:
    """Features of packed samples (:func:`load_video`), one batch.

    Args:
        model: An :class:`XCLIPRecognizer`.
        samples: Packed samples of one pipeline (equal view counts).

    Returns:
        list[VideoFeatures]: One per sample, on the CPU.
    """
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate(samples), False)
        inputs = data['inputs']  # (B, V, C, T, H, W)
        frames, tokens = model.backbone.forward_features(inputs.flatten(0, 1))
        video = model.integrate(frames)
        visual = model.cls_head.visual_tokens(tokens)
    b, v = inputs.shape[:2]
    frames, video, visual = (x.unflatten(0, (b, v)).cpu()
                             for x in (frames, video, visual))
    out = []
    for i, sample in enumerate(data['data_samples']):
        meta = sample.metainfo
        inds = np.asarray(meta['frame_inds']).reshape(meta['num_clips'],
                                                      meta['clip_len'])
        out.append(VideoFeatures(frames[i], video[i], visual[i],
                                 video[i].mean(dim=0), inds))
    return out


def iter_features(model: nn.Module,
                  videos: Sequence[Video],
                  batch_size: int = 8
                  ) -> Iterator[Tuple[Video, Union[VideoFeatures,
                                                   BrokenVideoError]]]:
    """Each video's features, or why it has none, in order.

    A broken video does not stop the others: it comes out with its
    :class:`~mmxclip.datasets.BrokenVideoError`.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (:func:`init_xclip`).
        videos: Video files or pipeline input dicts.
        batch_size: Videos encoded together.

    Yields:
        tuple: ``(video, VideoFeatures or BrokenVideoError)``.
    """
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    pipeline = inference_pipeline(model)
    for start in range(0, len(videos), batch_size):
        chunk = videos[start:start + batch_size]
        loaded: List[Union[Dict, BrokenVideoError]] = []
        for video in chunk:
            try:
                loaded.append(load_video(pipeline, video))
            except BrokenVideoError as err:
                loaded.append(err)
        good = [x for x in loaded if not isinstance(x, BrokenVideoError)]
        feats = iter(encode_batch(model, good) if good else [])
        for video, item in zip(chunk, loaded):
            yield video, (item if isinstance(item, BrokenVideoError) else
                          next(feats))


def extract_features(model: nn.Module,
                     videos: Sequence[Video],
                     batch_size: int = 8) -> List[VideoFeatures]:
    """The features of each video (:class:`VideoFeatures`).

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (:func:`init_xclip`).
        videos: Video files or pipeline input dicts.
        batch_size: Videos encoded together.

    Returns:
        list[VideoFeatures]: In the order of ``videos``.

    Raises:
        BrokenVideoError: For the first video that cannot be read (use
            :func:`iter_features` to go on past it).
    """
    out = []
    for _, item in iter_features(model, videos, batch_size):
        if isinstance(item, BrokenVideoError):
            raise item
        out.append(item)
    return out


def run_videos(model: nn.Module,
               videos: Sequence[str],
               done: Callable[[str, VideoFeatures], None],
               batch_size: int = 8,
               progress: bool = True,
               file: Optional[TextIO] = None) -> List[str]:
    """:func:`iter_features` for a tool: a progress bar (MMEngine's), each
    broken video reported by path on ``file``, ``done`` called for the
    others.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg``.
        videos: Video files.
        done: Called with each video and its features.
        batch_size: Videos encoded together.
        progress: Show the bar (one process of several: only one does).
        file: Where the bar and the failures go; ``sys.stderr`` when None.

    Returns:
        list[str]: The videos that failed.
    """
    file = file or sys.stderr
    failed = []
    bar = ProgressBar(len(videos), file=file) if progress and videos \
        else None
    for video, item in iter_features(model, videos, batch_size):
        if isinstance(item, BrokenVideoError):
            failed.append(video)
            print(f'\nfailed: {item}', file=file, flush=True)
        else:
            done(video, item)
        if bar:
            bar.update()
    return failed
