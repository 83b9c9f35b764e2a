"""Each stack fix of mmxclip.compat works, and fails without it."""
import ast
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import startup_line

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# A fresh interpreter without mmxclip's start-up finders, which
# mmxclip-startup.pth installs in every process: ``s`` is the start-up module.
WITHOUT_STARTUP = ('import sys;'
                   'sys.meta_path[:] = [f for f in sys.meta_path if '
                   'type(f).__module__ != "_mmxclip_startup"];'
                   'import _mmxclip_startup as s;')
HEAVY = ('torch', 'numpy', 'mmaction', 'mmengine', 'mmxclip', 'transformers')


def run_python(code: str, *flags: str,
               cwd: str = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-W', 'ignore', *flags, '-c',
                           code], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_registry_names_resolve_after_import():
    from mmaction.registry import MODELS
    for name in ('CCTViT', 'MITNeck', 'XCLIPTextHead', 'XCLIPRecognizer'):
        cls = MODELS.get(name)
        assert cls is not None and cls.__module__.startswith('mmxclip.')


def test_startup_finders_make_mmaction_models_importable():
    """Fixes 1 and 6 at start-up: install() imports nothing heavy, puts the
    drn finder last on sys.meta_path (a real drn would win) and the VindLU
    guard first; then ``import mmaction.models`` works and DRN says why it
    is missing."""
    res = run_python(
        WITHOUT_STARTUP + 'assert s.install() == dict(drn=True, '
        'multimodal=True), "not installed";'
        'assert s.install() == dict(drn=False, multimodal=False);'
        'assert isinstance(sys.meta_path[-1], s._DRNFinder);'
        'assert isinstance(sys.meta_path[0], s._MultimodalGuard);'
        f'heavy = [m for m in {HEAVY!r} if m in sys.modules];'
        'assert not heavy, heavy;'
        'import mmaction.models;'
        'from mmaction.models.localizers.drn.drn import DRN\n'
        'try:\n    DRN()\nexcept ImportError as e:\n    print(e)')
    assert res.returncode == 0, res.stderr
    assert '#2714' in res.stdout


def test_drn_missing_without_placeholder():
    """The problem fix 1 solves exists on this stack: without the finder the
    import fails on exactly the drn module (skipped where the wheel is
    fixed, e.g. a source install)."""
    import mmaction
    if os.path.isdir(os.path.join(mmaction.__path__[0], 'models',
                                  'localizers', 'drn')):
        pytest.skip('this mmaction2 ships drn; fix 1 is a no-op here')
    res = run_python(WITHOUT_STARTUP + 's.disable_broken_multimodal();'
                     'import mmaction.models')
    assert res.returncode != 0
    assert 'mmaction.models.localizers.drn' in res.stderr


