"""Benchmark mmxclip against HuggingFace's ``XCLIPModel`` on equal weights.

Both models are built at the size asked (random weights: HF's own init,
converted to mmxclip with :func:`mmxclip.weights.hf_to_mmxclip`) and timed
side by side in one process on the same inputs. One table row per
(model, frames, batch, classes, mode, device, dtype, compile):

* ``eval``: the full eval forward with ``K`` class texts. HF gets the
  ``input_ids`` of the K class names on every call, as a user of
  ``XCLIPModel`` passes them (CLIP's tokenizer, padded to the 77-token
  context; ``--hf-padding longest`` pads to the longest name instead, as
  ``padding=True`` in HF's processor does). mmxclip runs
  ``XCLIPRecognizer.predict``, whose head caches the class features.
* ``vision``: the video path alone (CCT backbone + MIT), HF's
  ``get_video_features``.
* ``train`` / ``train_cp``: forward + backward + AdamW step with the text
  encoder frozen (as published), without / with activation checkpointing
  (mmxclip ``backbone.with_cp``, HF ``gradient_checkpointing_enable``).

Throughput is the median of ``--runs`` timed calls after ``--warmup`` calls.
Peak memory is measured on one extra call after the timed ones:

* CUDA: ``torch.cuda.max_memory_allocated`` minus what was allocated before
  the call.
* CPU: peak resident set size (read from ``/proc/self/statm`` by a sampling
  thread every 0.5 ms) minus the RSS before the call. ``tracemalloc`` does not
  see torch's allocations; to make RSS follow the live tensors, glibc's malloc
  is told to serve every block of 64 KiB or more by ``mmap`` (returned to the
  system on ``free``) with ``mallopt(M_MMAP_THRESHOLD)``.

FLOPs per view are counted by MMEngine's :class:`FlopAnalyzer` on mmxclip's
eval forward (backbone, MIT, prompt generator and similarity over K classes;
the class texts' encoding is cached and excluded, as the paper's figures
do). FlopAnalyzer counts one multiply-add as one FLOP (fvcore's convention,
the paper's too); ``import mmxclip`` gives it a handle for
``scaled_dot_product_attention`` (:func:`mmxclip.compat.sdpa_flop_jit`: its
two matrix products, ``L * S * d`` each per head), which MMEngine counts as 0.

Examples::

    python tools/benchmark.py --quick
    python tools/benchmark.py --models B/16 --batches 1 4 --modes eval vision
    python tools/benchmark.py --flops --modes   # FLOPs table alone
"""
import argparse
import contextlib
import ctypes
import dataclasses
import os
import statistics
import sys
import threading
import time
import warnings
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmaction.utils import register_all_modules
from torch import Tensor, nn

import mmxclip  # noqa: F401  (stack fixes, registries)
from mmxclip.models.heads import tokenize
from mmxclip.models.layers import default_num_heads
from mmxclip.weights import (hf_to_mmxclip, infer_model_config,
                             resolve_hf_config)

register_all_modules(init_default_scope=True)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Sizes of one X-CLIP variant (OpenAI CLIP's, plus X-CLIP's defaults).

    Attributes:
        image: Frame size.
        patch: Patch size.
        width: Vision width D (heads D / 64).
        layers: Vision blocks.
        embed: Joint embedding dim E (MIT and prompt heads E / 64).
        text_width: Text transformer width (heads width / 64).
        text_layers: Text transformer blocks.
        paper_gflops: The paper's GFLOPs per view, by frame count.
    """
    image: int
    patch: int
    width: int
    layers: int
    embed: int
    text_width: int
    text_layers: int
    paper_gflops: Dict[int, float] = dataclasses.field(default_factory=dict)


SPECS: Dict[str, ModelSpec] = {
    'B/32': ModelSpec(224, 32, 768, 12, 512, 512, 12, {8: 39}),
    'B/16': ModelSpec(224, 16, 768, 12, 512, 512, 12, {8: 145, 16: 287}),
    'L/14': ModelSpec(224, 14, 1024, 24, 768, 768, 12, {8: 658}),
    'tiny': ModelSpec(32, 16, 64, 2, 64, 64, 2),
}

_VERBS = ('playing', 'riding', 'cleaning', 'throwing', 'carrying', 'washing',
          'cutting', 'painting', 'folding', 'catching', 'kicking', 'pushing',
          'climbing', 'juggling', 'building', 'shaking', 'opening', 'tying',
          'cooking', 'repairing')
_OBJECTS = ('guitar', 'bike', 'the dishes', 'a ball', 'wood', 'a car',
            'the windows', 'a fence', 'clothes', 'a frisbee', 'a tire',
            'a rope', 'a ladder', 'eggs', 'sand castles', 'hands', 'a present',
            'shoelaces', 'pasta', 'a watch')


def class_names(k: int) -> List[str]:
    """``k`` distinct action-like class names of Kinetics-400's length."""
    names = [f'{v} {o}' for o in _OBJECTS for v in _VERBS]
    names += [f'{n} outdoors' for n in names]
    if k > len(names):
        raise ValueError(f'at most {len(names)} class names, asked for {k}')
    return names[:k]


