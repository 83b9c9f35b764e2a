"""The one tiny X-CLIP of the tests: its config at the sizes a test needs,
the model with non-trivial random weights, and an mmxclip checkpoint of it
(no HuggingFace needed)."""
import copy
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import save_checkpoint

LABELS = ['a square moving right', 'a dog', 'cooking pasta', 'swimming']
NAMES = ['archery', 'bowling', 'juggling balls']
# The module tests' size: patch 8 (16 tokens a frame), 4 frames, CLIP's head
# rule (1 head at these widths), no input normalisation.
UNIT = dict(num_frames=4, class_names=NAMES, patch_size=8, heads=None,
            normalize=False)


def tiny_xclip_cfg(num_frames: int = 8,
                   class_names: Sequence[str] = LABELS,
                   patch_size: int = 16,
                   layers: int = 2,
                   heads: Optional[int] = 2,
                   normalize: bool = True,
                   **head) -> Dict:
    """32 px frames, vision width 64, E = 32, a 1-layer text encoder of
    width 32.

    Args:
        num_frames: T of the MIT neck.
        class_names: The head's classes.
        patch_size: 16 (4 patches a frame) or 8 (16).
        layers: Vision blocks.
        heads: Attention heads of the backbone, MIT and prompt generator
            (the text encoder's: 1); None: CLIP's rule (1 at these widths).
        normalize: CLIP-like mean / std in the data preprocessor (False:
            none).
        **head: More ``XCLIPTextHead`` arguments.
    """
    sized = {} if heads is None else dict(heads=heads)
    cls_head = dict(type='XCLIPTextHead', class_names=list(class_names),
                    embed_dim=32, vision_width=64,
                    text_cfg=dict(width=32, layers=1,
                                  **({} if heads is None else dict(heads=1))),
                    average_clips='prob')
    if heads is not None:
        cls_head['prompt_cfg'] = dict(heads=heads)
    cls_head.update(head)
    preprocessor = dict(type='ActionDataPreprocessor', format_shape='NCTHW')
    if normalize:
        preprocessor.update(mean=[122.8, 116.7, 104.1],
                            std=[68.5, 66.6, 70.3])
    return dict(
        type='XCLIPRecognizer',
        backbone=dict(type='CCTViT', input_resolution=32,
                      patch_size=patch_size, width=64, layers=layers,
                      output_dim=32, **sized),
        neck=dict(type='MITNeck', num_frames=num_frames, embed_dim=32,
                  **sized),
        cls_head=cls_head,
        data_preprocessor=preprocessor)


def tiny_xclip(num_frames: int = 8, seed: int = 0,
               class_names: Sequence[str] = LABELS):
    """The model in eval mode, non-trivial everywhere: random norm affines,
    biases, prompt alpha, and a temporal table of unit scale (X-CLIP's init,
    std 0.02, would hide what interpolating it does)."""
    init_default_scope('mmaction')
    torch.manual_seed(seed)
    model = MODELS.build(tiny_xclip_cfg(num_frames, class_names)).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or name.endswith('alpha'):
                p.add_(0.1 * torch.randn_like(p))
            elif 'ln' in name or 'norm' in name:
                p.add_(0.1 * torch.randn_like(p))
        model.neck.positional_embedding.normal_()
    return model


def save_tiny_xclip(path: str, num_frames: int = 8, seed: int = 0) -> str:
    """An mmxclip checkpoint (``meta['model_cfg']``, as
    ``tools/convert_weights.py`` writes) of :func:`tiny_xclip`."""
    model = tiny_xclip(num_frames, seed)
    save_checkpoint(
        dict(state_dict=model.state_dict(),
             meta=dict(model_cfg=copy.deepcopy(tiny_xclip_cfg(num_frames)))),
        path)
    return path


def samples(n: int, label: bool = True) -> List[ActionDataSample]:
    """``n`` data samples, labelled ``i % len(NAMES)`` unless not ``label``."""
    out = []
    for i in range(n):
        s = ActionDataSample()
        if label:
            s.set_gt_label(torch.tensor(i % len(NAMES)))
        out.append(s)
    return out


def one_view_at_a_time(model, inputs):
    """Logits (N, V, K) of every view run through the model on its own: one
    video, one view per call, so no order of videos and views can mix."""
    n, v = inputs.shape[:2]
    with torch.no_grad():
        return torch.stack([torch.stack([
            model.extract_feat(inputs[i:i + 1, j:j + 1], stage='head')[0][0]
            for j in range(v)]) for i in range(n)])


def float32_layer_norm(self, x):
    """CUDA autocast's policy for layer norms: computed, and returned, in
    float32 (CPU autocast keeps bfloat16, so tests patch this in as
    ``nn.LayerNorm.forward`` to emulate it)."""
    return F.layer_norm(x.float(), self.normalized_shape, self.weight,
                        self.bias, self.eps)
