"""The linear layers of every X-CLIP module, with oneDNN's GEMM for CPU
inference where MKL is slow.

The projections are most of a CPU forward of the CCT backbone, and PyTorch
runs float32 ``F.linear`` on CPU through MKL's sgemm. MKL takes its fast
code paths on Intel CPUs only; on other x86 CPUs it takes a slower one than
oneDNN (the library behind PyTorch's ``mkldnn`` ops, which dispatches on the
instruction set, not the vendor). Measured with ``python
tools/analysis/benchmark_gemm.py`` on a ViT-B/16 block's linears
(``docs/performance.md`` has the figures): on an AMD EPYC oneDNN was
faster, on an Intel Xeon slower. :func:`linear` therefore sends float32 CPU
work without autograd or autocast to ``torch.ops.mkldnn._linear_pointwise``
(the op PyTorch's own compiler, inductor, emits for CPU linears) on AMD CPUs
when PyTorch runs on MKL; everything else (Intel and other CPUs, training,
float64, half precision and autocast on CPU, CUDA, tracing for FLOP counts
or export) keeps ``F.linear``. Both are float32 GEMMs: they differ only in
summation order (~1e-7 relative). Bfloat16 weights (the ``bf16`` inference
precision, :mod:`mmxclip.models.precision`) never take this switch: their
products run in ``F.linear``, which PyTorch sends to oneDNN's bfloat16 GEMM
itself.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# oneDNN ships with the x86 and Arm CPU builds of PyTorch.
_onednn_linear = (torch.ops.mkldnn._linear_pointwise
                  if torch.backends.mkldnn.is_available() else None)


def cpu_vendor(cpuinfo: str = '/proc/cpuinfo') -> Optional[str]:
    """The x86 vendor string (``'GenuineIntel'``, ``'AuthenticAMD'``, ...)
    from ``cpuinfo``; None where there is none (not Linux, not x86)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith('vendor_id'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return None


def onednn_pays_off(vendor: Optional[str]) -> bool:
    """Whether oneDNN beats PyTorch's own float32 CPU GEMM: with MKL on an
    AMD CPU (see the module docstring). Unmeasured cases keep ``F.linear``."""
    return (_onednn_linear is not None and torch.backends.mkl.is_available()
            and vendor == 'AuthenticAMD')


# Read once at import; profile_vision.py switches it to compare both GEMMs.
_ONEDNN = onednn_pays_off(cpu_vendor())


def _onednn_applies(x: Tensor, weight: Tensor) -> bool:
    """Whether :func:`linear` may use oneDNN for this call."""
    return (_ONEDNN and x.device.type == 'cpu'
            and x.dtype == weight.dtype == torch.float32
            and not torch.is_grad_enabled()
            # Under autocast F.linear computes in bfloat16; this op would not.
            and not torch.is_autocast_enabled('cpu')
            and not torch.jit.is_tracing()
            and not torch.compiler.is_compiling())


def linear(x: Tensor, weight: Tensor,
           bias: Optional[Tensor] = None) -> Tensor:
    """``F.linear(x, weight, bias)``: (..., in) -> (..., out).

    Float32 CPU inference runs oneDNN's GEMM on the CPUs where it is faster
    (see the module docstring). Bfloat16 weights in a float32 model
    (:func:`~mmxclip.models.precision.apply_precision`) take bfloat16
    activations; the result comes back in the input's dtype.
    """
    if weight.dtype == torch.bfloat16 and x.dtype == torch.float32:
        return F.linear(x.to(weight.dtype), weight, bias).to(x.dtype)
    if _onednn_applies(x, weight):
        return _onednn_linear(x, weight, bias, 'none', [], '')
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """``nn.Linear`` computed by :func:`linear`; same parameters and keys."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
