"""tools/export.py loses nothing: a re-export killed half-way leaves the
good .onnx as it was (graph and metadata are written once, atomically; an
int8 one is quantised before), and
a label too long for CLIP or an --out that cannot be written is refused
before the model is built (issue 22, item 7)."""
import os
import re

import onnx
import pytest
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import load_tool

from mmxclip.apis import init_xclip
from mmxclip.deploy import export_onnx, onnx_export


@pytest.mark.parametrize('precision', ['fp32', 'int8'])
def test_a_killed_re_export_keeps_the_good_file(tmp_path, monkeypatch,
                                                precision):
    ckpt = save_tiny_xclip(str(tmp_path / 'tiny.pth'))
    out = tmp_path / 'xclip.onnx'
    model = init_xclip(ckpt, ['a dog', 'a cat'])
    export_onnx(model, str(out))  # the good file, fp32 (int8 costs more)
    good = out.read_bytes()
    assert len(onnx.load(str(out)).metadata_props) == 6

    def killed(*args):
        raise KeyboardInterrupt

    # Killed after the graph is made, before its metadata is added (the
    # write itself is atomic_write's, tests/test_engine/test_resume.py).
    monkeypatch.setattr(onnx_export, 'onnx_metadata', killed)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(model, str(out), precision=precision)
    assert out.read_bytes() == good
    assert sorted(os.listdir(tmp_path)) == ['tiny.pth', 'xclip.onnx']


@pytest.mark.parametrize('make,message', [
    (lambda d: ['--labels', 'a dog,' + 'word ' * 80, '--out',
                str(d / 'x.onnx')],
     "text 'word word .* has 82 tokens, more than the context length 77"),
    (lambda d: ['--labels', 'a,b', '--out', str(d / 'missing' / 'x.onnx')],
     r'--out .*x.onnx: folder .*missing does not exist'),
    (lambda d: ['--labels', 'a,b', '--out', str(d)],
     '--out .* is a folder; name the .onnx file'),
])
def test_bad_arguments_are_refused_before_building(tmp_path, monkeypatch,
                                                   capsys, make, message):
    tool = load_tool('export.py')

    def built(*args, **kwargs):
        raise AssertionError('the model was built before the arguments '
                             'were checked')

    monkeypatch.setattr(tool, 'init_xclip', built)
    with pytest.raises(SystemExit) as exit_:
        tool.main(['tiny.pth', *make(tmp_path)])
    assert exit_.value.code == 2
    assert re.search(message, capsys.readouterr().err)
