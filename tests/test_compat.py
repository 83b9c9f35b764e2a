"""Each stack fix of mmxclip.compat works, and fails without it."""
import ast
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmxclip import compat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Loads mmxclip/compat.py alone, as ``c``, without ``mmxclip/__init__``
# (which applies every fix).
LOAD_COMPAT = ('import importlib.util, sys;'
               's = importlib.util.spec_from_file_location('
               '"c", "mmxclip/compat.py");'
               'c = importlib.util.module_from_spec(s);'
               's.loader.exec_module(c);')


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-W', 'ignore', '-c', code],
                          capture_output=True, text=True, cwd=REPO,
                          timeout=300)


def test_registry_names_resolve_after_import():
    from mmaction.registry import MODELS
    for name in ('CCTViT', 'MITNeck', 'XCLIPTextHead', 'XCLIPRecognizer'):
        cls = MODELS.get(name)
        assert cls is not None and cls.__module__.startswith('mmxclip.')


def test_drn_placeholder_makes_mmaction_models_importable():
    """Fix 1: with the placeholder, ``import mmaction.models`` works; the
    finder is last on sys.meta_path so a real drn would win; DRN says why it
    is missing."""
    res = run_python(
        LOAD_COMPAT + 'c.disable_broken_multimodal();'
        'assert c.install_drn_placeholder();'
        'assert isinstance(sys.meta_path[-1], c._DRNFinder);'
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
    res = run_python(LOAD_COMPAT + 'c.disable_broken_multimodal();'
                     'import mmaction.models')
    assert res.returncode != 0
    assert 'mmaction.models.localizers.drn' in res.stderr


def test_importlib_metadata_is_declared():
    """Fix 2: mmaction imports importlib_metadata; setup.py declares it."""
    tree = ast.parse(open(os.path.join(REPO, 'setup.py')).read())
    requires = next(
        kw.value for node in ast.walk(tree) if isinstance(node, ast.Call)
        for kw in node.keywords if kw.arg == 'install_requires')
    names = [ast.literal_eval(e).split('<')[0].split('>')[0].split('=')[0]
             for e in requires.elts]
    assert 'importlib-metadata' in names
    import importlib_metadata  # noqa: F401


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
    from mmxclip.weights.safe_load import _restricted_getattr
    with pytest.raises(pickle.UnpicklingError, match='only HistoryBuffer'):
        _restricted_getattr(os, 'system')


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
    pytest.importorskip('transformers')
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


def test_setup_cpu_distributed_sets_gloo():
    from mmengine.config import Config
    if torch.cuda.is_available():
        pytest.skip('CUDA present: setup_cpu_distributed is a no-op')
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    original = torch.cuda.set_device
    try:
        compat.setup_cpu_distributed(cfg)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        torch.cuda.set_device(0)  # harmless now
    finally:
        torch.cuda.set_device = original


def test_mmaction_models_fail_with_transformers5_without_fix():
    """The problem fix 6 solves exists here: with the drn placeholder alone,
    importing mmaction.models fails inside VindLU (skipped where the
    installed transformers still serves VindLU)."""
    pytest.importorskip('transformers')
    import transformers.modeling_utils as hf_utils
    if hasattr(hf_utils, 'apply_chunking_to_forward'):
        pytest.skip('this transformers serves VindLU; fix 6 is a no-op')
    res = run_python(LOAD_COMPAT + 'c.install_drn_placeholder();'
                     'import mmaction.models')
    assert res.returncode != 0
    assert 'apply_chunking_to_forward' in res.stderr
