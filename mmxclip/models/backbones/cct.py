"""Cross-frame Communication Transformer (CCT), X-CLIP's video encoder."""
from typing import Any, Dict, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from timm.layers import build_sincos2d_pos_embed
from torch import Tensor, nn

from ..layers import (LayerNorm, Linear, MultiheadAttention,
                      ResidualAttentionBlock, Transformer,
                      check_pos_embed_init, default_num_heads,
                      init_clip_transformer, resize_pos_embed,
                      resolve_quick_gelu)


class CrossFrameBlock(ResidualAttentionBlock):
    """CLIP's block with a cross-frame message token.

    Each frame's class token is projected to a message token; the message
    tokens of the frames of one video attend to each other; each frame's
    message token then joins that frame's tokens for the spatial attention
    and is dropped after it, before the MLP.
    """

    def __init__(self,
                 width: int,
                 num_heads: int,
                 mlp_ratio: float = 4.0,
                 drop_path: float = 0.0,
                 use_message: bool = True,
                 quick_gelu: bool = True) -> None:
        super().__init__(width, num_heads, mlp_ratio, drop_path,
                         quick_gelu=quick_gelu)
        self.use_message = use_message
        if use_message:
            self.message_fc = Linear(width, width)
            self.message_ln = LayerNorm(width)
            self.message_attn = MultiheadAttention(width, num_heads)

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        """Run the block on every frame.

        Args:
            x: Tokens of all frames (B * T, 1 + N, D), frames of one video
                contiguous.
            num_frames: T.

        Returns:
            Tensor: (B * T, 1 + N, D).
        """
        if not self.use_message:
            return super().forward(x)
        bt, n, d = x.shape
        msg = self.message_fc(x[:, 0]).view(bt // num_frames, num_frames, d)
        msg = msg + self.drop_path(self.message_attn(self.message_ln(msg)))
        # The message token joins as a key and value only: its own output
        # would be dropped, so it gets no query, and the residual stream
        # stays (B * T, 1 + N, D) with no concatenated copy to slice back.
        h = torch.cat([self.ln_1(x), self.ln_1(msg.view(bt, 1, d))], dim=1)
        x = x + self.drop_path(self.attn(h, num_queries=n))
        return self.feed_forward(x)


@MODELS.register_module()
class CCTViT(BaseModule):
    """CLIP's ViT run per frame, with cross-frame communication.

    Parameter names follow OpenAI CLIP's ``visual.*`` (``conv1``,
    ``class_embedding``, ``positional_embedding``, ``ln_pre``,
    ``transformer.resblocks.{i}``, ``ln_post``, ``proj``) plus X-CLIP's
    ``message_fc``, ``message_ln`` and ``message_attn`` per block, so CLIP
    and official X-CLIP weights load by prefix.

    Args:
        input_resolution: Frame size H = W the position embedding is for.
        patch_size: Patch size of the convolutional stem.
        width: Channels D.
        layers: Number of blocks.
        heads: Attention heads; :func:`default_num_heads` when None.
        output_dim: Projection dim E of the class embedding.
        drop_path_rate: Stochastic depth rate of the last block.
        use_message: Cross-frame message tokens; False gives a plain per-frame
            CLIP ViT (the paper's ablation).
        out_type: What :meth:`forward` returns for MMAction2's stock heads:
            ``'pooled'``, the mean over frames of the projected class
            embeddings (B, E) (``TimeSformerHead``, ``I3DHead`` without
            spatial pooling), or ``'frames'``, the per-frame embeddings as
            (B, E, T, 1, 1) (``I3DHead(spatial_type='avg')``).
        with_cp: Activation checkpointing of every block while training.
        quick_gelu: :class:`QuickGELU` in the MLPs (OpenAI CLIP); False for
            ``nn.GELU`` (open_clip's LAION / DataComp trainings); None: as
            the ``clip://`` weights of ``init_cfg`` were trained, else
            QuickGELU (:func:`mmxclip.models.layers.resolve_quick_gelu`).
        pos_embed_init: Initial patch position embedding: ``'normal'``,
            CLIP's N(0, width^-1); or ``'sincos'``, the fixed 2D sine-cosine
            table of MAE / MoCo v3 (still learned afterwards), which gives a
            ViT trained from scratch a spatial code from step one. Pretrained
            weights overwrite either.
        init_cfg: MMEngine init config, e.g.
            ``dict(type='Pretrained', checkpoint='clip://ViT-B/16',
            prefix='backbone.')``.

    Loading a state dict whose ``positional_embedding`` is for another
    resolution (same patch size) interpolates its grid bicubically, keeping
    the class token; a checkpoint of another patch size or width is refused
    with an error naming both shapes.
    """

    def __init__(self,
                 input_resolution: int = 224,
                 patch_size: int = 16,
                 width: int = 768,
                 layers: int = 12,
                 heads: Optional[int] = None,
                 output_dim: int = 512,
                 drop_path_rate: float = 0.0,
                 use_message: bool = True,
                 out_type: str = 'pooled',
                 with_cp: bool = False,
                 quick_gelu: Optional[bool] = None,
                 pos_embed_init: str = 'normal',
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        quick_gelu = resolve_quick_gelu(quick_gelu, init_cfg, 'CCTViT')
        check_pos_embed_init(pos_embed_init)
        if out_type not in ('pooled', 'frames'):
            raise ValueError(f"out_type must be 'pooled' or 'frames', got "
                             f'{out_type!r}')
        if input_resolution % patch_size:
            raise ValueError(f'input_resolution={input_resolution} is not '
                             f'divisible by patch_size={patch_size}')
        self.input_resolution = input_resolution
        self.patch_size = patch_size
        self.out_type = out_type
        self.conv1 = nn.Conv2d(3, width, patch_size, patch_size, bias=False)
        scale = width**-0.5
        grid = input_resolution // patch_size
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(
            scale * torch.randn(grid * grid + 1, width))
        if pos_embed_init == 'sincos':
            with torch.no_grad():
                self.positional_embedding[0] = 0
                self.positional_embedding[1:] = build_sincos2d_pos_embed(
                    [grid, grid], width)
        self.ln_pre = LayerNorm(width)
        self.transformer = Transformer(
            width, layers, heads or default_num_heads(width),
            block=CrossFrameBlock,
            drop_path_rate=drop_path_rate,
            with_cp=with_cp,
            use_message=use_message,
            quick_gelu=quick_gelu)
        self.ln_post = LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, output_dim))
        init_clip_transformer(self.transformer)
        for blk in self.transformer.resblocks:
            if use_message:
                trunc_normal_(blk.message_fc.weight, std=0.02)
                nn.init.zeros_(blk.message_fc.bias)
        self._register_load_state_dict_pre_hook(self._adapt_checkpoint)

    def _adapt_checkpoint(self, state_dict: Dict[str, Tensor], prefix: str,
                          *args: Any) -> None:
        """Load hook: check the stem, fit the position grid (in place)."""
        conv = state_dict.get(prefix + 'conv1.weight')
        if conv is not None and conv.shape != self.conv1.weight.shape:
            raise ValueError(
                f'{prefix}conv1.weight: checkpoint {tuple(conv.shape)} vs '
                f'model {tuple(self.conv1.weight.shape)} - patch size '
                f'{conv.shape[-1]} vs {self.patch_size}, width '
                f'{conv.shape[0]} vs {self.conv1.weight.shape[0]}')
        key = prefix + 'positional_embedding'
        pos = state_dict.get(key)
        if pos is not None and pos.shape != self.positional_embedding.shape:
            grid = self.input_resolution // self.patch_size
            state_dict[key] = resize_pos_embed(pos, grid)
            MMLogger.get_current_instance().info(
                f'{key}: interpolated {tuple(pos.shape)} -> '
                f'{tuple(state_dict[key].shape)} for {self.input_resolution}'
                ' px frames')

    @property
    def output_dim(self) -> int:
        """E, the channels of the frame embeddings."""
        return self.proj.shape[1]

    def forward_features(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode the frames of each clip.

        Args:
            x: Clips (B, C, T, H, W) as ``ActionDataPreprocessor
                (format_shape='NCTHW')`` gives them.

        Returns:
            tuple: Frame embeddings (B, T, E) (post layer norm of the class
            token, projected) and patch tokens (B, T, N, D) before the post
            layer norm, N = (H / patch) * (W / patch).
        """
        if x.dim() != 5:
            raise ValueError('CCTViT expects clips of shape (B, C, T, H, W), '
                             f'got {tuple(x.shape)}')
        b, c, t, h, w = x.shape
        if h != self.input_resolution or w != self.input_resolution:
            raise ValueError(
                f'CCTViT was built for {self.input_resolution}x'
                f'{self.input_resolution} frames, got {h}x{w}; resize or crop '
                'in the pipeline, or set input_resolution')
        x = x.transpose(1, 2).reshape(b * t, c, h, w)
        x = self.conv1(x).flatten(2).transpose(1, 2)  # (BT, N, D)
        cls = self.class_embedding.to(x.dtype).expand(b * t, 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)
        x = self.ln_pre(x)
        x = self.transformer(x, num_frames=t)
        frames = self.ln_post(x[:, 0]) @ self.proj
        return frames.view(b, t, -1), x[:, 1:].unflatten(0, (b, t))

    def forward(self, x: Tensor) -> Tensor:
        """Video features for MMAction2's stock heads.

        Args:
            x: Clips (B, C, T, H, W).

        Returns:
            Tensor: (B, E) for ``out_type='pooled'``, (B, E, T, 1, 1) for
            ``out_type='frames'``.
        """
        frames, _ = self.forward_features(x)
        if self.out_type == 'pooled':
            return frames.mean(dim=1)
        return frames.transpose(1, 2)[..., None, None]