def test_startup_hook_is_installed(tmp_path):
    """``pip install (-e) .`` put mmxclip-startup.pth into site-packages:
    a fresh interpreter (outside the repository, PYTHONPATH ignored) has
    both finders before anything imports mmxclip or mmaction (what they do
    is the test above; MMAction2's tools importing ``mmaction.models`` first
    run in tests/test_tools/test_mmaction_tools.py)."""
    res = run_python(
        'import importlib.metadata, sys;'
        'files = importlib.metadata.files("mmxclip") or [];'
        'print("mmxclip-startup.pth" in [f.name for f in files]);'
        'print(sorted(type(f).__name__ for f in sys.meta_path '
        'if type(f).__module__ == "_mmxclip_startup"));'
        'print("mmaction" in sys.modules)', '-E', cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [
        'True', "['_DRNFinder',", "'_MultimodalGuard']", 'False'
    ], ('mmxclip is not installed with its start-up hook (reinstall it: '
        'pip install -e .): ' + res.stdout)


def _wheel_sources(dst) -> str:
    """What setup.py packages, copied (building writes into the tree)."""
    import shutil
    dst.mkdir()
    for name in ('setup.py', 'pyproject.toml', 'README.md',
                 '_mmxclip_startup.py'):
        shutil.copy(os.path.join(REPO, name), dst)
    shutil.copytree(os.path.join(REPO, 'mmxclip'), dst / 'mmxclip',
                    ignore=shutil.ignore_patterns('__pycache__'))
    return str(dst)


def test_regular_wheel_carries_the_startup_hook(tmp_path):
    """``pip install .``: the wheel has mmxclip-startup.pth and
    _mmxclip_startup.py at its top level; unpacked as a site directory in an
    interpreter that processed no other .pth file (-I -S), its .pth installs
    the finders from the wheel's own module."""
    import zipfile
    src = _wheel_sources(tmp_path / 'src')
    build = run_python('from setuptools import build_meta as b;'
                       f'print(b.build_wheel({str(tmp_path / "dist")!r}))',
                       cwd=src)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = tmp_path / 'dist' / build.stdout.split()[-1]
    site_dir = tmp_path / 'site'
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        z.extractall(site_dir)
    assert {'mmxclip-startup.pth', '_mmxclip_startup.py'} <= set(names)
    res = run_python(
        f'import site, sys; site.addsitedir({str(site_dir)!r});'
        'print(sys.modules["_mmxclip_startup"].__file__);'
        'print(sorted(type(f).__name__ for f in sys.meta_path '
        'if type(f).__module__ == "_mmxclip_startup"))', '-I', '-S',
        cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == [str(site_dir / '_mmxclip_startup.py'),
                                  "['_DRNFinder',", "'_MultimodalGuard']"]


def test_editable_wheel_carries_the_startup_hook(tmp_path):
    """``pip install -e .`` (PEP 660): the editable wheel has
    mmxclip-startup.pth beside setuptools' own .pth, and its finder maps
    _mmxclip_startup to the source tree, so the .pth's import resolves."""
    import zipfile
    src = _wheel_sources(tmp_path / 'src')
    build = run_python('from setuptools import build_meta as b;'
                       f'print(b.build_editable({str(tmp_path / "dist")!r}))',
                       cwd=src)
    assert build.returncode == 0, build.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / 'dist' / build.stdout.split()[-1]) as z:
        names = z.namelist()
        assert z.read('mmxclip-startup.pth').decode() == startup_line()
        finder = z.read(next(n for n in names if n.endswith('_finder.py')))
    assert f"'_mmxclip_startup': '{src}/_mmxclip_startup'" in finder.decode()
    # setuptools' own .pth sorts first, so its finder is in place before
    # mmxclip-startup.pth imports the start-up module.
    assert sorted(n for n in names if n.endswith('.pth'))[-1] == (
        'mmxclip-startup.pth')


def _install_requires() -> list:
    """setup.py's install_requires, as written."""
    tree = ast.parse(open(os.path.join(REPO, 'setup.py')).read())
    requires = next(
        kw.value for node in ast.walk(tree) if isinstance(node, ast.Call)
        for kw in node.keywords if kw.arg == 'install_requires')
    return [ast.literal_eval(e) for e in requires.elts]


def test_importlib_metadata_is_declared():
    """Fix 2: mmaction imports importlib_metadata; setup.py declares it."""
    names = [e.split('<')[0].split('>')[0].split('=')[0]
             for e in _install_requires()]
    assert 'importlib-metadata' in names
    import importlib_metadata  # noqa: F401


def test_torch_with_a_weights_only_boundary_is_required():
    """Safe loading relies on weights_only=True, a security boundary only
    from torch 2.6 on; setup.py requires it, and this torch is one."""
    assert 'torch>=2.6' in _install_requires()
    major, minor = map(int, torch.__version__.split('.')[:2])
    assert (major, minor) >= (2, 6)


def _mmengine_checkpoint(path: str) -> None:
    """A checkpoint with what MMEngine's Runner writes besides tensors."""
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint
    hub = MessageHub.get_instance('test_compat')
    hub.update_scalar('train/loss', np.float64(1.5))
    hub.update_scalar('train/lr', torch.tensor(0.1))
    hub.update_info('iter', np.int64(7))
    save_checkpoint(
        dict(meta=dict(epoch=1, seed=np.int64(3), arr=np.zeros(2, np.float32)),
             state_dict=dict(w=torch.randn(2)),
             message_hub=hub.state_dict()), path)


def test_mmengine_checkpoints_load_with_weights_only(tmp_path):
    """Fix 3: MMEngine's own checkpoints load through the local scheme, while
    torch's default weights_only load refuses them."""
    from mmengine.logging import HistoryBuffer
    from mmengine.runner.checkpoint import CheckpointLoader
    path = str(tmp_path / 'epoch_1.pth')
    _mmengine_checkpoint(path)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.current() == 1.5
    assert ckpt['meta']['seed'] == 3
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path, map_location='cpu', weights_only=True)


