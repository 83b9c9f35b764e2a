"""X-CLIP's recognizer: CCT backbone, MIT neck, prompt-aware text head."""
import copy
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
from mmaction.models.recognizers import BaseRecognizer
from mmaction.registry import MODELS
from mmaction.utils import OptSampleList
from torch import Tensor

from ..heads import XCLIPTextHead


@MODELS.register_module()
class XCLIPRecognizer(BaseRecognizer):
    """Wires :class:`CCTViT`, :class:`MITNeck` and :class:`XCLIPTextHead`
    into MMAction2's recognizer contract (``loss`` / ``predict`` / ``tensor``
    modes).

    Inputs are ``(N, V, C, T, H, W)`` from
    ``ActionDataPreprocessor(format_shape='NCTHW')``: V views (clips x crops)
    of T frames each. Every view is encoded on its own; the head fuses the
    views as ``cls_head.average_clips`` says. ``test_cfg=dict(
    max_testing_views=n)`` encodes at most n views at a time. Without a neck
    the video embedding is the plain mean of the frame embeddings (the
    paper's ablation of MIT). A head other than :class:`XCLIPTextHead` (for
    instance the ``FeatureHead`` MMAction2's ``clip_feature_extraction.py``
    puts in) gets the video embeddings (N*V, E) alone.

    Args:
        init_cfg: MMEngine init config of the whole model, which
            :class:`BaseRecognizer` does not take, e.g. CLIP's weights for
            the backbone and text encoder: ``dict(type='Pretrained',
            checkpoint='clip://ViT-B/16')``.
        kwargs: :class:`BaseRecognizer` arguments.
    """

    def __init__(self, init_cfg: Optional[Dict] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.init_cfg = copy.deepcopy(init_cfg)

    def set_class_names(
            self,
            class_names: Union[str, Sequence[str]],
            class_texts: Union[None, str, Mapping[str, Sequence[str]]] = None
    ) -> None:
        """Replace the classes the head scores (zero-shot).

        Args:
            class_names: Names, or a file with one name per line.
            class_texts: Several texts for some classes, or a YAML / JSON
                file of them (:meth:`XCLIPTextHead.set_class_names`).
        """
        self.cls_head.set_class_names(class_names, class_texts)

    def integrate(self, frames: Tensor) -> Tensor:
        """Frame embeddings (B, T, E) -> video embeddings (B, E): MIT, or
        the plain mean over time without a neck."""
        if self.with_neck:
            return self.neck(frames)[0]
        return frames.mean(dim=1)

    def encode_video(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode clips.

        Args:
            x: Clips (B, C, T, H, W).

        Returns:
            tuple: Video embeddings (B, E) and patch tokens (B, T, N, D).
        """
        frames, tokens = self.backbone.forward_features(x)
        return self.integrate(frames), tokens

    def extract_feat(self,
                     inputs: Tensor,
                     stage: str = 'neck',
                     data_samples: OptSampleList = None,
                     test_mode: bool = False) -> Tuple[object, Dict]:
        """Features of the given stage.

        Args:
            inputs: Views (N, V, C, T, H, W).
            stage: ``'backbone'`` (frame embeddings (N*V, T, E) and patch
                tokens), ``'neck'`` (the head's input: video embeddings
                (N*V, E) and patch tokens for :class:`XCLIPTextHead`, the
                video embeddings alone for other heads) or ``'head'``
                (logits (N*V, K)).
            data_samples: Unused; MMAction2's contract.
            test_mode: Whether called from ``predict``.

        Returns:
            tuple: The features and an empty kwargs dict for the head.
        """
        x = inputs.flatten(0, 1)
        if stage == 'backbone':
            return self.backbone.forward_features(x), dict()
        chunk = None
        if test_mode and self.test_cfg is not None:
            chunk = self.test_cfg.get('max_testing_views')
        if chunk:
            parts = [self.encode_video(v) for v in x.split(chunk)]
            feats = tuple(torch.cat(p) for p in zip(*parts))
        else:
            feats = self.encode_video(x)
        if not isinstance(getattr(self, 'cls_head', None), XCLIPTextHead):
            feats = feats[0]
        if stage == 'head':
            return self.cls_head(feats), dict()
        return feats, dict()