def hf_config(spec: ModelSpec, frames: int):
    """``transformers.XCLIPConfig`` of a spec."""
    from transformers import XCLIPConfig
    w, e, tw = spec.width, spec.embed, spec.text_width
    return XCLIPConfig(
        projection_dim=e,
        prompt_layers=2,
        prompt_alpha=0.1,
        prompt_num_attention_heads=default_num_heads(e),
        text_config=dict(hidden_size=tw, intermediate_size=4 * tw,
                         num_hidden_layers=spec.text_layers,
                         num_attention_heads=default_num_heads(tw)),
        vision_config=dict(hidden_size=w, intermediate_size=4 * w,
                           num_hidden_layers=spec.layers,
                           num_attention_heads=default_num_heads(w),
                           image_size=spec.image, patch_size=spec.patch,
                           num_frames=frames, mit_hidden_size=e,
                           mit_intermediate_size=4 * e,
                           mit_num_hidden_layers=1,
                           mit_num_attention_heads=default_num_heads(e)))


def build_pair(spec: ModelSpec, frames: int, names: Sequence[str],
               device: str, with_hf: bool = True, seed: int = 0):
    """mmxclip's recognizer and HF's ``XCLIPModel`` with the same weights.

    Args:
        spec: Model sizes.
        frames: T.
        names: Class names of mmxclip's head.
        device: Where both models go.
        with_hf: Keep the HF model (else only its weights are used).
        seed: Seed of HF's random init.

    Returns:
        tuple: ``(mmxclip, hf or None)``, both in eval mode.
    """
    from transformers import XCLIPModel
    torch.manual_seed(seed)
    cfg = hf_config(spec, frames)
    cfg._attn_implementation = 'sdpa'
    hf = XCLIPModel(cfg).eval()
    sd = hf_to_mmxclip(hf.state_dict())
    mmx = MODELS.build(infer_model_config(
        sd, list(names), hf_config=resolve_hf_config(cfg.to_dict(),
                                                     'XCLIPConfig')))
    mmx.load_state_dict(sd)
    mmx.eval().to(device)
    return mmx, (hf.to(device) if with_hf else None)


# ----------------------------------------------------------------- measuring
def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def peak_memory(fn: Callable[[], object], device: str) -> int:
    """Bytes allocated at the peak of ``fn()`` above what was live before.

    CUDA: the caching allocator's statistics. CPU: torch.profiler's memory
    events (every CPU tensor allocation and free, in order), whose running
    sum is the live tensor bytes; RSS would also count allocator caching and
    freed pages glibc keeps.
    """
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        fn()
    events = sorted((e.start_ns(), e.nbytes())
                    for e in p.profiler.kineto_results.events()
                    if e.name() == '[memory]'
                    and str(e.device_type()).endswith('CPU'))
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


@dataclasses.dataclass
class Measure:
    """Timings (s) and peak memory (bytes) of one implementation."""
    times: List[float]
    peak: int

    @property
    def latency(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.times)


