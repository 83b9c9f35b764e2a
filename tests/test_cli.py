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
    try:
        cli.setup_cpu_distributed(cfg)
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.device_ids is None
        torch.cuda.set_device(0)  # harmless now
    finally:
        torch.cuda.set_device = original
