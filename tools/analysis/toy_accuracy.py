#!/usr/bin/env python
"""Accuracy of a model on the toy motion dataset, overall and per pair.

Reads the predictions ``tools/test.py --dump`` wrote and prints:

* top-1 over the 8 classes;
* motion-kind accuracy: the top class has the right kind of motion
  (translation x, translation y, scaling, circling), direction ignored;
* direction-pair accuracy: the true class scores above its time-reversed
  twin (:func:`mmxclip.datasets.toy.paired_label`). Chance is 50%; a model that
  ignores frame order cannot beat it on this data.

Example::

    python tools/test.py configs/xclip_toy.py CKPT --dump preds.pkl
    python tools/analysis/toy_accuracy.py preds.pkl
"""
import argparse
from typing import Dict, List, Optional, Sequence

import torch

from mmxclip.datasets.toy import CLASSES, paired_label
from mmxclip.weights.safe_load import load_pickle


def toy_accuracy(results: List[Dict]) -> Dict[str, float]:
    """Top-1, motion-kind and direction-pair accuracy.

    Args:
        results: Dumped data samples, each with ``pred_score`` (K,) and
            ``gt_label`` (a class index).

    Returns:
        dict: ``top1``, ``kind`` and ``direction_pair`` accuracies in [0, 1].
    """
    scores = torch.stack([torch.as_tensor(r['pred_score']) for r in results])
    labels = torch.tensor([int(r['gt_label']) for r in results])
    if scores.shape[1] != len(CLASSES):
        raise ValueError(f'predictions score {scores.shape[1]} classes; the '
                         f'toy dataset has {len(CLASSES)}')
    twins = torch.tensor([paired_label(int(y)) for y in labels])
    pred = scores.argmax(dim=1)
    kind = torch.tensor([paired_label(int(p)) for p in pred])
    own = scores.gather(1, labels[:, None])[:, 0]
    twin = scores.gather(1, twins[:, None])[:, 0]
    return dict(
        top1=(pred == labels).float().mean().item(),
        kind=((pred == labels) | (kind == labels)).float().mean().item(),
        direction_pair=(own > twin).float().mean().item())


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print the accuracies of a dump."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dump', help='pickle written by tools/test.py --dump')
    args = parser.parse_args(argv)
    results = load_pickle(args.dump)  # data only, never run
    acc = toy_accuracy(results)
    print(f'{len(results)} videos: top-1 {100 * acc["top1"]:.1f}%, '
          f'motion kind {100 * acc["kind"]:.1f}%, direction pairs '
          f'{100 * acc["direction_pair"]:.1f}% (chance 50%)')


if __name__ == '__main__':
    main()