def measure(fns: Dict[str, Callable[[], object]], device: str, runs: int,
            warmup: int) -> Dict[str, Measure]:
    """Time implementations interleaved (A, B, A, B, ...), so that load
    from other processes hits all of them alike, then take each one's peak
    memory on one more call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {k: Measure(times[k], peak_memory(fns[k], device)) for k in fns}


# -------------------------------------------------------------------- tasks
@dataclasses.dataclass
class Inputs:
    """One batch in both layouts, the class token ids and labels."""
    hf_videos: Tensor    # (B, T, C, H, W)
    mmx_videos: Tensor   # (B, 1, C, T, H, W)
    input_ids: Tensor    # (K, L)
    labels: Tensor       # (B,)

    def samples(self, with_labels: bool = False) -> List[ActionDataSample]:
        """MMAction2 data samples of the batch."""
        out = []
        for label in self.labels.tolist():
            s = ActionDataSample()
            if with_labels:
                s.set_gt_label(label)
            out.append(s)
        return out


def make_inputs(spec: ModelSpec, frames: int, batch: int,
                names: Sequence[str], device: str, padding: str) -> Inputs:
    """Random videos, and the names' ids as an HF user passes them."""
    g = torch.Generator().manual_seed(batch * 1000 + frames)
    v = torch.randn(batch, frames, 3, spec.image, spec.image, generator=g)
    ids = tokenize(list(names))
    if padding == 'longest':
        ids = ids[:, :int(ids.argmax(-1).max()) + 1]
    labels = torch.randint(len(names), (batch, ), generator=g)
    return Inputs(v.to(device), v.transpose(1, 2).unsqueeze(1).to(device),
                  ids.to(device), labels.to(device))


def _autocast(device: str, dtype: str):
    if dtype == 'fp32':
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def compiled(mmx: nn.Module, hf: Optional[nn.Module]) -> Iterator[None]:
    """Run both models' eval paths through ``torch.compile``.

    mmxclip: the backbone with ``fullgraph=True`` (a graph break is an
    error), and the neck; the head's text cache stays eager. HF: ``forward``
    and ``get_video_features``, graph breaks allowed.
    """
    patched = [(mmx.backbone, 'forward_features', dict(fullgraph=True)),
               (mmx.neck, 'forward', {})]
    if hf is not None:
        patched += [(hf, 'forward', {}), (hf, 'get_video_features', {})]
    for obj, name, kwargs in patched:
        # static shapes: one graph per batch size, as each row times one
        setattr(obj, name, torch.compile(getattr(obj, name), dynamic=False,
                                         **kwargs))
    try:
        yield
    finally:
        for obj, name, _ in patched:
            delattr(obj, name)


def graph_breaks(mmx: nn.Module, clips: Tensor) -> Dict[str, int]:
    """Graphs and graph breaks dynamo finds in the backbone's forward."""
    torch._dynamo.reset()
    with torch.no_grad():
        explained = torch._dynamo.explain(mmx.backbone.forward_features)(
            clips)
    torch._dynamo.reset()
    return dict(graphs=explained.graph_count,
                graph_breaks=explained.graph_break_count)


def eval_fns(mmx, hf, x: Inputs, dtype: str) -> Dict[str, Callable]:
    """Full eval forward: logits over the K classes."""
    samples = x.samples()

    def run_mmx():
        with torch.no_grad(), _autocast(x.hf_videos.device.type, dtype):
            return mmx(x.mmx_videos, samples, mode='predict')

    def run_hf():
        with torch.no_grad(), _autocast(x.hf_videos.device.type, dtype):
            return hf(input_ids=x.input_ids,
                      pixel_values=x.hf_videos).logits_per_video

    return {'mmxclip': run_mmx, **({'hf': run_hf} if hf else {})}


def vision_fns(mmx, hf, x: Inputs, dtype: str) -> Dict[str, Callable]:
    """Video path alone: CCT backbone and MIT, video embeddings (B, E)."""
    clips = x.mmx_videos[:, 0]

    def run_mmx():
        with torch.no_grad(), _autocast(clips.device.type, dtype):
            return mmx.encode_video(clips)

    def run_hf():
        with torch.no_grad(), _autocast(clips.device.type, dtype):
            return hf.get_video_features(pixel_values=x.hf_videos)

    return {'mmxclip': run_mmx, **({'hf': run_hf} if hf else {})}


