"""tools/data/prepare_videos.py reads every source once and nothing else:
an output folder inside the input folder is not read back, linked folders
are followed (a loop is named, not walked forever), and a source named
``x.partial.mp4`` is re-encoded, or refused by name where it would clash
with ``x.mp4``'s temporary output (issue 22, item 5)."""
import os
import os.path as osp
import sys

from helpers import ROOT
from helpers.weight_files import write_video

from mmxclip.datasets.prepare import find_videos

sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
import prepare_videos  # noqa: E402


def test_output_inside_input_is_not_read_back(tmp_path, capsys):
    src = tmp_path / 'in'
    src.mkdir()
    write_video(str(src / 'a.mp4'), frames=4)
    out = src / 'prepared'
    for run in range(2):
        assert prepare_videos.main([str(src), str(out)]) == 0
    captured = capsys.readouterr()
    assert 'OUT_DIR is inside IN_DIR: prepared/ is not read as input' in \
        captured.err
    assert '0 re-encoded, 1 already complete, 0 failed' in captured.out
    assert sorted(str(p.relative_to(out)) for p in out.rglob('*')) == \
        ['a.mp4']


def test_linked_folders_are_read_and_a_loop_is_named(tmp_path):
    src, elsewhere = tmp_path / 'in', tmp_path / 'elsewhere'
    (src / 'real').mkdir(parents=True)
    elsewhere.mkdir()
    (src / 'real' / 'a.mp4').write_bytes(b'')
    (elsewhere / 'b.mp4').write_bytes(b'')
    os.symlink(elsewhere, src / 'linked')
    os.symlink(src, src / 'real' / 'loop')
    videos, others = find_videos(str(src))
    assert videos == ['linked/b.mp4', 'real/a.mp4']
    assert others == [f'real/loop/ (a link to {src}, read once)']


def test_a_source_named_partial(tmp_path, capsys):
    src, out = tmp_path / 'in', tmp_path / 'out'
    src.mkdir()
    write_video(str(src / 'x.partial.mp4'), frames=4)
    assert prepare_videos.main([str(src), str(out)]) == 0
    assert '1 re-encoded' in capsys.readouterr().out
    assert (out / 'x.partial.mp4').is_file()
    # Beside x.mp4 it is the name x.mp4 is written under until complete.
    write_video(str(src / 'x.mp4'), frames=4)
    assert prepare_videos.main([str(src), str(tmp_path / 'out2')]) == 1
    err = capsys.readouterr().err
    assert 'FAILED x.partial.mp4: its output name is the temporary name of ' \
        'the output of x.mp4; rename it' in err
    assert (tmp_path / 'out2' / 'x.mp4').is_file()
