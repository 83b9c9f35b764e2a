#!/usr/bin/env python
"""A timeline of the toy long video against its ground truth.

For each true segment of ``long_val.json`` (written by
``tools/data/make_toy_dataset.py OUT --long-video``): the predicted segment
that covers its middle, whether its class is the true one, and how far the
predicted boundaries lie from the true ones. Found: the class is right and
both boundaries are within one stride. Prints one row per true segment and
a summary; the exit status is 1 unless every segment is found.

Example::

    python tools/data/make_toy_dataset.py data/toy --long-video
    python tools/timeline.py data/toy/long_val.mp4 --checkpoint CKPT \
        --label-file data/toy/classes.txt --out-json tl.json
    python tools/analysis/toy_timeline.py tl.json data/toy/long_val.json
"""
import argparse
import json
import sys
from typing import Dict, List, Optional, Sequence


def compare(timeline: Dict, truth: Dict) -> List[Dict]:
    """One row per true segment.

    Args:
        timeline: ``tools/timeline.py``'s JSON (``segments``, ``stride``).
        truth: ``long_val.json`` (``segments`` with ``class_name``, start
            and end in seconds).

    Returns:
        list[dict]: ``truth``, ``found`` (the predicted label at the
        middle), ``start_error`` and ``end_error`` (seconds; a boundary at
        the video's start or end counts as exact), ``ok``.
    """
    predicted = timeline['segments']
    end = truth['segments'][-1]['end']
    rows = []
    for seg in truth['segments']:
        middle = (seg['start'] + seg['end']) / 2
        hit = next(p for p in predicted if p['start'] <= middle < p['end'])
        start_error = abs(hit['start'] - seg['start'])
        end_error = abs(min(hit['end'], end) - seg['end'])
        rows.append(dict(
            truth=seg['class_name'], found=hit['label'],
            start_error=start_error, end_error=end_error,
            ok=(hit['label'] == seg['class_name']
                and max(start_error, end_error) <= timeline['stride'])))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('timeline', help="tools/timeline.py's --out-json")
    parser.add_argument('truth', help='long_val.json')
    args = parser.parse_args(argv)
    with open(args.timeline) as f:
        timeline = json.load(f)
    with open(args.truth) as f:
        truth = json.load(f)
    rows = compare(timeline, truth)
    width = max(len(r['truth']) for r in rows)
    print(f'{"true class":<{width}}  {"found":<{width}}  start err  end err')
    for r in rows:
        print(f'{r["truth"]:<{width}}  {str(r["found"]):<{width}}  '
              f'{r["start_error"]:>7.2f} s  {r["end_error"]:>5.2f} s'
              f'{"" if r["ok"] else "  MISSED"}')
    found = sum(r['ok'] for r in rows)
    print(f'{found} of {len(rows)} segments found (class right, both '
          f'boundaries within the stride of {timeline["stride"]:g} s)')
    return 0 if found == len(rows) else 1


if __name__ == '__main__':
    sys.exit(main())