class _Payload:

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_local_scheme_refuses_code_in_pickles(tmp_path):
    """Fix 3 does not open the door: a pickle that would call os.system, or
    getattr on anything but the allowed classes, is refused."""
    from mmengine.runner.checkpoint import CheckpointLoader
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict=dict(w=torch.zeros(1)), x=_Payload()), path)
    with pytest.raises(Exception, match='os.system|posix.system'):
        CheckpointLoader.load_checkpoint(path)
    from mmxclip.weights.allowlist import restricted_getattr
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        restricted_getattr(os, 'system')


def _reference_hue(img: np.ndarray, factor: float) -> np.ndarray:
    import cv2
    hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2HSV).astype(int)
    hsv[..., 0] = (hsv[..., 0] + int(factor * 255)) % 180
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return rgb.astype(np.float32)


@pytest.mark.parametrize('factor', [-0.1, -0.03, 0.05])
def test_color_jitter_hue_negative_shift(factor):
    """Fix 4: adjust_hue works for negative shifts and matches exact integer
    arithmetic; positive shifts are unchanged."""
    from mmaction.datasets.transforms import ColorJitter
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3)).astype(np.float32)
    out = ColorJitter.adjust_hue(img, factor)
    np.testing.assert_array_equal(out, _reference_hue(img, factor))


def test_original_color_jitter_overflows():
    """The problem fix 4 solves: mmaction's own code path in uint8 raises."""
    hsv = np.full((2, 2), 10, np.uint8)
    with pytest.raises(OverflowError):
        hsv + int(-0.1 * 255)


def test_broken_multimodal_is_switched_off():
    """Fix 6: with transformers 5 installed, mmaction's VindLU models are
    replaced by mmaction's own placeholders instead of failing the import."""
    import transformers.modeling_utils as hf_utils
    from mmaction.registry import MODELS
    from mmaction.utils import dependency
    assert hf_utils.__name__
    broken = not hasattr(hf_utils, 'apply_chunking_to_forward')
    assert dependency.WITH_MULTIMODAL is not broken
    vindlu = MODELS.get('VindLURetrieval')
    assert vindlu is not None
    if broken:
        with pytest.raises(ImportError):
            vindlu()


def test_mmaction_models_fail_with_transformers5_without_fix():
    """The problem fix 6 solves exists here: with the drn placeholder alone,
    importing mmaction.models fails inside VindLU (skipped where the
    installed transformers still serves VindLU)."""
    import transformers.modeling_utils as hf_utils
    if hasattr(hf_utils, 'apply_chunking_to_forward'):
        pytest.skip('this transformers serves VindLU; fix 6 is a no-op')
    res = run_python(WITHOUT_STARTUP + 'sys.meta_path.append(s._DRNFinder());'
                     'import mmaction.models')
    assert res.returncode != 0
    assert 'apply_chunking_to_forward' in res.stderr


def test_sdpa_is_counted_by_every_flop_analyzer():
    """Fix 7: after ``import mmxclip`` a plain FlopAnalyzer (as MMAction2's
    get_flops builds it) counts Q K^T and A V: 2 * B * H * L * S * d."""

    class Attn(torch.nn.Module):

        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    from mmengine.analysis import FlopAnalyzer
    q = torch.randn(2, 3, 5, 8)
    kv = torch.randn(2, 3, 7, 8)
    assert FlopAnalyzer(Attn(), (q, kv, kv)).total() == 2 * 2 * 3 * 5 * 7 * 8
