"""tools/analysis/benchmark_decoders.py: a decoder that loops is reported as
a hang (decord on the TS fixture), the gated decoder's frames count as
exact, and the table says both (structure, never speed)."""
import json
import os.path as osp
import sys

import numpy as np
from helpers import ROOT
from helpers.hostile_videos import TS_FIXTURE, TS_FRAMES

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import benchmark_decoders  # noqa: E402


def test_hang_reported_and_gated_frames_exact(tmp_path):
    ref = str(tmp_path / 'ref.npy')
    assert len(benchmark_decoders.reference(TS_FIXTURE, ref)) == TS_FRAMES
    # Timeouts include importing torch and mmxclip in the subprocess (~9 s
    # here). decord's 15 s can only err towards HANG, which is the truth on
    # this file (tests/test_datasets/test_video_gate.py shows decord loops).
    results = {
        d: benchmark_decoders.measure(d, TS_FIXTURE, ref, timeout, None)
        for d, timeout in (('pyav-gated', 300), ('decord', 15))
    }
    gated = results['pyav-gated']
    assert gated['error'] is None
    assert [(r['n'], r['count'], r['exact']) for r in gated['rows']] == [
        (n, TS_FRAMES, n) for n in benchmark_decoders.COUNTS]
    assert results['decord']['error'] == 'HANG (killed after 15 s)'
    table = benchmark_decoders.format_table({'ts': results},
                                            {'ts': TS_FRAMES})
    assert '| ts | decord | – | HANG (killed after 15 s) |' in table
    assert '| ts | pyav-gated | 300 |' in table


def test_one_frame_off_is_not_exact(tmp_path, monkeypatch, capsys):
    """The worker's exactness check on the fixture: the right frames are
    exact, the next frames (an off-by-one decoder) are not."""
    ref = str(tmp_path / 'ref.npy')
    benchmark_decoders.reference(TS_FIXTURE, ref)
    real = benchmark_decoders.decode
    for shift, expected in ((0, True), (1, False)):
        def shifted(decoder, path, inds, shift=shift):
            return real(decoder, path, np.minimum(inds + shift,
                                                  TS_FRAMES - 1))

        monkeypatch.setattr(benchmark_decoders, 'decode', shifted)
        benchmark_decoders.worker('pyav-gated', TS_FIXTURE, ref)
        rows = [json.loads(line) for line in
                capsys.readouterr().out.splitlines()]
        assert [r['exact'] == r['n'] for r in rows] == [expected] * 3
        assert all(r['count'] == TS_FRAMES for r in rows)
