"""A good neighbour: importing mmxclip leaves a stock MMAction2 run as it
is. MMAction2's own TSN config (random ResNet-18, tiny synthetic videos)
trains an epoch, checkpoints, resumes, trains another and tests, once in a
process that never imports mmxclip and once after ``import mmxclip``: the
losses, the final weights (bit for bit), the metrics and the files written
are identical (docs/good_neighbour.md lists every change mmxclip makes).

The one intended difference is stricter checkpoint loading: with mmxclip a
checkpoint is read with ``weights_only=True`` plus exactly what MMEngine
writes, whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says. Without it,
MMEngine 0.10.7 on torch >= 2.6 cannot resume at all (``torch.load``'s
``weights_only`` default refuses MMEngine's own objects), so both runs set
that variable, PyTorch's documented way back to full unpickling, which the
stock run needs and mmxclip ignores.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from helpers import ROOT
from helpers.runs import random_video

SCRIPT = osp.join(ROOT, 'tests', 'helpers', 'neighbour_run.py')


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    data = tmp_path_factory.mktemp('videos')
    with open(data / 'list.txt', 'w') as f:
        for i in range(4):
            random_video(str(data / f'v{i}.mp4'), 12, 32, 40, seed=i)
            f.write(f'v{i}.mp4 {i % 2}\n')
    return str(data)


def stock_runs(videos: str, tmp_path) -> tuple:
    """tests/helpers/neighbour_run.py without and with mmxclip, each in a
    fresh interpreter (side by side: one thread each), the repository
    importable as installed, so ``--with-mmxclip`` gets this tree's."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
               TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    procs = [
        subprocess.Popen(
            [sys.executable, SCRIPT, videos, str(tmp_path / name)] + flag,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)
        for name, flag in (('plain', []), ('mmxclip', ['--with-mmxclip']))
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return tuple(results)


def test_a_stock_run_is_the_same_with_and_without_mmxclip(videos, tmp_path):
    plain, with_mmxclip = stock_runs(videos, tmp_path)
    assert plain.pop('mmxclip_imported') is False
    assert with_mmxclip.pop('mmxclip_imported') is True
    # The run did what the comparison is about: two iterations per epoch,
    # the second epoch resumed from the first's checkpoint, both
    # validated, a test, the checkpoints on disk.
    assert [len(epoch) for epoch in plain['losses']] == [2, 2]
    assert [len(epoch) for epoch in plain['val']] == [1, 1]
    assert plain['test'] and plain['weights']
    assert {'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint'} <= set(
        plain['files'])
    assert with_mmxclip == plain