def _freeze_hf_text(hf) -> None:
    """Freeze what the published recipe freezes (text side, logit scale)."""
    for name, p in hf.named_parameters():
        if name.startswith(('text_model.', 'text_projection', 'logit_scale')):
            p.requires_grad_(False)


def train_fns(mmx, hf, x: Inputs, dtype: str,
              with_cp: bool) -> Dict[str, Callable]:
    """Training step: forward, backward, AdamW step, gradients freed."""
    samples = x.samples(with_labels=True)
    device = x.hf_videos.device.type
    mmx.train()
    mmx.backbone.transformer.with_cp = with_cp
    opt_m = torch.optim.AdamW(
        [p for p in mmx.parameters() if p.requires_grad], lr=1e-6)

    def run_mmx():
        with _autocast(device, dtype):
            loss = mmx(x.mmx_videos, samples, mode='loss')['loss_cls']
        loss.backward()
        opt_m.step()
        opt_m.zero_grad(set_to_none=True)
        return loss

    fns = {'mmxclip': run_mmx}
    if hf is not None:
        hf.train()
        _freeze_hf_text(hf)
        with warnings.catch_warnings():  # renamed activation_* in 5.2x
            warnings.simplefilter('ignore', FutureWarning)
            if with_cp:
                hf.gradient_checkpointing_enable(dict(use_reentrant=False))
            else:
                hf.gradient_checkpointing_disable()
        opt_h = torch.optim.AdamW(
            [p for p in hf.parameters() if p.requires_grad], lr=1e-6)

        def run_hf():
            with _autocast(device, dtype):
                logits = hf(input_ids=x.input_ids,
                            pixel_values=x.hf_videos).logits_per_video
                loss = F.cross_entropy(logits.float(), x.labels)
            loss.backward()
            opt_h.step()
            opt_h.zero_grad(set_to_none=True)
            return loss

        fns['hf'] = run_hf
    return fns


def check_checkpointing(mmx, x: Inputs) -> Dict[str, float]:
    """Loss and gradients of one step without and with ``with_cp``.

    Returns:
        dict: ``loss_diff`` (absolute) and ``grad_rel_diff`` (max over
        parameters of max |g_cp - g| / max |g|).
    """
    samples = x.samples(with_labels=True)
    mmx.train()
    out = []
    for with_cp in (False, True):
        mmx.backbone.transformer.with_cp = with_cp
        mmx.zero_grad(set_to_none=True)
        loss = mmx(x.mmx_videos, samples, mode='loss')['loss_cls']
        loss.backward()
        grads = {n: p.grad.clone() for n, p in mmx.named_parameters()
                 if p.grad is not None}
        out.append((loss.item(), grads))
    mmx.zero_grad(set_to_none=True)
    mmx.backbone.transformer.with_cp = False
    mmx.eval()
    (l0, g0), (l1, g1) = out
    rel = max(((g1[n] - g).abs().max() / g.abs().max().clamp_min(1e-30)
               ).item() for n, g in g0.items())
    return dict(loss_diff=abs(l1 - l0), grad_rel_diff=rel)


def bf16_error(mmx, hf, x: Inputs) -> Dict[str, float]:
    """max |logits(bf16 autocast) - logits(fp32)| / max |logits(fp32)| of
    both implementations on the same batch."""
    out = {}
    for name, fn in (('mmxclip', eval_fns(mmx, hf, x, 'fp32')['mmxclip']),
                     ('hf', eval_fns(mmx, hf, x, 'fp32')['hf'])):
        logits = []
        for dtype in ('fp32', 'bf16'):
            with _autocast(x.hf_videos.device.type, dtype):
                res = fn()
            logits.append(torch.stack([s.pred_score for s in res]) if
                          isinstance(res, list) else res.float())
        ref = logits[0]
        out[name] = round(((logits[1] - ref).abs().max() /
                           ref.abs().max()).item(), 5)
    return out


# -------------------------------------------------------------------- FLOPs
class _EvalForward(nn.Module):
    """mmxclip's eval forward as one tensor-in, tensor-out module."""

    def __init__(self, mmx: nn.Module) -> None:
        super().__init__()
        self.mmx = mmx

    def forward(self, clips: Tensor) -> Tensor:
        return self.mmx.cls_head(self.mmx.encode_video(clips))


