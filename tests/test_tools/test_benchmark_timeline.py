"""tools/analysis/benchmark_timeline.py runs and reports what it measures
(its figures are in docs/performance.md, not asserted here)."""
from helpers import load_tool
from helpers.tiny_model import save_tiny_xclip


def test_reports_cost_and_memory_per_video(tmp_path, capsys):
    ckpt = save_tiny_xclip(str(tmp_path / 'tiny.pth'))
    load_tool('analysis/benchmark_timeline.py').main(
        [ckpt, '--minutes', '0.1', '--height', '72', '--fps', '8',
         '--decode-pass', '--video-dir', str(tmp_path / 'videos')])
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[:2] == ['0.17', '9']  # one 10 s piece: 9 windows
    wall, per_min, cpu, decode, loaded, peak = map(float, row[2:])
    assert wall > 0 and abs(per_min - 6 * wall) < 0.5
    assert cpu > 0 and decode > 0 and 0 < loaded <= peak
