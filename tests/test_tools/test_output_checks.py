"""Small losses (issue 22, item 9): test_splits.py checks --out before it
runs any split; the start-up .pth of an editable install whose source tree
is gone prints one line, not a traceback."""
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, startup_line
from helpers.weight_files import load_tool


@pytest.mark.parametrize('out,message', [
    ('missing/splits.json', r'--out .*splits.json: folder .*missing does '
     'not exist'),
    ('.', r'--out \. is a folder; name the JSON file'),
])
def test_test_splits_checks_out_before_running(tmp_path, monkeypatch,
                                               capsys, out, message):
    tool = load_tool('test_splits.py')

    def ran(*args):
        raise AssertionError('a split ran before --out was checked')

    monkeypatch.setattr(tool, 'test_split', ran)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        tool.main(['split1.py', '--checkpoint', 'x.pth', '--out', out])
    assert exit_.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def run_site(folder):
    """A bare interpreter (no site-packages) processing ``folder``'s .pth
    files as site-packages' are processed."""
    return subprocess.run(
        [sys.executable, '-S', '-c', 'import site, sys; '
         f'site.addsitedir({str(folder)!r}); print([type(f).__name__ for f '
         'in sys.meta_path if type(f).__module__ == "_mmxclip_startup"])'],
        cwd=folder, capture_output=True, text=True, env={}, timeout=60)


def test_startup_line_of_a_moved_source_tree(tmp_path):
    (tmp_path / 'mmxclip-startup.pth').write_text(startup_line())
    gone = run_site(tmp_path)
    assert gone.returncode == 0
    assert gone.stderr.splitlines() == [
        'mmxclip-startup.pth: _mmxclip_startup.py is not there (an editable '
        'install whose source tree moved?); reinstall mmxclip or pip '
        'uninstall mmxclip']
    assert gone.stdout.strip() == '[]'
    # Where the module is, the line installs both finders, silently.
    shutil.copy(osp.join(ROOT, '_mmxclip_startup.py'), tmp_path)
    there = run_site(tmp_path)
    assert there.stderr == ''
    assert there.stdout.strip() == "['_MultimodalGuard', '_DRNFinder']"