def count_flops(mmx: nn.Module, spec: ModelSpec,
                frames: int) -> Dict[str, float]:
    """GFLOPs (multiply-adds) of one view through mmxclip's eval forward.

    Returns:
        dict: ``total`` and ``attention`` (the SDPA handle's share) in G.
    """
    from mmengine.analysis import FlopAnalyzer
    mmx.eval()
    with torch.no_grad():
        mmx.cls_head.class_embeddings()  # cached: the text is not counted
    clip = torch.randn(1, 3, frames, spec.image, spec.image,
                       device=mmx.cls_head.logit_scale.device)
    # SDPA is counted by the handle ``import mmxclip`` registered.
    analyzer = FlopAnalyzer(_EvalForward(mmx), (clip, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    by_op = analyzer.by_operator()
    return dict(total=analyzer.total() / 1e9,
                attention=by_op.get('scaled_dot_product_attention', 0) / 1e9)


def matmul_tflops(device: str, dtype: torch.dtype, n: int = 8192) -> float:
    """Rate of one large random matrix product, TFLOP/s (2 per MAC)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    _sync(device)
    return 2 * n**3 * 10 / (time.perf_counter() - t0) / 1e12


# -------------------------------------------------------------------- table
@dataclasses.dataclass
class Row:
    """One line of the table."""
    model: str
    frames: int
    batch: int
    classes: int
    mode: str
    device: str
    dtype: str
    compile: bool
    results: Dict[str, Measure]

    def cells(self) -> List[str]:
        """The row's printed cells, in :data:`COLUMNS` order."""
        m, h = self.results['mmxclip'], self.results.get('hf')

        def side(r: Optional[Measure]) -> List[str]:
            if r is None:
                return ['-', '-', '-']
            return [f'{self.batch / r.latency:.3g}',
                    f'{1e3 * r.latency:.1f}', f'{r.peak / 2**20:.0f}']

        ratio = f'{h.latency / m.latency:.2f}' if h else '-'
        mem = f'{m.peak / h.peak:.2f}' if h and h.peak else '-'
        return [self.model, str(self.frames), str(self.batch),
                str(self.classes), self.mode, self.device, self.dtype,
                'yes' if self.compile else 'no', *side(m), *side(h), ratio,
                mem]


COLUMNS = ['model', 'T', 'batch', 'K', 'mode', 'device', 'dtype', 'compile',
           'mmx vid/s', 'mmx ms', 'mmx MiB', 'hf vid/s', 'hf ms', 'hf MiB',
           'speed x', 'mem x']


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


# --------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true',
                   help='tiny model, a few seconds (what the test runs)')
    p.add_argument('--models', nargs='+', default=['B/16'], choices=SPECS)
    p.add_argument('--frames', nargs='+', type=int, default=[8])
    p.add_argument('--batches', nargs='+', type=int, default=[1, 4])
    p.add_argument('--classes', type=int, default=400)
    p.add_argument('--modes', nargs='*', default=['eval', 'vision'],
                   choices=['eval', 'vision', 'train', 'train_cp'])
    p.add_argument('--train-batch', type=int, default=None,
                   help='batch of the training rows (default: the first '
                   'of --batches)')
    p.add_argument('--devices', nargs='+', default=None,
                   help='default: cpu, and cuda when available')
    p.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'], help='bf16 autocast runs on '
                   'CUDA only')
    p.add_argument('--compile', choices=['off', 'on', 'both'], default='off',
                   help='torch.compile rows (CUDA only)')
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--hf-padding', choices=['max_length', 'longest'],
                   default='max_length',
                   help="HF's input_ids: CLIP's 77-token context, or padded "
                   'to the longest class name')
    p.add_argument('--no-hf', action='store_true', help='mmxclip alone')
    p.add_argument('--no-hf-train', action='store_true',
                   help='leave HF out of the training rows')
    p.add_argument('--flops', nargs='*', default=None, metavar='MODEL:T',
                   help='count FLOPs per view, e.g. B/32:8 B/16:8 B/16:16 '
                   'L/14:8 (no value: those four)')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads')
    p.add_argument('--json', default=None, help='also write rows here')
    args = p.parse_args(argv)
    if args.quick:
        args.models, args.frames, args.batches = ['tiny'], [4, 8], [1]
        args.classes, args.modes = 8, ['eval', 'vision', 'train', 'train_cp']
        args.runs, args.warmup, args.devices = 5, 1, ['cpu']
        if args.flops is None:
            args.flops = ['tiny:8']
    if args.flops == []:
        args.flops = ['B/32:8', 'B/16:8', 'B/16:16', 'L/14:8']
    if args.devices is None:
        args.devices = ['cpu'] + (['cuda'] if torch.cuda.is_available()
                                  else [])
    return args


