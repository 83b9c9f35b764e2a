"""mmxclip.cli: the tools' shared command-line plumbing."""
import pytest
import torch

from mmxclip import cli


def test_setup_cpu_distributed_sets_gloo():
    from mmengine.config import Config
    if torch.cuda.is_available():
        pytest.skip('CUDA present: setup_cpu_distributed is a no-op')
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    original = torch.cuda.set_device
    cli.setup_cpu_distributed(cfg)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert torch.cuda.set_device is original  # the config only


def test_cpu_set_device_only_inside_the_block():
    """``torch.cuda.set_device`` is a no-op while a runner joins its process
    group on a machine without CUDA, and torch's own before and after."""
    if torch.cuda.is_available():
        pytest.skip('CUDA present: cpu_set_device changes nothing')
    original = torch.cuda.set_device
    with cli.cpu_set_device():
        torch.cuda.set_device(0)  # harmless here
    assert torch.cuda.set_device is original
    with pytest.raises(RuntimeError):
        with cli.cpu_set_device():
            raise RuntimeError('a failed init_dist')
    assert torch.cuda.set_device is original
