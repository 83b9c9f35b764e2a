"""Multi-frame Integration Transformer (MIT), X-CLIP's temporal neck."""
from typing import Any, Dict, Optional, Tuple

import torch
from mmaction.registry import MODELS
from mmaction.utils import OptSampleList
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor, nn

from ..layers import (ResidualAttentionBlock, check_pos_embed_init,
                      default_num_heads, resize_temporal_pos_embed,
                      sincos_1d_pos_embed)


@MODELS.register_module()
class MITNeck(BaseModule):
    """Frame embeddings -> video embedding.

    ``h = blocks(f + pos) + f``, video = mean of ``h`` over time. Keys follow
    the official ``mit.*``: ``positional_embedding`` and ``resblocks.{i}``.

    Args:
        num_frames: T, the length of the learned temporal position
            embedding. Weights for another number of frames load
            interpolated to T (see :meth:`_adapt_checkpoint`).
        embed_dim: Channels E.
        layers: Residual attention blocks.
        heads: Attention heads; :func:`default_num_heads` when None.
        drop_path_rate: Stochastic depth of the last block.
        pos_embed_init: Initial temporal position embedding: ``'normal'``,
            X-CLIP's truncated N(0, 0.02^2); or ``'sincos'``, the 1D
            sine-cosine table (:func:`sincos_1d_pos_embed`, still learned
            afterwards). MIT is the only module that sees frame order; with
            0.02 against unit-scale frame embeddings, a model trained from
            scratch takes long to make attention depend on it. Pretrained
            weights overwrite either.
        init_cfg: MMEngine init config.
    """

    def __init__(self,
                 num_frames: int = 8,
                 embed_dim: int = 512,
                 layers: int = 1,
                 heads: Optional[int] = None,
                 drop_path_rate: float = 0.0,
                 pos_embed_init: str = 'normal',
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_pos_embed_init(pos_embed_init)
        self.num_frames = num_frames
        self.positional_embedding = nn.Parameter(
            torch.empty(1, num_frames, embed_dim))
        rates = torch.linspace(0, drop_path_rate, layers).tolist()
        heads = heads or default_num_heads(embed_dim)
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(embed_dim, heads, drop_path=rate)
            for rate in rates)
        if pos_embed_init == 'sincos':
            with torch.no_grad():
                self.positional_embedding[0] = sincos_1d_pos_embed(
                    num_frames, embed_dim)
        else:
            trunc_normal_(self.positional_embedding, std=0.02)
        for m in self.resblocks.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self._register_load_state_dict_pre_hook(self._adapt_checkpoint)

    def _adapt_checkpoint(self, state_dict: Dict[str, Tensor], prefix: str,
                          *args: Any) -> None:
        """Load hook: fit a temporal table for another T (in place).

        A table for T frames loaded into a model for T' is interpolated
        linearly in time (:func:`resize_temporal_pos_embed`, segment centres
        aligned), so a model trained at T runs at any T'; at T' = T the
        tensor is left untouched. Another embed dim is refused: MMEngine
        loads with ``strict=False`` and would only warn.
        """
        key = prefix + 'positional_embedding'
        pos = state_dict.get(key)
        mine = self.positional_embedding.shape
        if pos is None or pos.shape == mine:
            return
        if pos.dim() != 3 or pos.shape[0] != 1 or pos.shape[2] != mine[2]:
            raise ValueError(
                f'{key}: checkpoint {tuple(pos.shape)} vs model {tuple(mine)}'
                f' - expected (1, T, {mine[2]}): embed dim '
                f'{pos.shape[-1]} vs {mine[-1]}')
        state_dict[key] = resize_temporal_pos_embed(pos, self.num_frames)
        MMLogger.get_current_instance().info(
            f'{key}: interpolated {tuple(pos.shape)} -> '
            f'{tuple(state_dict[key].shape)} for {self.num_frames} frames '
            '(linear in time, segment centres aligned)')

    def forward(self,
                x: Tensor,
                data_samples: OptSampleList = None) -> Tuple[Tensor, Dict]:
        """Integrate the frames of each video.

        Args:
            x: Frame embeddings (B, T, E).
            data_samples: Unused; MMAction2's neck contract.

        Returns:
            tuple: Video embeddings (B, E) and an empty auxiliary-loss dict.
        """
        if x.dim() != 3 or x.shape[1] != self.num_frames:
            raise ValueError(
                f'MITNeck(num_frames={self.num_frames}) expects frame '
                f'embeddings (B, {self.num_frames}, E), got {tuple(x.shape)}')
        h = x + self.positional_embedding.to(x.dtype)
        for blk in self.resblocks:
            h = blk(h)
        return (h + x).mean(dim=1), dict()
