"""What an inference precision costs in accuracy: each precision's ranking
against float32's on the same videos.

    # a random B/16 with 400 classes over real videos
    python tools/analysis/random_checkpoint.py configs/xclip_b16_k400.py \
        work_dirs/b16_random.pth
    python tools/analysis/precision_quality.py work_dirs/b16_random.pth \
        --classes 400 videos/*.mp4
    # the trained toy model on its 80 validation videos (bash tools/run_toy.sh)
    python tools/analysis/precision_quality.py work_dirs/xclip_toy/best_*.pth \
        --ann-file data/toy/val.txt --data-prefix data/toy/videos \
        --label-file data/toy/classes.txt

Prints, per precision: top-1 accuracy (with ``--ann-file``), the videos
whose top-1 differs from float32's, those whose top-5 set differs (and the
widest gap between float32's 5th and 6th probability among them: how near a
tie a change needed), the largest probability difference over all videos
and classes, and seconds per video (:func:`mmxclip.apis.recognize`; the
machine's load counts).
"""
import argparse
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmxclip.apis import init_xclip, recognize
from mmxclip.cli import positive_int
from mmxclip.models.heads import load_class_names

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark_pair import class_names  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('checkpoint', help='weights init_xclip reads')
    p.add_argument('videos', nargs='*', help='video files')
    p.add_argument('--ann-file', help="MMAction2's 'path label' list (adds "
                   'top-1 accuracy)')
    p.add_argument('--data-prefix', default='', help='folder of its paths')
    labels = p.add_mutually_exclusive_group()
    labels.add_argument('--label-file', help='class names, one a line')
    labels.add_argument('--classes', type=positive_int,
                        help='this many generated action-like names')
    p.add_argument('--precisions', nargs='+', default=['bf16', 'int8'],
                   choices=['bf16', 'int8'])
    args = p.parse_args(argv)
    if bool(args.videos) == bool(args.ann_file):
        p.error('name video files or --ann-file (one of them)')
    return args


def read_ann(path: str, prefix: str) -> List[Tuple[str, int]]:
    """(video, label) pairs of an MMAction2 video list."""
    out = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                name, _, label = line.strip().rpartition(' ')
                if not name or not label.isdigit():
                    raise ValueError(f"{path}:{number}: expected 'path "
                                     f"label', got {line.strip()!r}")
                out.append((osp.join(prefix, name), int(label)))
    return out


def rankings(checkpoint: str, names: Optional[List[str]], videos: List[str],
             precision: str) -> Tuple[torch.Tensor, float]:
    """(num_videos, K) class probabilities in ``precision`` and seconds per
    video."""
    model = init_xclip(checkpoint, names, dtype=precision)
    k = len(model.cls_head.class_names)
    order = {name: i for i, name in enumerate(model.cls_head.class_names)}
    probs = torch.zeros(len(videos), k)
    start = time.perf_counter()
    for i, video in enumerate(videos):
        for name, p in recognize(model, video, topk=k).ranking:
            probs[i, order[name]] = p
    return probs, (time.perf_counter() - start) / len(videos)


def compare(ref: torch.Tensor, probs: torch.Tensor,
            labels: Optional[torch.Tensor]) -> Dict[str, float]:
    """Top-1 / top-5 disagreements with ``ref``, the largest probability
    difference, the widest gap between ``ref``'s 5th and 6th probability
    on a video whose top-5 changed (how near a tie a change needed; None if
    none changed) and (with labels) top-1 accuracy."""
    k = min(5, ref.shape[1])
    top5 = [set(r.tolist()) != set(p.tolist()) for r, p in
            zip(ref.topk(k).indices, probs.topk(k).indices)]
    ranked = ref.sort(1, descending=True).values
    gaps = (ranked[:, k - 1] - ranked[:, k] if ref.shape[1] > k else
            torch.zeros(len(ref)))[torch.tensor(top5, dtype=torch.bool)]
    out = dict(top1_changed=int((ref.argmax(1) != probs.argmax(1)).sum()),
               top5_changed=sum(top5),
               top5_changed_gap=float(gaps.max()) if len(gaps) else None,
               max_prob_diff=float((ref - probs).abs().max()))
    if labels is not None:
        out['top1_acc'] = float((probs.argmax(1) == labels).float().mean())
    return out


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Dict]:
    args = parse_args(argv)
    videos, labels = list(args.videos), None
    if args.ann_file:
        pairs = read_ann(args.ann_file, args.data_prefix)
        videos += [v for v, _ in pairs]
        labels = torch.tensor([label for _, label in pairs])
    names = (load_class_names(args.label_file) if args.label_file else
             class_names(args.classes) if args.classes else None)
    print(f'{len(videos)} videos, {torch.get_num_threads()} threads')
    ref, seconds = rankings(args.checkpoint, names, videos, 'fp32')
    results = {'fp32': dict(compare(ref, ref, labels), s_per_video=seconds)}
    for precision in args.precisions:
        probs, seconds = rankings(args.checkpoint, names, videos, precision)
        results[precision] = dict(compare(ref, probs, labels),
                                  s_per_video=seconds)
    keys = ['top1_acc'] if labels is not None else []
    keys += ['top1_changed', 'top5_changed', 'top5_changed_gap',
             'max_prob_diff', 's_per_video']
    print('| precision | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---|' * len(keys))
    for precision, row in results.items():
        print(f'| {precision} | ' + ' | '.join(
            f'{row[k]:.4g}' if isinstance(row[k], float) else
            '–' if row[k] is None else str(row[k]) for k in keys) + ' |')
    return results


if __name__ == '__main__':
    main()
