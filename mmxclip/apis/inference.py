"""Ready models from any weight file, and zero-shot recognition.

Thin on purpose: formats are :mod:`mmxclip.weights`' business, the forward
pass MMAction2's (the test pipeline and ``test_step``, as in its
``inference_recognizer``), broken videos :mod:`mmxclip.datasets`'; here they
meet.
"""
import copy
from typing import (Any, Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch import nn

from ..datasets import read_video_frames
from ..models.precision import apply_precision
from ..weights import (XCLIP_ONLY, ConfigTextError, Weights,
                       check_model_config, check_plain, check_state_dict,
                       parse_config_text, read_weights)
from .pipeline import inference_pipeline, load_video, test_pipeline

# Where MMAction2's Kinetics-400 configs (and configs/_base_) expect the
# class names.
K400_LABEL_MAP = 'data/kinetics400/label_map_k400.txt'


def _checkpoint_model_config(weights: Weights) -> Optional[Dict[str, Any]]:
    """The model config an mmxclip checkpoint carries, as data.

    ``meta['model_cfg']`` (``tools/convert_weights.py``) is a dict; the
    training config MMEngine stores (``meta['cfg']``) is Python text, read
    by :func:`parse_config_text`, which accepts only literal assignments.
    Text it refuses is not used, which is logged, and the architecture is
    inferred from the tensors instead. Either model config must pass
    :func:`check_model_config` whole before anything is built.

    Raises:
        ModelConfigError: What the schema refuses, naming the file and the
            key path.
    """
    meta = weights.meta
    if 'model_cfg' in meta:
        return copy.deepcopy(check_model_config(
            meta['model_cfg'], f"{weights.path}: meta['model_cfg']"))
    if not isinstance(meta.get('cfg'), str):
        return None
    try:
        cfg = parse_config_text(meta['cfg'], f"{weights.path}: meta['cfg']")
    except ConfigTextError as err:
        MMLogger.get_current_instance().warning(
            f'{err}. Its model config is not used; the architecture is '
            'inferred from the tensors')
        return None
    if 'model' not in cfg:
        return None
    return check_model_config(cfg['model'],
                              f"{weights.path}: meta['cfg'].model")


def model_config(weights: Weights,
                 class_names: Union[None, str, Sequence[str]] = None,
                 class_texts: Union[None, str, Dict[str, List[str]]] = None
                 ) -> Dict[str, Any]:
    """The model config that fits ``weights``.

    An mmxclip checkpoint brings its own (``meta['model_cfg']`` from
    ``tools/convert_weights.py``, or the training config MMEngine stores in
    ``meta['cfg']``, read as data); other formats are inferred from their
    tensors.

    Args:
        weights: What :func:`read_weights` returned.
        class_names: Overrides the checkpoint's class names (and drops
            its class texts, which belong to its class set).
        class_texts: Several texts per class
            (:class:`~mmxclip.models.XCLIPTextHead`'s ``class_texts``).

    Returns:
        dict: An :class:`XCLIPRecognizer` config.

    Raises:
        ValueError: No class names anywhere, or a ``meta`` that is not data.
    """
    meta = weights.meta
    cfg = _checkpoint_model_config(weights)
    names = class_names or meta.get('class_names')
    if class_names is None and names is not None:
        check_plain(names, f"{weights.path}: meta['class_names']")
    if cfg is None:
        if not names:
            raise ValueError(
                f'{weights.path} ({weights.format}) carries no class names; '
                'pass class_names (a list or a file, one name per line)')
        gelu = meta.get('quick_gelu')
        cfg = weights.model_config(
            names, quick_gelu=gelu if isinstance(gelu, bool) else None)
    elif names:
        cfg['cls_head']['class_names'] = list(names) if not isinstance(
            names, str) else names
        cfg['cls_head'].pop('num_classes', None)
        if class_names:
            cfg['cls_head'].pop('class_texts', None)
    if class_texts is not None:
        cfg['cls_head']['class_texts'] = class_texts
    return cfg


def load_weights(model: nn.Module, weights: Weights) -> None:
    """Load ``weights`` into ``model`` after :func:`check_state_dict`.

    CLIP-only weights may leave X-CLIP's own modules (message attention,
    MIT, prompts) at their random init; that is logged, never silent.

    Raises:
        ValueError: Keys or shapes that do not fit, all named.
    """
    left = check_state_dict(model, weights.state_dict, weights.path,
                            allow_missing=None if weights.is_xclip else
                            XCLIP_ONLY)
    model.load_state_dict(weights.state_dict, strict=False)
    if left:
        MMLogger.get_current_instance().warning(
            f'{weights.path} holds CLIP weights only: {len(left)} tensors of '
            "X-CLIP's message attention, MIT and prompt generator keep their "
            'random init')


def init_xclip(checkpoint: str,
               class_names: Union[None, str, Sequence[str]] = None,
               device: Union[str, torch.device] = 'cpu',
               num_clips: int = 1,
               num_crops: int = 1,
               num_frames: Optional[int] = None,
               class_texts: Union[None, str, Dict[str, List[str]]] = None,
               dtype: str = 'fp32') -> nn.Module:
    """A ready :class:`XCLIPRecognizer` in eval mode from any weight file.

    The format (OpenAI TorchScript archive, CLIP / open_clip state dict,
    official X-CLIP ``.pth``, HuggingFace folder or file, mmxclip /
    MMEngine checkpoint) is detected and the architecture inferred.
    ``model.cfg`` gets the model and a test pipeline, so MMAction2's
    ``inference_recognizer`` and :func:`recognize` work on the result.

    Args:
        checkpoint: File or HuggingFace folder.
        class_names: Names or a label-map file; required unless the
            checkpoint carries them.
        device: Where to put the model.
        num_clips: Temporal views of the test pipeline.
        num_crops: Spatial views of the test pipeline (1 or 3).
        num_frames: Frames T' per clip; None: the T the weights were
            trained for. MIT's temporal table is interpolated to T'
            (:class:`~mmxclip.models.MITNeck`); the test pipeline samples
            T' frames.
        class_texts: Several texts per class, ``{name: [text, ...]}`` or a
            YAML / JSON file of one: a class's text embeddings are ensembled
            (:class:`~mmxclip.models.XCLIPTextHead`).
        dtype: The inference precision, ``'fp32'``, ``'bf16'``, ``'int8'``
            or ``'auto'`` (:func:`~mmxclip.models.precision.apply_precision`;
            the tools default to ``'auto'``).

    Returns:
        nn.Module: The recognizer, eval mode, on ``device``.
    """
    if num_frames is not None and num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    init_default_scope('mmaction')
    weights = read_weights(checkpoint)
    cfg = model_config(weights, class_names, class_texts)
    if num_frames is not None and cfg.get('neck'):
        cfg['neck']['num_frames'] = num_frames
    model = MODELS.build(cfg)
    load_weights(model, weights)
    backbone = model.backbone
    model.cfg = Config(dict(
        default_scope='mmaction',
        model=cfg,
        test_pipeline=test_pipeline(num_frames or model.neck.num_frames,
                                    backbone.input_resolution, num_clips,
                                    num_crops)))
    model.to(device).eval()
    apply_precision(model, dtype)
    return model


class Recognition(NamedTuple):
    """What :func:`recognize` found.

    Attributes:
        ranking: The top (label, probability) pairs, best first.
        frame_inds: (num_clips, T) indices of the frames the model saw, as
            the test pipeline's sampler chose them.
    """
    ranking: List[Tuple[str, float]]
    frame_inds: np.ndarray


def check_fusion(model: nn.Module) -> None:
    """Refuse a head whose fused view scores are not turned into label
    probabilities (``average_clips`` None).

    Raises:
        ValueError: ``cls_head.average_clips`` is not 'prob' or 'score'.
    """
    fusion = model.cls_head.average_clips
    if fusion not in ('prob', 'score'):
        raise ValueError("zero-shot scoring needs cls_head.average_clips "
                         f"'prob' or 'score', not {fusion!r}")


def predict_probabilities(model: nn.Module,
                          samples: List[Dict[str, Any]]) -> List[Any]:
    """``test_step`` on packed samples, each ``pred_score`` a probability
    over the labels (the views' fused scores softmaxed where the head
    averages raw scores, ``average_clips='score'``).

    Args:
        model: A recognizer that passed :func:`check_fusion`.
        samples: Packed samples of one pipeline.

    Returns:
        list[ActionDataSample]: ``test_step``'s results.
    """
    with torch.no_grad():
        results = model.test_step(pseudo_collate(samples))
    if model.cls_head.average_clips == 'score':
        for result in results:
            result.pred_score = result.pred_score.softmax(dim=-1)
    return results


def recognize(model: nn.Module,
              video: Union[str, Dict[str, Any]],
              labels: Union[None, str, Sequence[str]] = None,
              topk: int = 5) -> Recognition:
    """Rank free-text labels for a video, and say which frames were seen.

    Runs the model's test pipeline (``model.cfg.test_pipeline``) and
    ``test_step`` as MMAction2's ``inference_recognizer`` does, but through
    :func:`mmxclip.datasets.load_clip` with decoded-frame checks, so a bad
    video raises a :class:`~mmxclip.datasets.BrokenVideoError` naming the
    file and what is wrong, and with ``frame_inds`` kept in the sample's
    metainfo, which ``inference_recognizer`` drops. Views are fused as the
    head's ``average_clips`` says.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (from
            :func:`init_xclip` or MMAction2's ``init_recognizer``).
        video: Video file, or a pipeline input dict.
        labels: Names or a label-map file; replaces the model's class set.
            None keeps the current one.
        topk: How many (label, probability) pairs to return (>= 1).

    Returns:
        Recognition: The ranking and the frame indices.

    Raises:
        BrokenVideoError: The video is missing, empty, not a video, has no
            video stream, or does not decode completely.
    """
    if topk < 1:
        raise ValueError(f'topk must be >= 1, got {topk}')
    if labels is not None:
        model.set_class_names(labels)
    check_fusion(model)
    data = load_video(inference_pipeline(model), video)
    result = predict_probabilities(model, [data])[0]
    probs = result.pred_score
    values, indices = probs.topk(min(topk, probs.numel()))
    names = model.cls_head.class_names
    meta = result.metainfo
    return Recognition(
        [(names[i], float(v)) for v, i in zip(values, indices.tolist())],
        np.asarray(meta['frame_inds']).reshape(meta['num_clips'],
                                               meta['clip_len']))


def zero_shot(model: nn.Module,
              video: Union[str, Dict[str, Any]],
              labels: Union[None, str, Sequence[str]] = None,
              topk: int = 5) -> List[Tuple[str, float]]:
    """Rank free-text labels for a video: :func:`recognize`'s ranking.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg``.
        video: Video file, or a pipeline input dict.
        labels: Names or a label-map file; replaces the model's class set.
            None keeps the current one.
        topk: How many (label, probability) pairs to return.

    Returns:
        list[tuple[str, float]]: The top labels with their probabilities,
        best first.
    """
    return recognize(model, video, labels, topk).ranking


def read_frames(video: str, frame_inds: np.ndarray) -> np.ndarray:
    """RGB frames at ``frame_inds`` (num_clips, T), as the test pipeline's
    ``GatedVideoDecode`` reads them (to show the frames :func:`recognize`
    saw).

    Returns:
        np.ndarray: (num_clips, T, H, W, 3) uint8.

    Raises:
        BrokenVideoError: Refused by the video gate, or not decodable.
    """
    frames = read_video_frames(video, frame_inds.ravel())
    return frames.reshape(*frame_inds.shape, *frames.shape[1:])
