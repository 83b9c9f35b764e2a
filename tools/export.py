"""Export X-CLIP with a fixed class set to ONNX, for runtimes without PyTorch.

    python tools/export.py k400_32_8.pth --labels "playing guitar,swimming" \
        --out xclip.onnx [--num-frames 16] [--precision int8] [--benchmark]

The class names' text embeddings are computed once and stored in the graph;
the input is uint8 frames (B, V, T, H, W, 3), normalisation inside, batch B
and views V dynamic (:mod:`mmxclip.deploy.onnx_export`). ``--precision int8``
quantises the graph's MatMul and Gemm weights (onnxruntime's dynamic
quantisation). After writing, the export is checked against PyTorch's fp32
model on random clips: an fp32 file's outputs must equal it within 1e-4, an
int8 file's logits within 6 % of the largest logit (exit status 1
otherwise). ``--benchmark`` also prints the latency of the file written in
onnxruntime and of PyTorch at batch 1.
"""
import argparse
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from mmxclip.apis import init_xclip
from mmxclip.cli import check_output_file, exit_on_bad_input, positive_int
from mmxclip.deploy import FixedClassXCLIP, export_onnx, read_onnx_metadata
from mmxclip.deploy.onnx_export import NO_EXPORT
from mmxclip.models.heads import load_class_names, tokenize
from mmxclip.models.precision import PRECISIONS

TOLERANCE = 1e-4
# int8's bound: largest |logit - fp32 logit| over the largest |fp32 logit|
# on random clips, as for PyTorch's int8 (tests/test_models/test_precision.py);
# measured 0.8-2.0 % on random models (docs/performance.md), so 3x margin.
INT8_TOLERANCE = 0.06


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='weights init_xclip reads')
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument('--labels', help='comma-separated class names')
    labels.add_argument('--label-file', help='one class name per line')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--num-frames', type=positive_int,
                        help="frames per clip (default: the checkpoint's)")
    parser.add_argument(
        '--precision', default='fp32', choices=PRECISIONS,
        help='fp32 (default) or int8: MatMul and Gemm weights int8, '
        'activations quantised per call (docs/precision.md)')
    parser.add_argument('--benchmark', action='store_true',
                        help='time onnxruntime and PyTorch at batch 1')
    parser.add_argument('--runs', type=positive_int, default=10)
    args = parser.parse_args(argv)
    if args.precision in NO_EXPORT:
        parser.error(f'--precision {args.precision}: '
                     f'{NO_EXPORT[args.precision]}')
    try:
        args.labels = load_class_names(
            args.labels.split(',') if args.labels is not None else
            args.label_file, name='--labels')
        tokenize(args.labels)  # a label too long for CLIP's context
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    check_output_file(parser, args.out, '--out', '.onnx')
    return args


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import onnxruntime
    with exit_on_bad_input():
        model = init_xclip(args.checkpoint, args.labels,
                           num_frames=args.num_frames)
    export_onnx(model, args.out, precision=args.precision)
    read_onnx_metadata(args.out)  # what runtimes read back, checked
    print(f'{args.out}: {osp.getsize(args.out) / 2**20:.1f} MiB, '
          f'{args.precision}, {len(args.labels)} classes, '
          f'{model.neck.num_frames} frames of '
          f'{model.backbone.input_resolution} px')
    session = onnxruntime.InferenceSession(
        args.out, providers=['CPUExecutionProvider'])
    torch_model = FixedClassXCLIP(model).eval()
    size = model.backbone.input_resolution
    rng = np.random.default_rng(0)
    pairs = []  # (onnxruntime's, PyTorch's) (scores, logits) per input
    for shape in ((1, 1), (2, 3)):
        clips = rng.integers(0, 256, (*shape, model.neck.num_frames, size,
                                      size, 3), dtype=np.uint8)
        with torch.no_grad():
            ref = torch_model(torch.from_numpy(clips))
        pairs.append((session.run(None, {'clips': clips}),
                      [r.numpy() for r in ref]))
    if args.precision == 'fp32':
        worst = max(float(np.abs(o - r).max()) for ours, ref in pairs
                    for o, r in zip(ours, ref))
        bound = TOLERANCE
        print('onnxruntime vs PyTorch on random clips: max |d| = '
              f'{worst:.2e}')
    else:
        diff = max(float(np.abs(ours[1] - ref[1]).max())
                   for ours, ref in pairs)
        worst = diff / max(float(np.abs(ref[1]).max()) for _, ref in pairs)
        bound = INT8_TOLERANCE
        agree = sum(int((ours[0].argmax(1) == ref[0].argmax(1)).sum())
                    for ours, ref in pairs)
        total = sum(len(ref[0]) for _, ref in pairs)
        print(f'onnxruntime int8 vs PyTorch fp32 on random clips: logits '
              f'max |d| = {worst:.2e} of the largest logit, top-1 agrees '
              f'on {agree} of {total}')
    if args.benchmark:
        clip = rng.integers(0, 256, (1, 1, model.neck.num_frames, size,
                                     size, 3), dtype=np.uint8)
        ort_s = median_seconds(lambda: session.run(None, {'clips': clip}),
                               args.runs)
        with torch.no_grad():
            pt_s = median_seconds(lambda: torch_model(torch.from_numpy(clip)),
                                  args.runs)
        print(f'batch 1, {torch.get_num_threads()} threads: onnxruntime '
              f'{1000 * ort_s:.1f} ms, PyTorch {1000 * pt_s:.1f} ms '
              f'(median of {args.runs})')
    if worst > bound:
        print(f'error: the export differs from PyTorch by {worst:.2e} > '
              f'{bound}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
