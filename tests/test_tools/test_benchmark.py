"""tools/benchmark.py --quick prints the table and notes it promises
(structure only, never speed)."""
import io

import pytest
from helpers import load_tool

benchmark = load_tool('benchmark.py')


@pytest.fixture(scope='module')
def quick():
    out = io.StringIO()
    result = benchmark.main(['--quick'], out=out)
    return result, out.getvalue()


def _table(text: str, header_start: str):
    """Header and rows of the markdown table whose header starts so."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines)
             if line.startswith('| ' + header_start))
    header = [c.strip() for c in lines[i].strip('|').split('|')]
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith('|'):
            break
        rows.append([c.strip() for c in line.strip('|').split('|')])
    return header, rows


def test_speed_table_has_every_row_and_column(quick):
    _, text = quick
    header, rows = _table(text, 'model | T | batch')
    assert header == benchmark.COLUMNS
    col = {name: i for i, name in enumerate(header)}
    keys = {(r[col['T']], r[col['batch']], r[col['mode']], r[col['dtype']])
            for r in rows}
    for frames in ('4', '8'):
        for mode in ('eval', 'vision', 'train', 'train_cp'):
            assert (frames, '1', mode, 'fp32') in keys
        for mode in ('eval', 'vision'):  # inference precisions: no training
            assert (frames, '1', mode, 'int8') in keys
    assert not {k for k in keys if k[3] == 'int8' and 'train' in k[2]}
    for r in rows:
        assert len(r) == len(header)
        assert r[col['device']] == 'cpu'
        for side in ('mmx', 'hf'):
            assert float(r[col[f'{side} vid/s']]) > 0
            assert float(r[col[f'{side} ms']]) > 0
            assert float(r[col[f'{side} MiB']]) >= 0
        assert float(r[col['speed x']]) > 0


def test_rows_hold_five_timed_runs_and_peak_memory(quick):
    result, _ = quick
    for row in result['rows']:
        for impl in ('mmxclip', 'hf'):
            measure = row['results'][impl]
            assert len(measure['times']) == 5
            assert measure['peak'] >= 0
    train = [r for r in result['rows'] if r['mode'].startswith('train')]
    assert all(r['results']['mmxclip']['peak'] > 0 for r in train)


def test_notes_give_the_frame_scaling(quick):
    result, text = quick
    notes = result['notes']
    scaling = notes['frame_scaling']
    for mode in ('eval', 'vision', 'train', 'train_cp'):
        value = scaling[f'time(8f)/time(4f) tiny {mode} b1 cpu fp32']
        assert value.startswith('mmxclip ') and ', hf ' in value
        assert f'time(8f)/time(4f) tiny {mode} b1 cpu fp32: {value}' in text
    # counted for every run: the utilisation of CPU rows needs them too
    assert set(notes['gflops_per_view']) == {
        'tiny 4f', 'tiny 4f vision', 'tiny 8f', 'tiny 8f vision'}


def test_cpu_rows_give_their_share_of_the_precisions_peak(quick, tmp_path):
    result, text = quick
    notes = result['notes']
    for dtype in ('fp32', 'int8'):
        for mode in ('eval', 'vision'):
            line = notes['utilisation'][f'utilisation tiny 8f b1 {mode} cpu '
                                        f'{dtype}']
            assert 'GFLOP/s' in line
        assert f'CPU peak {dtype}: ' in text
    assert notes['gflops_per_view']['tiny 8f vision'] < \
        notes['gflops_per_view']['tiny 8f']
    # The per-cycle figure follows the flags; emulated bf16 is fp32's.
    info = tmp_path / 'cpuinfo'
    info.write_text('flags\t: fma avx2 avx512f avx512_vnni amx_bf16 amx_int8'
                    '\ncpu MHz\t: 2000.000\ncpu MHz\t: 2500.000\n')
    threads = benchmark.torch.get_num_threads()
    assert benchmark.cpu_peak('bf16', str(info))[0] == pytest.approx(
        threads * 2.5 * 1024)
    assert benchmark.cpu_peak('int8', str(info))[0] == pytest.approx(
        threads * 2.5 * 2048)
    info.write_text('flags\t: fma avx2\ncpu MHz\t: 3000.000\n')
    assert benchmark.cpu_peak('bf16', str(info)) == benchmark.cpu_peak(
        'fp32', str(info))
    assert benchmark.cpu_peak('fp32', str(info))[0] == pytest.approx(
        threads * 3 * 32)
