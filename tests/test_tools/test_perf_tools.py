"""tools/analysis/benchmark_gemm.py and profile_vision.py run and report
what they measure (their figures are in docs/performance.md, not asserted
here)."""
from helpers import load_tool


def test_gemm_benchmark_times_both_kernels_per_layer(capsys):
    load_tool('analysis/benchmark_gemm.py').main(
        ['--width', '64', '--tokens', '5', '--frames', '2', '--batches', '1',
         '3', '--min-run-time', '0.01'])
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[1] for r in rows] == [
        'attn.in_proj', 'attn.out_proj', 'mlp.c_fc', 'mlp.c_proj',
        'block'] * 2
    assert rows[0].split()[2] == '10x64x192' and rows[5].split()[0] == '3'
    for row in rows:
        *times, ratio = row.split()[-3:]
        assert min(map(float, times)) > 0 and ratio.endswith('x')


def test_vision_profile_shows_onednn_then_f_linear(capsys):
    load_tool('analysis/profile_vision.py').main(['--model', 'tiny',
                                                  '--top', '40'])
    out = capsys.readouterr().out
    first, second = out.split('F.linear: ')
    assert first.startswith('oneDNN linears: ')
    assert 'mkldnn::_linear_pointwise' in first
    assert 'mkldnn::_linear_pointwise' not in second
    assert 'aten::addmm' in second or 'aten::linear' in second
