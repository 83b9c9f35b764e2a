"""``import mmxclip`` is the one list of what mmxclip registers or patches
outside itself; each step reports whether it changed anything."""
from mmengine.fileio.backends.registry_utils import backends
from mmengine.runner import checkpoint

import mmxclip
from mmxclip.engine import (AtomicLocalBackend, XCLIPFSDPStrategy,
                            register_atomic_local_backend)
from mmxclip.weights import (load_from_clip, load_from_http, load_from_local,
                             load_from_openmmlab, register_clip_scheme,
                             register_safe_loaders)


def test_import_registered_everything_and_said_so():
    assert mmxclip.REGISTERED['safe_loaders'] is True
    assert mmxclip.REGISTERED['clip_scheme'] is True
    assert mmxclip.REGISTERED['atomic_local_backend'] is True
    schemes = checkpoint.CheckpointLoader._schemes
    assert schemes[''] is load_from_local
    assert schemes['http://'] is schemes['https://'] is load_from_http
    assert schemes['open-mmlab://'] is load_from_openmmlab
    assert checkpoint.load_from_http is load_from_http
    assert schemes['clip://'] is load_from_clip
    assert backends['local'] is AtomicLocalBackend
    assert set(mmxclip.COMPAT_APPLIED) == {
        'drn', 'multimodal', 'color_jitter_hue', 'sdpa_flops'}


def test_a_second_registration_changes_nothing_and_says_so():
    assert register_safe_loaders() is False
    assert register_clip_scheme() is False
    assert register_atomic_local_backend() is False


def test_a_replaced_loader_is_put_back_and_reported(monkeypatch):
    """What actually happened is reported: MMEngine's own local loader
    back in place is replaced again, and the call says so."""
    monkeypatch.setitem(checkpoint.CheckpointLoader._schemes, '',
                        checkpoint.load_from_local)
    assert register_safe_loaders() is True
    assert checkpoint.CheckpointLoader._schemes[''] is load_from_local


def test_mmengine_fsdp_strategy_is_left_as_it_is():
    """The FSDP resume fix is a strategy of mmxclip's own, which its FSDP
    configs name; MMEngine's ``FSDPStrategy`` is not patched."""
    from mmengine._strategy.fsdp import FSDPStrategy
    from mmengine.registry import STRATEGIES
    assert FSDPStrategy.load_optim_state_dict.__module__ == \
        'mmengine._strategy.fsdp'
    assert STRATEGIES.get('FSDPStrategy') is FSDPStrategy
    assert STRATEGIES.get('XCLIPFSDPStrategy') is XCLIPFSDPStrategy
    assert 'load_optim_state_dict' in vars(XCLIPFSDPStrategy)
