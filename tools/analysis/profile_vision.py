"""Where the CPU time of mmxclip's vision path goes: torch.profiler's share
of each op, once with the oneDNN linears of ``mmxclip.models.layers.linear``
and once with ``F.linear`` everywhere, whichever of the two this CPU uses by
default (oneDNN on AMD only).

    python tools/analysis/profile_vision.py    # B/16, 8 frames, batch 1
    python tools/analysis/profile_vision.py --batch 4 --top 10
"""
import argparse
import importlib
import os.path as osp
import sys
from typing import Optional, Sequence

import torch
from torch.profiler import profile

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import benchmark_pair as benchmark  # noqa: E402  (the benchmark's models)

linear = importlib.import_module('mmxclip.models.layers.linear')


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--model', default='B/16', choices=benchmark.SPECS)
    p.add_argument('--frames', type=int, default=8)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--top', type=int, default=7, help='ops listed per run')
    args = p.parse_args(argv)
    if linear._onednn_linear is None:
        raise SystemExit('this PyTorch build has no oneDNN')
    spec = benchmark.SPECS[args.model]
    names = benchmark.class_names(4)
    mmx, _ = benchmark.build_pair(spec, args.frames, names, 'cpu',
                                  with_hf=False)
    clips = benchmark.make_inputs(spec, args.frames, args.batch, names, 'cpu',
                                  'max_length').mmx_videos[:, 0]
    onednn = linear._ONEDNN
    try:
        for title, use in (('oneDNN linears', True), ('F.linear', False)):
            linear._ONEDNN = use
            with torch.no_grad():
                mmx.encode_video(clips)  # warm-up
                with profile() as prof:
                    mmx.encode_video(clips)
            ops = [e for e in prof.key_averages()
                   if e.key.startswith(('aten::', 'mkldnn::'))]
            total = sum(e.self_cpu_time_total for e in ops)
            print(f'{title}: {total / 1e6:.2f} s of op time')
            for e in sorted(ops, key=lambda e: -e.self_cpu_time_total)[
                    :args.top]:
                print(f'  {e.key:<52} '
                      f'{100 * e.self_cpu_time_total / total:5.1f} %')
    finally:
        linear._ONEDNN = onednn


if __name__ == '__main__':
    main()
