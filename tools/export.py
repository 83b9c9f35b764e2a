"""Export X-CLIP with a fixed class set to ONNX, for runtimes without PyTorch.

    python tools/export.py k400_32_8.pth --labels "playing guitar,swimming" \
        --out xclip.onnx [--num-frames 16] [--benchmark]

The class names' text embeddings are computed once and stored in the graph;
the input is uint8 frames (B, V, T, H, W, 3), normalisation inside, batch B
and views V dynamic (:mod:`mmxclip.deploy.onnx_export`). After writing, the
export is checked: onnxruntime's outputs must equal PyTorch's within 1e-4 on
random clips (exit status 1 otherwise). ``--benchmark`` also prints the
latency of onnxruntime and of PyTorch at batch 1.
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
from mmxclip.models.heads import load_class_names, tokenize

TOLERANCE = 1e-4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='weights init_xclip reads')
    labels = parser.add_mutually_exclusive_group(required=True)
    labels.add_argument('--labels', help='comma-separated class names')
    labels.add_argument('--label-file', help='one class name per line')
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument('--num-frames', type=positive_int,
                        help="frames per clip (default: the checkpoint's)")
    parser.add_argument('--benchmark', action='store_true',
                        help='time onnxruntime and PyTorch at batch 1')
    parser.add_argument('--runs', type=positive_int, default=10)
    args = parser.parse_args(argv)
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
    export_onnx(model, args.out)
    read_onnx_metadata(args.out)  # what runtimes read back, checked
    print(f'{args.out}: {osp.getsize(args.out) / 2**20:.1f} MiB, '
          f'{len(args.labels)} classes, {model.neck.num_frames} frames of '
          f'{model.backbone.input_resolution} px')
    session = onnxruntime.InferenceSession(
        args.out, providers=['CPUExecutionProvider'])
    torch_model = FixedClassXCLIP(model).eval()
    size = model.backbone.input_resolution
    rng = np.random.default_rng(0)
    worst = 0.0
    for shape in ((1, 1), (2, 3)):
        clips = rng.integers(0, 256, (*shape, model.neck.num_frames, size,
                                      size, 3), dtype=np.uint8)
        ours = session.run(None, {'clips': clips})
        with torch.no_grad():
            ref = torch_model(torch.from_numpy(clips))
        worst = max(worst, *(float(np.abs(o - r.numpy()).max())
                             for o, r in zip(ours, ref)))
    print(f'onnxruntime vs PyTorch on random clips: max |d| = {worst:.2e}')
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
    if worst > TOLERANCE:
        print(f'error: the export differs from PyTorch by {worst:.2e} > '
              f'{TOLERANCE}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
