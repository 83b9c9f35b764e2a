"""X-CLIP's prompt-aware text head."""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmaction.models.heads import BaseHead
from mmaction.registry import MODELS
from torch import Tensor, nn

from ..layers import resolve_quick_gelu
from .class_names import load_class_names, load_class_texts
from .prompt_generator import PromptGenerator
from .text_encoder import CLIPTextEncoder
from .tokenizer import tokenize


@MODELS.register_module()
class XCLIPTextHead(BaseHead):
    """Classify videos by similarity to their class names' text embeddings.

    CLIP's text encoder embeds the class names (``K`` texts); the prompt
    generator adds a per-video prompt to every class embedding from the
    video's visual tokens; logits are ``exp(logit_scale)`` times the cosine
    similarity of the video embedding and each prompted class embedding.
    Loss, label smoothing, soft (mixup / cutmix) labels and multi-view
    averaging are :class:`BaseHead`'s.

    Text features are computed once per class set and cached while the text
    encoder cannot receive gradients (frozen, or in ``no_grad``). The cache
    is keyed on the encoder's parameters (storage and in-place version), so
    moving the model, loading weights or an optimizer step invalidates it;
    :meth:`set_class_names` replaces the class set.

    Several texts per class (``class_texts``) are ensembled as CLIP does:
    each text is embedded, the unit vectors of a class are averaged and
    renormalised, and the result is scaled to the mean norm of the class's
    embeddings (the prompt generator was trained on unnormalised text
    embeddings, so it keeps their scale). A class with one text keeps its
    embedding as is: without ``class_texts`` the scores are exactly those
    of the single-text head.

    Args:
        class_names: Class names in label order, or a text file with one per
            line.
        num_classes: Expected number of classes; checked against
            ``class_names`` when given.
        embed_dim: Joint embedding dim E.
        vision_width: Width D of the backbone's patch tokens.
        text_cfg: :class:`CLIPTextEncoder` arguments other than
            ``embed_dim``; its ``quick_gelu`` unset follows the ``clip://``
            weights of ``init_cfg``
            (:func:`mmxclip.models.layers.resolve_quick_gelu`).
        prompt_cfg: :class:`PromptGenerator` arguments other than
            ``embed_dim``.
        prompt_template: Format string turning a class name into its text;
            X-CLIP uses the bare name ``'{}'``.
        class_texts: ``{class name: [text, ...]}`` or a YAML / JSON file of
            one (:func:`load_class_texts`): a listed class is scored by the
            ensemble of its texts (used as written, no template).
        freeze_text_encoder: Freeze the text encoder and ``logit_scale``, as
            published.
        logit_scale_init: Initial ``logit_scale`` (CLIP's ``ln(1 / 0.07)``).
        kwargs: :class:`BaseHead` arguments (``loss_cls``,
            ``label_smooth_eps``, ``topk``, ``average_clips``, ``init_cfg``).
    """

    def __init__(self,
                 class_names: Union[str, Sequence[str]],
                 num_classes: Optional[int] = None,
                 embed_dim: int = 512,
                 vision_width: int = 768,
                 text_cfg: Optional[Dict] = None,
                 prompt_cfg: Optional[Dict] = None,
                 prompt_template: str = '{}',
                 class_texts: Union[None, str, Mapping[str,
                                                       Sequence[str]]] = None,
                 freeze_text_encoder: bool = True,
                 logit_scale_init: float = math.log(1 / 0.07),
                 average_clips: Optional[str] = 'prob',
                 **kwargs) -> None:
        names = load_class_names(class_names, num_classes)
        super().__init__(
            num_classes=len(names),
            in_channels=embed_dim,
            average_clips=average_clips,
            **kwargs)
        self.prompt_template = prompt_template
        text_cfg = dict(text_cfg or {})
        text_cfg['quick_gelu'] = resolve_quick_gelu(
            text_cfg.get('quick_gelu'), kwargs.get('init_cfg'),
            'XCLIPTextHead.text_cfg')
        self.text_encoder = CLIPTextEncoder(embed_dim, **text_cfg)
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)))
        self.prompts_visual_ln = nn.LayerNorm(vision_width)
        self.prompts_visual_proj = nn.Parameter(
            torch.randn(vision_width, embed_dim))
        self.prompts_generator = PromptGenerator(embed_dim,
                                                 **(prompt_cfg or {}))
        if freeze_text_encoder:
            self.text_encoder.requires_grad_(False)
            self.logit_scale.requires_grad_(False)
        self._text_cache: Optional[Tuple[tuple, Tensor]] = None
        self.set_class_names(names, class_texts)

    @property
    def class_names(self) -> List[str]:
        """The current class names, in label order."""
        return list(self._class_names)

    def set_class_names(
            self,
            class_names: Union[str, Sequence[str]],
            class_texts: Union[None, str, Mapping[str, Sequence[str]]] = None
    ) -> None:
        """Replace the class set (zero-shot); the text cache is dropped.

        Args:
            class_names: Names, or a file with one per line.
            class_texts: Several texts for some classes
                (:func:`load_class_texts`); None: each class its name.
        """
        names = load_class_names(class_names)
        texts = load_class_texts(class_texts, names, self.prompt_template,
                                 self.text_encoder.context_length)
        flat = [text for own in texts for text in own]
        self.register_buffer(
            'class_tokens',
            tokenize(flat, self.text_encoder.context_length).to(
                self.logit_scale.device),
            persistent=False)
        # Class of each text row; None when every class has one text.
        owner = None
        if len(flat) > len(names):
            owner = torch.tensor([k for k, own in enumerate(texts)
                                  for _ in own])
        self.register_buffer('text_owner', owner, persistent=False)
        self._class_names = names
        self.num_classes = len(names)
        self._text_cache = None

    def _tokens(self, names: Sequence[str]) -> Tensor:
        """Token ids (K, L) of names in the prompt template, on the head's
        device."""
        texts = [self.prompt_template.format(n) for n in names]
        tokens = tokenize(texts, self.text_encoder.context_length)
        return tokens.to(self.logit_scale.device)

    def ensemble(self, text: Tensor) -> Tensor:
        """Class embeddings (K, E) from the embeddings (M, E) of the rows of
        ``class_tokens``: CLIP's prompt ensembling for classes with several
        texts (mean of unit vectors, renormalised, at the mean norm of the
        class's embeddings); a single text's embedding unchanged.
        """
        owner = self.text_owner
        if owner is None:
            return text
        counts = torch.bincount(owner, minlength=self.num_classes)
        norms = text.norm(dim=-1, keepdim=True)
        mean_unit = text.new_zeros(len(counts), text.shape[-1]).index_add_(
            0, owner, text / norms)
        mean_norm = norms.new_zeros(len(counts), 1).index_add_(
            0, owner, norms) / counts[:, None]
        ensembled = F.normalize(mean_unit, dim=-1) * mean_norm
        # A class's texts are consecutive rows: its first row is its only
        # text's embedding when it has one, taken bit for bit.
        first = counts.cumsum(0) - counts
        single = (counts == 1)[:, None]
        return torch.where(single, text[first], ensembled)

    def embed_texts(self, texts: Sequence[str]) -> Tensor:
        """Text embeddings (K, E) of free texts, made as the class names'
        are (prompt template, tokenizer, the same checks), without
        changing the class set.

        Raises:
            ValueError: A blank text, or two that CLIP reads as one.
        """
        names = load_class_names(list(texts), name='texts')
        return self.text_encoder(self._tokens(names))

    def class_embeddings(self) -> Tensor:
        """Text embeddings of the class names (K, E), cached when possible."""
        encoder = self.text_encoder
        trainable = any(p.requires_grad for p in encoder.parameters())
        if trainable and torch.is_grad_enabled():
            return self.ensemble(encoder(self.class_tokens))
        key = (self.class_tokens.data_ptr(),
               torch.is_inference_mode_enabled(),
               *((p.data_ptr(), p._version) for p in encoder.parameters()))
        if self._text_cache is None or self._text_cache[0] != key:
            with torch.no_grad():
                self._text_cache = (key,
                                    self.ensemble(encoder(self.class_tokens)))
        return self._text_cache[1]

    def visual_tokens(self, tokens: Tensor) -> Tensor:
        """The prompt generator's visual input of each video.

        Args:
            tokens: The backbone's patch tokens (B, T, N, D).

        Returns:
            Tensor: (B, N, E): every token layer-normed, averaged over time
            and projected to E.
        """
        # LN per token, then the (linear) projection after the mean over
        # time: equal to projecting every frame first, T times cheaper.
        visual = self.prompts_visual_ln(tokens).mean(dim=1)
        return visual @ self.prompts_visual_proj.to(visual.dtype)

    def logits(self,
               video: Tensor,
               visual: Tensor,
               text: Tensor,
               few_texts: bool = False) -> Tensor:
        """Scores of B videos for K texts with video-specific prompts.

        Each text's prompt depends on the video and on that text alone (the
        prompt generator's queries do not attend to each other), so a
        (video, text) score is the same in any class set.

        Args:
            video: Video embeddings (B, E).
            visual: :meth:`visual_tokens` (B, N, E).
            text: Text embeddings (K, E).
            few_texts: Run the prompt generator's cross-attention without
                projecting the visual tokens
                (:meth:`~mmxclip.models.layers.MultiheadAttention.attend_few`):
                the same scores, far cheaper when K is much smaller than N
                (text-to-video search: K = 1).

        Returns:
            Tensor: Logits (B, K), float32 under autocast.
        """
        text = text.to(video.dtype).expand(video.shape[0], -1, -1)
        text = text + self.prompts_generator(text, visual, few_texts)
        video = F.normalize(video, dim=-1)
        text = F.normalize(text, dim=-1)
        scale = self.logit_scale.exp()
        logits = scale * torch.einsum('be,bke->bk', video, text)
        # float32 logits under autocast: BaseHead's loss and top-k accuracy
        # (numpy) take no bfloat16. float64 stays float64.
        if logits.dtype in (torch.float16, torch.bfloat16):
            logits = logits.float()
        return logits

    def forward(self, x: Tuple[Tensor, Tensor], **kwargs) -> Tensor:
        """Class scores of each video.

        Args:
            x: Video embeddings (B, E) and the backbone's patch tokens
                (B, T, N, D).

        Returns:
            Tensor: Logits (B, K).
        """
        video, tokens = x
        return self.logits(video, self.visual_tokens(tokens),
                           self.class_embeddings())
