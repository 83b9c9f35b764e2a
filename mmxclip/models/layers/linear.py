"""The linear layers of every X-CLIP module, with oneDNN's GEMM for CPU
inference.

The projections are ~75 % of a CPU forward of the CCT backbone, and
PyTorch runs float32 ``F.linear`` on CPU through MKL's sgemm. On AMD CPUs
MKL takes a slower code path than oneDNN (the library behind PyTorch's
``mkldnn`` ops, which dispatches on the instruction set, not the vendor):
on this project's EPYC machine oneDNN's float32 GEMM took a ViT-B/16 block's
linears 1.75x faster at batch 1 and 1.13x at batch 4 on a loaded machine
(``python tools/analysis/benchmark_gemm.py``; the README has the figures).
:func:`linear` therefore sends float32 CPU work without autograd or autocast
to ``torch.ops.mkldnn._linear_pointwise``, the op PyTorch's own compiler
(inductor) emits for CPU linears; everything else (training, float64, half
precision and autocast on CPU, CUDA, tracing for FLOP counts or export)
keeps ``F.linear``. Both are float32 GEMMs: they differ only in summation order
(~1e-7 relative).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# oneDNN ships with the x86 and Arm CPU builds of PyTorch.
_ONEDNN = torch.backends.mkldnn.is_available()
_onednn_linear = torch.ops.mkldnn._linear_pointwise if _ONEDNN else None


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

    Float32 CPU inference runs oneDNN's GEMM (see the module docstring).
    """
    if _onednn_applies(x, weight):
        return _onednn_linear(x, weight, bias, 'none', [], '')
    return F.linear(x, weight, bias)


class Linear(nn.Linear):
    """``nn.Linear`` computed by :func:`linear`; same parameters and keys."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
