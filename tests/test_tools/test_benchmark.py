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
    keys = {(r[col['T']], r[col['batch']], r[col['mode']]) for r in rows}
    for frames in ('4', '8'):
        for mode in ('eval', 'vision', 'train', 'train_cp'):
            assert (frames, '1', mode) in keys
    for r in rows:
        assert len(r) == len(header)
        assert r[col['device']] == 'cpu' and r[col['dtype']] == 'fp32'
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
    assert notes['gflops_per_view'] == {}  # counted for CUDA runs only
