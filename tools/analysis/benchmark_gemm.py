"""Float32 CPU GEMM: PyTorch's ``F.linear`` (MKL) against oneDNN's
``torch.ops.mkldnn._linear_pointwise``, which ``mmxclip.models.layers.linear``
uses for CPU inference on AMD CPUs, on the linear layers of a CLIP ViT
block.

    python tools/analysis/benchmark_gemm.py    # ViT-B/16, 8 frames, batch 1, 4
    python tools/analysis/benchmark_gemm.py --width 1024 --tokens 257

Prints one row per layer and batch (milliseconds per call, median of
``torch.utils.benchmark``'s adaptive runs, and the ratio) and one per block.
"""
import argparse
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.utils import benchmark


def layer_shapes(width: int) -> List[tuple]:
    """(name, in, out) of the linear layers of one CLIP ViT block."""
    return [('attn.in_proj', width, 3 * width),
            ('attn.out_proj', width, width),
            ('mlp.c_fc', width, 4 * width),
            ('mlp.c_proj', 4 * width, width)]


def time_ms(stmt: str, x, weight, bias, threads: int,
            min_run_time: float) -> float:
    """Median milliseconds of one call of ``stmt``."""
    timer = benchmark.Timer(
        stmt=stmt, globals=dict(x=x, w=weight, b=bias, F=F, torch=torch),
        num_threads=threads)
    return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--width', type=int, default=768)
    p.add_argument('--tokens', type=int, default=197,
                   help='tokens per frame (197: 224 px at patch 16)')
    p.add_argument('--frames', type=int, default=8)
    p.add_argument('--batches', type=int, nargs='+', default=[1, 4])
    p.add_argument('--threads', type=int, default=torch.get_num_threads())
    p.add_argument('--min-run-time', type=float, default=1.0,
                   help='seconds timed per measurement')
    args = p.parse_args(argv)
    if not torch.backends.mkldnn.is_available():
        raise SystemExit('this PyTorch build has no oneDNN')
    onednn = "torch.ops.mkldnn._linear_pointwise(x, w, b, 'none', [], '')"
    print(f'{args.threads} threads; ms per call')
    print(f"{'batch':>5} {'layer':<14} {'M x K x N':>18} {'F.linear':>9} "
          f"{'oneDNN':>9} {'ratio':>6}")
    with torch.no_grad():
        for batch in args.batches:
            rows = batch * args.frames * args.tokens
            total = [0.0, 0.0]
            for name, k, n in layer_shapes(args.width):
                x = torch.randn(rows, k)
                w, b = torch.randn(n, k) * k**-0.5, torch.randn(n)
                torch.testing.assert_close(
                    torch.ops.mkldnn._linear_pointwise(x, w, b, 'none', [],
                                                       ''),
                    F.linear(x, w, b))
                ms = [time_ms(stmt, x, w, b, args.threads, args.min_run_time)
                      for stmt in ('F.linear(x, w, b)', onednn)]
                total = [t + m for t, m in zip(total, ms)]
                print(f'{batch:>5} {name:<14} {f"{rows}x{k}x{n}":>18} '
                      f'{ms[0]:>9.4g} {ms[1]:>9.4g} {ms[0] / ms[1]:>5.2f}x')
            print(f'{batch:>5} {"block":<14} {"":>18} {total[0]:>9.4g} '
                  f'{total[1]:>9.4g} {total[0] / total[1]:>5.2f}x')


if __name__ == '__main__':
    main()
