"""tools/timeline.py: from a shell the table, the JSON schema, the picture
and standard input; in process, bad input as messages (no traceback)."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT, load_tool
from helpers.av_videos import cut_short, encode, noise
from helpers.tiny_model import save_tiny_xclip

from mmxclip.apis import find_segments
from mmxclip.apis.timeline import Window
from mmxclip.datasets.toy import make_long_video

LABELS = 'moving up,growing,moving down,shrinking'


tool = load_tool('timeline.py')


def run(*args, stdin=None):
    return subprocess.run([sys.executable, 'tools/timeline.py', *args],
                          cwd=ROOT, text=True, capture_output=True,
                          timeout=300, stdin=stdin)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp('timeline_tool')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    return folder, ckpt, make_long_video(str(folder))


def test_table_json_and_picture(workspace, capsys):
    folder, ckpt, truth = workspace
    out_json, out_png = str(folder / 't.json'), str(folder / 't.png')
    assert tool.main([truth['video'], '--checkpoint', ckpt, '--labels',
                      LABELS, '--window', '2', '--stride', '1',
                      '--threshold', '0.3', '--out-json', out_json,
                      '--out-png', out_png]) == 0
    out = capsys.readouterr()
    data = json.load(open(out_json))
    assert data['labels'] == LABELS.split(',')
    assert len(data['windows']) == 15 and data['complete']
    for k, w in enumerate(data['windows']):
        assert (w['start'], w['end']) == (k, k + 2)
        assert len(w['frame_inds']) == 8 and len(w['scores']) == 4
        assert all(8 * k <= i < 8 * k + 16 for i in w['frame_inds'])
    windows = [Window(w['start'], w['end'], np.array(w['frame_inds']))
               for w in data['windows']]
    scores = np.array([w['scores'] for w in data['windows']])
    expected = find_segments(windows, scores, data['labels'], 0.3)
    assert data['segments'] == [s._asdict() for s in expected]
    # The table: one row per segment, labels or none.
    rows = out.out.strip().splitlines()[-len(expected):]
    for row, seg in zip(rows, expected):
        assert row.split()[:2] == [f'{seg.start:.2f}', f'{seg.end:.2f}']
        assert (seg.label or 'none') in row
    assert '15/15' in out.err  # MMEngine's progress bar
    assert osp.getsize(out_png) > 20_000


def test_standard_input(workspace, tmp_path):
    """From a shell, the video piped in."""
    folder, ckpt, _ = workspace
    ts = encode(str(tmp_path / 's.ts'), noise(24, seed=3), fmt='mpegts')
    with open(ts, 'rb') as stdin:
        out = run('-', '--checkpoint', ckpt, '--labels', LABELS,
                  '--out-json', str(tmp_path / 's.json'), stdin=stdin)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.splitlines()[1].startswith('<stdin>: 2 windows, 24 '
                                                 'frames at 8 fps')
    assert json.load(open(tmp_path / 's.json'))['complete']


def test_a_truncated_video_is_written_and_said(workspace, tmp_path,
                                               capsys):
    folder, ckpt, _ = workspace
    _, cut = cut_short(str(tmp_path), 64, keep=0.5, seed=4)
    status = tool.main([cut, '--checkpoint', ckpt, '--labels', LABELS,
                        '--out-json', str(tmp_path / 'cut.json'),
                        '--out-png', str(tmp_path / 'cut.png')])
    assert status == 1
    err = capsys.readouterr().err
    assert 'frames its header declares (a truncated file?); the windows ' \
        'up to there are kept' in err
    written = json.load(open(tmp_path / 'cut.json'))
    assert not written['complete'] and written['windows']
    assert osp.getsize(tmp_path / 'cut.png') > 10_000


@pytest.mark.parametrize('args,message', [
    (['--stride', '0'], "argument --stride: expected a positive number, "
     "got '0'"),
    (['--window', '-2'], "argument --window: expected a positive number, "
     "got '-2'"),
    (['--window', 'nan'], "argument --window: expected a positive number"),
    (['--threshold', '2'], 'expected a probability in (0, 1]'),
    (['--labels', ' '], '--labels is empty'),
])
def test_bad_arguments(workspace, capsys, args, message):
    folder, ckpt, truth = workspace
    base = ['--checkpoint', ckpt, '--labels', LABELS]
    with pytest.raises(SystemExit) as exit:
        tool.parse_args([truth['video'], *base, *args])
    assert exit.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize('content,args,message', [
    (None, [], 'video file not found'),
    ('file /etc/passwd\n', [], 'refused: the file is an FFmpeg concat list'),
    ('toy', ['--stride', '0.01'], 'stride 0.01 s is shorter than one frame '
     "of '{video}' (8 fps); expected at least 0.125 s"),
    ('toy', ['--decode-budget', '0', '0'], "'{video}': decoding took longer "
     'than its time budget of 0.0 s'),
])
def test_bad_videos(workspace, tmp_path, capsys, content, args, message):
    folder, ckpt, truth = workspace
    video = str(tmp_path / 'bad.mp4')
    if content == 'toy':
        video = truth['video']
    elif content is not None:
        open(video, 'w').write(content)
    status = tool.main([video, '--checkpoint', ckpt, '--labels', LABELS,
                        '--out-json', str(tmp_path / 'bad.json'), *args])
    assert status == 1
    assert message.format(video=video) in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'bad.json')


def test_toy_timeline_check(workspace, tmp_path, capsys):
    """tools/analysis/toy_timeline.py: right classes within a stride are
    found; a boundary 1.5 strides off or a wrong class is missed."""
    check = load_tool('analysis/toy_timeline.py')
    _, _, truth = workspace
    segments = [dict(label=s['class_name'], start=s['start'], end=s['end'],
                     score=0.9) for s in truth['segments']]
    segments[0]['end'] = segments[1]['start'] = 2.5  # within 1 s
    rows = check.compare(dict(segments=segments, stride=1), truth)
    assert all(r['ok'] for r in rows) and rows[0]['end_error'] == 0.5
    segments[2]['end'] = segments[3]['start'] = 7.5  # 1.5 s off
    segments[5]['label'] = segments[6]['label']
    paths = [str(tmp_path / 'tl.json'), str(tmp_path / 'truth.json')]
    json.dump(dict(segments=segments, stride=1), open(paths[0], 'w'))
    json.dump(truth, open(paths[1], 'w'))
    assert check.main(paths) == 1
    out = capsys.readouterr().out
    assert out.count('MISSED') == 3  # segments 2, 3 and 5
    assert '5 of 8 segments found' in out
