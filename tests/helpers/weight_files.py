"""Small weight files in every real format, and videos, made in tests."""
import copy
import functools
import os
import os.path as osp

import cv2
import numpy as np
import torch
from mmaction.registry import MODELS

from mmxclip.weights import hf_to_official
from . import FIXTURES, load_tool  # noqa: F401  (load_tool: re-exported)
from .hf_reference import (hf_logits, random_hf_model, random_videos,
                           tiny_hf_config)

# What the official X-CLIP training code wrote (tests/fixtures/
# make_official_fixture.py), and its model's logits on a saved input.
OFFICIAL = osp.join(FIXTURES, 'official', 'ckpt_epoch_0.pth')
REFERENCE = osp.join(osp.dirname(OFFICIAL), 'reference.pt')

# Tiny X-CLIP whose head counts follow the official rule (width / 64), so
# an official-layout file (which stores no head counts) rebuilds it.
OFFICIAL_RULE = dict(width=128, embed=64, text_width=64)


def official_rule_hf_model(seed: int = 0):
    """A random HF ``XCLIPModel`` with heads = width / 64 everywhere."""
    cfg = tiny_hf_config(width=OFFICIAL_RULE['width'],
                         embed=OFFICIAL_RULE['embed'], frames=4, image=32)
    cfg.vision_config.num_attention_heads = OFFICIAL_RULE['width'] // 64
    cfg.vision_config.mit_num_attention_heads = OFFICIAL_RULE['embed'] // 64
    cfg.prompt_num_attention_heads = OFFICIAL_RULE['embed'] // 64
    cfg.text_config.hidden_size = OFFICIAL_RULE['text_width']
    cfg.text_config.intermediate_size = 4 * OFFICIAL_RULE['text_width']
    cfg.text_config.num_attention_heads = OFFICIAL_RULE['text_width'] // 64
    return random_hf_model(seed, config=cfg)


def save_official(hf_model, path: str) -> str:
    """The official release layout: ``{'model': {'module.' + key: ...}}``."""
    sd = hf_to_official(hf_model.state_dict())
    torch.save({'model': {'module.' + k: v for k, v in sd.items()},
                'epoch': 29}, path)
    return path


def tiny_open_clip(quick_gelu: bool = True, image: int = 32, seed: int = 0):
    """A random open_clip ``CLIP`` (CLIP's block layout) in eval mode, with
    random layer-norm affines and biases so nothing is trivially zero."""
    import open_clip
    torch.manual_seed(seed)
    model = open_clip.model.CLIP(
        embed_dim=32,
        vision_cfg=dict(image_size=image, layers=2, width=128,
                        patch_size=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=64,
                      heads=1, layers=2),
        quick_gelu=quick_gelu).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('bias') or '.ln' in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def save_torchscript(model, path: str, resolution: int = 32) -> str:
    """An OpenAI-style TorchScript archive: the scripted model plus the
    three non-parameter entries (``input_resolution``, ``context_length``,
    ``vocab_size``) OpenAI's archives carry in their state dict."""
    for key, value in dict(input_resolution=resolution, context_length=77,
                           vocab_size=49408).items():
        if hasattr(model, key):  # open_clip keeps two of them as ints
            delattr(model, key)
        model.register_buffer(key, torch.tensor(value))
    torch.jit.save(torch.jit.script(model), path)
    return path


def write_video(path: str, frames: int = 16, size: int = 48,
                seed: int = 0) -> str:
    """A small mp4 (mp4v) of a moving square on noise."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 8,
                             (size + 16, size))
    for t in range(frames):
        img = rng.integers(0, 80, (size, size + 16, 3), dtype=np.uint8)
        x = 2 * t % size
        img[10:26, x:x + 16] = (40, 200, 255)
        writer.write(img)
    writer.release()
    assert osp.getsize(path) > 0
    return path


def write_videos(folder: str, count: int) -> list:
    """``count`` videos ``v0.mp4``, ``v1.mp4``, ... in ``folder``, of 12,
    14, ... frames (so every video is told apart by its length too)."""
    return [write_video(osp.join(folder, f'v{i}.mp4'), frames=12 + 2 * i,
                        seed=i) for i in range(count)]


def meta_build(model_cfg):
    """Build on the meta device: the whole module tree and every parameter
    shape, without memory or random initialisation (L/14 has 430M
    parameters). Drop-path rates are computed on the CPU and the blending's
    Beta distributions skip their value checks, the two places that read
    tensor values while building."""
    linspace = torch.linspace
    validate = torch.distributions.Distribution._validate_args
    try:
        torch.linspace = functools.partial(linspace, device='cpu')
        torch.distributions.Distribution.set_default_validate_args(False)
        with torch.device('meta'):
            return MODELS.build(model_cfg)
    finally:
        torch.linspace = linspace
        torch.distributions.Distribution.set_default_validate_args(validate)


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def official_logits(model, dtype=torch.float32):
    """Logits (B, K) of an XCLIPRecognizer and of the official model on the
    fixture's videos; the head gets the fixture's class tokens (its
    vocabulary is tiny)."""
    ref = torch.load(REFERENCE, weights_only=True)
    model = copy.deepcopy(model).to(dtype)
    model.cls_head.class_tokens = ref['tokens']
    videos = ref['videos'].to(dtype).transpose(1, 2).unsqueeze(1)
    key = 'logits' if dtype == torch.float32 else 'logits_float64'
    return xclip_logits(model, videos), ref[key].to(dtype)


def assert_official_logits(model):
    """float32 <= 1e-5 and float64 <= 1e-10 relative to the official
    model's logits."""
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        ours, ref = official_logits(model, dtype)
        assert ref.std() > 0.1
        err = rel_err(ours, ref)
        print(f'{dtype} max|d|/max|ref| = {err:.3g}')
        assert err <= tol