def _settings(device: str, args: argparse.Namespace):
    """(dtype, compile) pairs run on a device."""
    if not device.startswith('cuda'):
        return [('fp32', False)]
    compiles = {'off': [False], 'on': [True], 'both': [False, True]}
    return [(d, c) for c in compiles[args.compile] for d in args.dtypes]


def run_rows(args: argparse.Namespace, notes: Dict[str, object],
             out=sys.stdout) -> Dict[str, object]:
    """Measure every row asked for, print the table and the notes (which
    start with what ``notes`` holds)."""
    names = class_names(args.classes)
    rows: List[Row] = []
    for device in args.devices:
        for model in args.models:
            spec = SPECS[model]
            for frames in args.frames:
                mmx, hf = build_pair(spec, frames, names, device,
                                     with_hf=not args.no_hf)
                if device.startswith('cuda') or args.compile != 'off':
                    _device_notes(args, spec, model, frames, device, mmx,
                                  hf, notes, out)
                for dtype, comp in _settings(device, args):
                    ctx = (compiled(mmx, hf) if comp else
                           contextlib.nullcontext())
                    with ctx:
                        rows += _rows_for(args, spec, model, frames, names,
                                          device, dtype, comp, mmx, hf,
                                          notes, out)
                del mmx, hf
    print(markdown(COLUMNS, [r.cells() for r in rows]), file=out)
    notes.update(_frame_scaling(rows))
    notes.update(_utilization(rows, notes))
    for key, value in notes.items():
        print(f'{key}: {value}', file=out)
    return dict(rows=[dataclasses.asdict(r) for r in rows], notes=notes)


def _rows_for(args, spec, model, frames, names, device, dtype, comp, mmx,
              hf, notes, out) -> List[Row]:
    rows = []
    for mode in args.modes:
        training = mode.startswith('train')
        if training and comp:
            continue
        batches = ([args.train_batch or args.batches[0]]
                   if training else args.batches)
        for batch in batches:
            x = make_inputs(spec, frames, batch, names, device,
                            args.hf_padding)
            other = hf
            if training:
                other = None if args.no_hf_train else hf
                fns = train_fns(mmx, other, x, dtype, mode == 'train_cp')
            elif mode == 'eval':
                fns = eval_fns(mmx, hf, x, dtype)
            else:
                fns = vision_fns(mmx, hf, x, dtype)
            results = measure(fns, device, args.runs, args.warmup)
            mmx.eval()
            if other is not None:
                other.eval()
            row = Row(model, frames, batch, len(names), mode, device, dtype,
                      comp, results)
            print('  ' + ' | '.join(row.cells()), file=out, flush=True)
            rows.append(row)
            if mode == 'train_cp' and dtype == 'fp32':
                notes[f'checkpointing {model} {frames}f b{batch} {device}'] \
                    = check_checkpointing(mmx, x)
    return rows


def _device_notes(args, spec, model, frames, device, mmx, hf, notes,
                  out) -> None:
    """FLOPs per view (for the utilisation), the backbone's graph breaks
    under dynamo and, on CUDA, the error of bf16 autocast."""
    key = f'{model} {frames}f'
    notes[f'GFLOPs/view {key} K={args.classes}'] = round(
        count_flops(mmx, spec, frames)['total'], 2)
    clips = torch.randn(1, 3, frames, spec.image, spec.image, device=device)
    notes[f'dynamo {key} backbone'] = graph_breaks(mmx, clips)
    if device.startswith('cuda') and hf is not None:
        notes[f'bf16 autocast logits error {key}'] = bf16_error(
            mmx, hf, make_inputs(spec, frames, 4, class_names(args.classes),
                                 device, args.hf_padding))
    print(f'  {key}: ' + ', '.join(
        f'{k}={v}' for k, v in notes.items() if key in k), file=out)


