"""tools/analysis/benchmark_data.py: its clips are what it says, and --quick
prints a row with numbers for every pipeline (structure, never speed)."""
import io
import os.path as osp
import sys

import av
from helpers import ROOT
from mmengine.config import Config

sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
import benchmark_data  # noqa: E402


def test_synthetic_clip_is_long_gop_h264_that_moves(tmp_path):
    path = benchmark_data.synthetic_clip(str(tmp_path / 'c.mp4'), 96, 64,
                                         seconds=2, fps=30, gop=50)
    with av.open(path) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == 'h264'
        assert (s.width, s.height, s.average_rate) == (96, 64, 30)
        keys = [p.is_keyframe for p in c.demux(s) if p.size]
        assert len(keys) == 60 and sum(keys) == 2  # frames 0 and 50
        c.seek(0)
        frames = [f.to_ndarray(format='rgb24').astype(int)
                  for f in c.decode(video=0)]
    # Content changes every frame (pan + shapes), as camera footage does.
    assert min(abs(a - b).mean() for a, b in zip(frames, frames[1:])) > 1


def test_prepared_short_side_of_each_config():
    side = {name: benchmark_data.pipeline_short_side(
        Config.fromfile(osp.join(ROOT, 'configs', name)).train_pipeline)
        for name in ('xclip_b16_k400.py', 'xclip_l14_336_16f_k400.py')}
    assert side == {'xclip_b16_k400.py': 256,
                    'xclip_l14_336_16f_k400.py': 384}


def test_quick_run_prints_every_pipeline_with_numbers(tmp_path):
    out = io.StringIO()
    rows = benchmark_data.main(['--quick', '--work-dir', str(tmp_path),
                                '--workers', '0', '1'], out=out)
    text = out.getvalue()
    assert text.splitlines()[0] == '| ' + ' | '.join(
        benchmark_data.COLUMNS) + ' |'
    keys = {(r['pipeline'], r['workers']) for r in rows}
    assert keys == {(p, n) for p in ('train', 'val', 'test') for n in (0, 1)}
    for r in rows:
        assert r['raw'] > 0 and r['prepared'] > 0
        if r['workers'] == 0:
            assert r['raw shape'] == r['prepared shape']
    shapes = {r['pipeline']: r['raw shape'] for r in rows if not r['workers']}
    assert shapes == {'train': (1, 3, 8, 224, 224),
                      'val': (1, 3, 8, 224, 224),
                      'test': (12, 3, 8, 224, 224)}
    assert 'DIFFERENT' not in text and 'load average' in text
    assert osp.isfile(tmp_path / 'prepared_256' / 'quick.mp4')


def test_profile_prints_functions_and_the_gate_share(tmp_path):
    out = io.StringIO()
    benchmark_data.main(['--quick', '--pipelines', 'val', '--work-dir',
                         str(tmp_path), '--profile', '5'], out=out)
    text = out.getvalue()
    assert 'Ordered by: internal time' in text
    assert 'List reduced from' in text and 'to 5 due to restriction' in text
    line = [ln for ln in text.splitlines()
            if ln.startswith('the gate per sample of quick.mp4: probe ')]
    assert len(line) == 1 and 'deadline checks x' in line[0]
    assert line[0].endswith('%)')
