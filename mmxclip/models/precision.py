"""The numerics of an inference model: float32, bfloat16 or int8 linears.

One model, one code path: a precision changes what the linear layers compute
with, nothing else. The linears are ~90 % of a forward's FLOPs (the
projections of every block; ``tools/analysis/get_flops.py``); layer norms,
softmax, attention products, the patch convolution and the residual stream
stay float32 in every precision.

* ``fp32``: as trained.
* ``bf16``: the weights of every :class:`~mmxclip.models.layers.Linear` and
  attention input projection are stored in bfloat16;
  :func:`~mmxclip.models.layers.linear` casts the activations to bfloat16
  for the product and the result back to float32. On a CPU with AMX or
  ``avx512_bf16`` oneDNN runs these products natively; elsewhere PyTorch
  emulates them (correct, and several times slower than float32).
* ``int8``: dynamic quantisation of the linears outside CLIP's text
  encoder: weights int8 per output channel, activations quantised per call
  (PyTorch's ``quantized::linear_dynamic``, the op of
  ``torch.ao.quantization.quantize_dynamic``; CPU only). The text encoder
  stays float32: it runs once per class set (its embeddings are cached), so
  int8 would save no time per video, and on a random B/16 with 400 classes
  it was most of int8's error (the top-5 of 14 of 20 videos changed with
  it, 1 without; docs/performance.md, "Inference precisions").
* ``auto``: ``bf16`` where ``/proc/cpuinfo`` lists ``amx_bf16`` or
  ``avx512_bf16``, ``fp32`` elsewhere (and on every non-CPU device); the
  choice is logged once per process.

Training and the equivalence tests run float32 / float64 models that never
pass through :func:`apply_precision`.
"""
import sys
import warnings
from typing import FrozenSet, Optional, Set, Tuple, Union

import torch
from torch import nn

from .heads.text_encoder import CLIPTextEncoder
from .layers import Linear, MultiheadAttention

PRECISIONS = ('auto', 'fp32', 'bf16', 'int8')
# The CPU flags that make bfloat16 products native (Linux names).
BF16_FLAGS = ('amx_bf16', 'avx512_bf16')

_logged: Set[Tuple[str, str]] = set()


def cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> FrozenSet[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo``; empty
    where there are none (not Linux, or not x86)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith('flags'):
                    return frozenset(line.split(':', 1)[1].split())
    except OSError:
        pass
    return frozenset()


def resolve_precision(precision: str,
                      device: Union[str, torch.device] = 'cpu',
                      cpuinfo: str = '/proc/cpuinfo') -> str:
    """``precision`` with ``auto`` decided (see the module docstring).

    Raises:
        ValueError: An unknown precision, or int8 on a non-CPU device.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got '
                         f'{precision!r}')
    device = torch.device(device).type
    if precision == 'int8' and device != 'cpu':
        raise ValueError(f'precision int8 runs on the CPU only, not on '
                         f'{device}; use bf16 or fp32 there')
    if precision != 'auto':
        return precision
    flags = cpu_flags(cpuinfo) if device == 'cpu' else frozenset()
    return 'bf16' if flags & set(BF16_FLAGS) else 'fp32'


def _why(resolved: str, device: str, cpuinfo: str) -> str:
    """The log line of an ``auto`` choice."""
    if device != 'cpu':
        return f'precision auto: fp32 (device {device})'
    have = sorted(cpu_flags(cpuinfo) & set(BF16_FLAGS))
    if have:
        return f'precision auto: bf16 ({cpuinfo} lists {", ".join(have)})'
    return (f'precision auto: fp32 ({cpuinfo} lists neither '
            f'{" nor ".join(BF16_FLAGS)}: bfloat16 would be emulated)')


def model_precision(model: nn.Module) -> str:
    """The precision :func:`apply_precision` gave ``model``; ``'fp32'`` if
    it never went through it."""
    return getattr(model, 'precision', 'fp32')


def _int8_linear(weight: torch.Tensor,
                 bias: Optional[torch.Tensor]) -> nn.Module:
    """PyTorch's dynamic int8 linear with these float weights."""
    import torch.ao.nn.quantized.dynamic as nnqd
    from torch.ao.quantization import per_channel_dynamic_qconfig
    plain = nn.Linear(weight.shape[1], weight.shape[0], bias is not None)
    with torch.no_grad():
        plain.weight.copy_(weight)
        if bias is not None:
            plain.bias.copy_(bias)
    # Per channel: on the random B/16 the top-5 of 1 video in 20 changed
    # against fp32, 3 per tensor, at the same speed (performance.md).
    plain.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():
        # PyTorch 2.10+ deprecates quantized tensors (its issue 184982);
        # the op still runs. docs/precision.md names the way forward.
        warnings.filterwarnings('ignore', message='.*quantized tensor',
                                category=UserWarning)
        return nnqd.Linear.from_float(plain)


def _to_int8(module: nn.Module) -> None:
    """Swap every :class:`Linear` below ``module`` for its int8 twin and
    give each attention an int8 fused input projection; the text encoder
    is left float32 (module docstring)."""
    for name, child in module.named_children():
        if isinstance(child, CLIPTextEncoder):
            continue
        if isinstance(child, Linear):
            setattr(module, name, _int8_linear(child.weight, child.bias))
            continue
        if isinstance(child, MultiheadAttention):
            child.in_proj_int8 = _int8_linear(child.in_proj_weight,
                                              child.in_proj_bias)
        _to_int8(child)


def _to_bf16(model: nn.Module) -> None:
    """Store every linear weight (and bias) in bfloat16."""
    for module in model.modules():
        if isinstance(module, Linear):
            module.to(torch.bfloat16)
        elif isinstance(module, MultiheadAttention):
            for name in ('in_proj_weight', 'in_proj_bias'):
                param = getattr(module, name)
                if param is not None:
                    param.data = param.data.to(torch.bfloat16)


def apply_precision(model: nn.Module,
                    precision: str = 'auto',
                    cpuinfo: str = '/proc/cpuinfo') -> str:
    """Give an inference model its numerics, in place (see the module
    docstring); call it once, on a float32 model in eval mode, after its
    weights are loaded and it is on its device.

    The model keeps :func:`~mmxclip.apis.model_fingerprint` of its float32
    weights, so features and indexes name the weights file, and records the
    precision (:func:`model_precision`), which they record next to it.

    Args:
        model: An X-CLIP model (any module built of mmxclip's layers).
        precision: One of :data:`PRECISIONS`.
        cpuinfo: Where ``auto`` reads the CPU's flags.

    Returns:
        str: The precision applied (``auto`` decided).

    Raises:
        ValueError: An unknown precision, int8 off the CPU, or a model that
            already has a precision other than fp32.
    """
    from ..apis.identity import model_fingerprint
    param = next(model.parameters())
    device = param.device.type
    resolved = resolve_precision(precision, device, cpuinfo)
    if model_precision(model) != 'fp32':
        raise ValueError(f'the model already runs in {model.precision}; '
                         'precisions apply to a float32 model once')
    if param.dtype != torch.float32:
        raise ValueError(f'apply_precision needs a float32 model, got '
                         f'{param.dtype}')
    logged = (precision, resolved)
    if logged not in _logged:
        _logged.add(logged)
        # On stderr, not MMEngine's logger (stdout): the inference tools'
        # stdout holds only their results.
        print(_why(resolved, device, cpuinfo) if precision == 'auto' else
              f'precision {resolved}', file=sys.stderr)
    if resolved == 'fp32':
        return resolved
    model.weights_fingerprint = model_fingerprint(model)
    if resolved == 'bf16':
        _to_bf16(model)
    else:
        _to_int8(model)
    model.precision = resolved
    return resolved