def _utilization(rows: Sequence[Row],
                 notes: Dict[str, object]) -> Dict[str, str]:
    """Achieved TFLOP/s of CUDA eval rows against the measured bf16 matmul
    rate (2 FLOPs per multiply-add of MMEngine's count)."""
    rate = notes.get('matmul_tflops', {}).get('bf16')
    out = {}
    for r in rows:
        gflops = notes.get(f'GFLOPs/view {r.model} {r.frames}f K={r.classes}')
        if not (rate and gflops and r.mode == 'eval'
                and r.device.startswith('cuda')):
            continue
        vps = r.batch / r.results['mmxclip'].latency
        tflops = 2 * gflops * vps / 1e3
        key = (f'utilisation {r.model} {r.frames}f b{r.batch} {r.dtype}'
               f'{" compiled" if r.compile else ""}')
        out[key] = (f'{tflops:.0f} TFLOP/s = {100 * tflops / rate:.0f}% of '
                    f'the bf16 matmul rate {rate:.0f}')
    return out


def _frame_scaling(rows: Sequence[Row]) -> Dict[str, str]:
    """time(2T) / time(T) of matching rows, per implementation."""
    out = {}
    for r in rows:
        for r2 in rows:
            same = (r2.model, r2.batch, r2.mode, r2.device, r2.dtype,
                    r2.compile) == (r.model, r.batch, r.mode, r.device,
                                    r.dtype, r.compile)
            if same and r2.frames == 2 * r.frames:
                key = (f'time({r2.frames}f)/time({r.frames}f) {r.model} '
                       f'{r.mode} b{r.batch} {r.device} {r.dtype}'
                       f'{" compiled" if r.compile else ""}')
                out[key] = ', '.join(
                    f'{k} {r2.results[k].latency / m.latency:.2f}'
                    for k, m in r.results.items() if k in r2.results)
    return out


def run_flops(args: argparse.Namespace, out=sys.stdout) -> List[Dict]:
    """Count FLOPs per view and print them beside the paper's."""
    table, result = [], []
    names = class_names(args.classes)
    for item in args.flops:
        model, frames = item.split(':')
        spec, frames = SPECS[model], int(frames)
        mmx, _ = build_pair(spec, frames, names, 'cpu', with_hf=False)
        flops = count_flops(mmx, spec, frames)
        paper = spec.paper_gflops.get(frames)
        diff = f'{100 * (flops["total"] / paper - 1):+.1f}%' if paper else '-'
        table.append([model, str(frames), str(len(names)),
                      f'{flops["total"]:.4g}', f'{flops["attention"]:.3g}',
                      str(paper or '-'), diff])
        result.append(dict(model=model, frames=frames, **flops, paper=paper))
        del mmx
    print(markdown(['model', 'T', 'K', 'GFLOPs/view (MMEngine)',
                    'of which SDPA', 'paper', 'diff'], table), file=out)
    return result


def run_matmul(out=sys.stdout) -> Dict[str, float]:
    """Matrix-product rates of the CUDA device."""
    rates = {'bf16': matmul_tflops('cuda', torch.bfloat16),
             'fp32': matmul_tflops('cuda', torch.float32)}
    print('matmul 8192^3 TFLOP/s: ' + ', '.join(
        f'{k} {v:.0f}' for k, v in rates.items()), file=out)
    return rates


def main(argv: Optional[Sequence[str]] = None, out=sys.stdout) -> Dict:
    """Entry point; returns what it printed, as data."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU '
          f'threads' + (f', {torch.cuda.get_device_name()}'
                        if torch.cuda.is_available() else ''), file=out)
    result: Dict[str, object] = {}
    notes: Dict[str, object] = {}
    if any(d.startswith('cuda') for d in args.devices):
        notes['matmul_tflops'] = run_matmul(out)
    if args.flops:
        result['flops'] = run_flops(args, out)
    if args.modes and args.batches:
        result.update(run_rows(args, notes, out))
    result.setdefault('notes', notes)
    if args.json:
        import json
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1, default=str)
    return result


if __name__ == '__main__':
    main()