def xclip_logits(model, inputs):
    """Logits (B, K) of an XCLIPRecognizer on (B, 1, C, T, H, W)."""
    with torch.no_grad():
        return model.extract_feat(inputs, stage='head')[0]


def assert_same_logits(model, hf):
    """float32: max|d| <= 1e-5 of the logit scale s on inputs whose logits
    discriminate (std > 0.1); float64: the conversion is exact (<= 1e-10 of
    max|ref|) on every input.

    Logits are s * cos(video, text) with s = exp(logit_scale): float32
    rounds the embeddings relative to their norms, so the logits' rounding is
    relative to s, not to the largest cosine a random model happens to
    reach (|cos| <= 0.13 here). Measured on an Intel Xeon for the tiny model
    of tests/test_apis/test_inference.py: HF's own float32 logits are
    3.3e-5 of max|ref| from its float64 ones (mmxclip's 1.8e-5), so
    agreement to 1e-5 of max|ref| is not something two correct float32
    implementations can promise; relative to s they agree to 2e-6.
    """
    scale = hf.logit_scale.exp().item()
    for seed in (2, 3):
        videos, inputs = random_videos(hf, batch=2, seed=seed)
        ref = hf_logits(hf, videos)
        assert ref.std() > 0.1
        err = (xclip_logits(model, inputs) - ref).abs().max().item() / scale
        print(f'float32 max|d|/logit scale = {err:.3g}')
        assert err <= 1e-5
    model, hf = copy.deepcopy(model).double(), copy.deepcopy(hf).double()
    for seed in (1, 2, 3):
        videos, inputs = random_videos(hf, batch=2, seed=seed)
        err = rel_err(xclip_logits(model, inputs.double()),
                      hf_logits(hf, videos.double()))
        print(f'float64 max|d|/max|ref| = {err:.3g}')
        assert err <= 1e-10


def converted_tiny_xclip(hf_model, folder: str, class_names, *extra) -> str:
    """``tools/convert_weights.py --src-format hf`` on a saved HF model.

    Returns:
        str: The written checkpoint; its config is beside it (``.py``).
    """
    hf_model.save_pretrained(osp.join(folder, 'hf'))
    names = osp.join(folder, 'class_names.txt')
    with open(names, 'w') as f:
        f.write('\n'.join(class_names) + '\n')
    out = osp.join(folder, 'tiny_xclip.pth')
    load_tool('convert_weights.py').main(
        ['--src-format', 'hf', osp.join(folder, 'hf'), out,
         '--class-names', names, *extra])
    return out


def save_fsdp_ranks(folder: str, tensors, world: int = 2,
                    offsets=None) -> str:
    """``rank{r}.pth`` as FSDP's ``SHARDED_STATE_DICT`` writes them: each
    tensor of ``tensors`` a real ``ShardedTensor`` of its rows split over
    ``world`` ranks (made in this process with torch's fake process group).

    Args:
        folder: Where the files go (created).
        tensors: Name -> full tensor.
        world: Ranks.
        offsets: ``{(name, rank): [row, col, ...]}``, a shard's recorded
            offsets replaced after it was made (a damaged save).

    Returns:
        str: ``folder``.
    """
    import torch.distributed as dist
    from torch.distributed._shard.sharded_tensor import (Shard, ShardedTensor,
                                                         ShardMetadata)
    from torch.distributed._shard.sharded_tensor.metadata import (
        ShardedTensorMetadata, TensorProperties)
    from torch.testing._internal.distributed.fake_pg import FakeStore
    os.makedirs(folder, exist_ok=True)
    offsets = offsets or {}
    make = ShardedTensor._init_from_local_shards_and_global_metadata
    for rank in range(world):
        dist.init_process_group('fake', rank=rank, world_size=world,
                                store=FakeStore())
        state = {}
        for name, full in tensors.items():
            rows = [len(c) for c in full.chunk(world)]
            starts = [sum(rows[:r]) for r in range(world)]
            metas = [ShardMetadata([starts[r]] + [0] * (full.dim() - 1),
                                   [rows[r], *full.shape[1:]],
                                   f'rank:{r}/cpu') for r in range(world)]
            local = full[starts[rank]:starts[rank] + rows[rank]].clone()
            state[name] = make(
                [Shard(local, metas[rank])], ShardedTensorMetadata(
                    metas, full.shape,
                    TensorProperties.create_from_tensor(full)))
            if (name, rank) in offsets:
                metas[rank].shard_offsets[:] = offsets[name, rank]
        state['buffer'] = torch.ones(2)
        torch.save(dict(state_dict=state, meta={}),
                   osp.join(folder, f'rank{rank}.pth'))
        dist.destroy_process_group()
    return folder
