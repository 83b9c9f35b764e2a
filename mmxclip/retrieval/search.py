"""Text-to-video search over a :class:`VideoIndex` with X-CLIP's own score.

The score of (text, video) is the zero-shot logit of that text for that
video, ``exp(logit_scale) * cos(video, text + prompt(text, video))``, the
head's :meth:`~mmxclip.models.heads.XCLIPTextHead.logits` on the stored
features (its cross-attention in the equal few-texts form). The prompt
generator treats texts independently, so this is the logit the text gets in
any label set. Several views: the mean of the views' logits (``predict``'s
score under ``average_clips='score'``).

Cost of a query: per video and view, about ``L (2 H N E + 12 E^2)``
multiply-adds for the L = 2 prompt layers (B/16, H = 8, N = 196, E = 512:
9.4 M), reading ``2 N E`` bytes of float16 tokens (B/16: 200 KB); videos
are scored ``chunk`` at a time.
"""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import MMLogger
from torch import nn

from ..apis.features import NO_TEXT
from ..apis.inference import init_xclip
from .index import VideoIndex


def index_model(index: VideoIndex,
                checkpoint: Optional[str] = None,
                device: Union[str, torch.device] = 'cpu') -> nn.Module:
    """The model that made ``index``, rebuilt as it was, in the precision
    the index records (whether it is the same model is checked when it
    scores: :func:`score_videos`).

    Args:
        index: The index.
        checkpoint: The weights, if not where the index recorded them.
        device: Where to put the model.

    Raises:
        FileNotFoundError: The checkpoint is not there.
    """
    made = index.model
    checkpoint = checkpoint or made['checkpoint']
    if not osp.exists(checkpoint):
        raise FileNotFoundError(
            f'{index.root} was made with {checkpoint}, which is not there; '
            'pass its new path (--checkpoint)')
    return init_xclip(checkpoint, NO_TEXT, device, made['num_clips'],
                      made['num_crops'], made['num_frames'],
                      dtype=index.precision)


def score_videos(model: nn.Module,
                 index: VideoIndex,
                 texts: Sequence[str],
                 chunk: int = 1024) -> np.ndarray:
    """Every indexed video's score for every text.

    Args:
        model: The model that made the index (checked).
        index: The index.
        texts: K free texts.
        chunk: Videos scored at a time.

    Returns:
        np.ndarray: (num_videos, K) float32, videos in ``index.paths``
        order.
    """
    index.check_model(model)
    head = model.cls_head
    param = head.logit_scale
    out = [np.zeros((0, len(texts)), np.float32)]
    with torch.no_grad():
        text = head.embed_texts(texts)
        for video, visual in zip(index.video, index.visual):
            for i in range(0, len(video), chunk):
                v = torch.from_numpy(np.array(video[i:i + chunk]))
                t = torch.from_numpy(np.array(visual[i:i + chunk]))
                n, views = v.shape[:2]
                logits = head.logits(
                    v.flatten(0, 1).to(param), t.flatten(0, 1).to(param),
                    text, few_texts=True)
                out.append(logits.view(n, views, -1).mean(dim=1).float()
                           .cpu().numpy())
    return np.concatenate(out)


def search(model: nn.Module,
           index: VideoIndex,
           text: str,
           topk: int = 10,
           chunk: int = 1024) -> List[Tuple[str, float]]:
    """The ``topk`` videos for ``text``, best first.

    A video scoring NaN or inf (damaged features) is left out of the
    ranking and named in a warning, never ranked in silence.

    Returns:
        list[tuple[str, float]]: (video path, score) pairs.
    """
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')
    scores = score_videos(model, index, [text], chunk)[:, 0]
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        MMLogger.get_current_instance().warning(
            f'{index.root}: {len(bad)} videos score NaN or inf (their stored '
            'features are damaged; re-index them), not ranked: '
            + ', '.join(index.paths[i] for i in bad))
    order = np.argsort(-scores, kind='stable')
    order = order[np.isfinite(scores[order])][:topk]
    return [(index.paths[i], float(scores[i])) for i in order]
