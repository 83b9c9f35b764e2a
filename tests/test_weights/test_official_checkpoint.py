"""A checkpoint written by the official X-CLIP training code (``epoch_saving``:
weights, AdamW and timm scheduler state, a yacs ``CfgNode``) loads through
``init_xclip``, ``clip://`` and ``tools/convert_weights.py`` in this Python,
which has no yacs, and gives the official model's logits. The key names
and shapes of every released checkpoint convert to exactly the model of
the config the model zoo names for it.

The file and the logits come from ``tests/fixtures/make_official_fixture.py``,
the released checkpoints' keys from ``tests/fixtures/make_official_keys.py``
(both run with the official code).
"""
import importlib.util
import os.path as osp
import pickle

import pytest
import torch
from helpers.runs import ROOT, LoggedMessages
from helpers.weight_files import (OFFICIAL, assert_official_logits, load_tool,
                                  meta_build)
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader

from mmxclip.apis import init_xclip
from mmxclip.weights import check_state_dict, load_inert, read_weights

NAMES = ['a', 'b', 'c', 'd', 'e']


def test_no_yacs_here():
    """The point of the exercise: the file names yacs.config.CfgNode, and
    yacs cannot be imported in the project's Python."""
    assert importlib.util.find_spec('yacs') is None
    from torch.serialization import get_unsafe_globals_in_checkpoint
    assert get_unsafe_globals_in_checkpoint(OFFICIAL) == [
        'yacs.config.CfgNode']


def test_config_reads_as_data():
    ckpt, ignored = load_inert(OFFICIAL)
    assert ignored == ['yacs.config.CfgNode']
    assert set(ckpt) == {'model', 'optimizer', 'lr_scheduler',
                         'max_accuracy', 'epoch', 'config'}
    config = ckpt['config']
    assert type(config).__name__ == 'OrderedDict'
    assert config['DATA']['NUM_FRAMES'] == 4
    assert config['MODEL']['ARCH'] == 'ViT-T/8'
    assert len(ckpt['optimizer']['state']) > 0
    assert ckpt['lr_scheduler']['t_initial'] == 2


def test_init_xclip_gives_official_logits():
    with LoggedMessages() as logged:
        model = init_xclip(OFFICIAL, NAMES)
    assert any(f'{OFFICIAL}: read as data only' in m
               and 'yacs.config.CfgNode (read as a plain dict)' in m
               for m in logged), logged
    assert_official_logits(model)


def test_clip_scheme_gives_official_logits():
    """``init_cfg=dict(type='Pretrained', checkpoint='clip://FILE')``."""
    cfg = read_weights(OFFICIAL).model_config(NAMES)
    model = MODELS.build(dict(cfg, init_cfg=dict(
        type='Pretrained', checkpoint=f'clip://{OFFICIAL}')))
    model.init_weights()
    assert_official_logits(model.eval())
    ckpt = CheckpointLoader.load_checkpoint(f'clip://{OFFICIAL}')
    assert ckpt['meta']['format'] == 'official'
    assert ckpt['meta']['quick_gelu'] is True


def test_convert_weights_gives_official_logits(tmp_path):
    out = str(tmp_path / 'xclip_tiny.pth')
    names = tmp_path / 'names.txt'
    names.write_text('\n'.join(NAMES) + '\n')
    load_tool('convert_weights.py').main(
        ['--src-format', 'official', OFFICIAL, out, '--class-names',
         str(names), '--num-clips', '1', '--num-crops', '1'])
    model = init_xclip(out)
    assert model.cls_head.class_names == NAMES
    assert_official_logits(model)


def test_mmengine_loading_still_refuses_it():
    """``load_from`` / ``--resume`` keep MMEngine's strict allowlist: the
    file and the global are named, and where its weights can be read."""
    with pytest.raises(pickle.UnpicklingError) as info:
        CheckpointLoader.load_checkpoint(OFFICIAL)
    assert str(info.value).startswith(
        f'{OFFICIAL}: refused to unpickle: Unsupported global: GLOBAL '
        'yacs.config.CfgNode was not an allowed global by default;')
    assert 'use clip://FILE, init_xclip or tools/convert_weights.py' in str(
        info.value)


def test_message_keys_missing_is_an_error(tmp_path):
    """An official file without a module's keys is damaged, not the
    no-message ablation: the error names the missing keys."""
    ckpt, _ = load_inert(OFFICIAL)
    ckpt['model'] = {k: v for k, v in ckpt['model'].items()
                     if '.message_' not in k}
    path = str(tmp_path / 'no_messages.pth')
    torch.save({'model': ckpt['model']}, path)
    with pytest.raises(ValueError) as info:
        init_xclip(path, NAMES)
    msg = str(info.value)
    assert msg.startswith(f'{path} does not fit the model')
    assert 'missing keys: backbone.transformer.resblocks.0.message_attn' in msg


KEYS = osp.join(ROOT, 'tests', 'fixtures', 'official_keys')
# Each released architecture's key list -> the config the model zoo table
# tests its checkpoints with.
RELEASES = {
    'xclip_b32_8f': 'xclip_b32_k400.py',
    'xclip_b32_16f': 'xclip_b32_16f_k400.py',
    'xclip_b16_8f': 'xclip_b16_k400.py',
    'xclip_b16_16f': 'xclip_b16_16f_k400.py',
    'xclip_b16_32f': 'xclip_b16_32f_k400.py',
    'xclip_l14_8f': 'xclip_l14_k400.py',
    'xclip_l14_336_16f': 'xclip_l14_336_16f_k400.py',
}


def released_weights(name: str) -> dict:
    """A release's ``model``: its keys and shapes, every tensor a view of
    one number (stride 0: no memory, finite floats)."""
    sd = {}
    with open(osp.join(KEYS, f'{name}.txt')) as f:
        for line in f:
            if not line.startswith('#'):
                key, shape = line.rstrip('\n').split('\t')
                shape = [int(n) for n in shape.split(',')] if shape else []
                sd[key] = torch.ones(()).expand(shape)
    return sd


@pytest.mark.parametrize('name', sorted(RELEASES))
def test_released_checkpoint_keys_fit_their_config(name, tmp_path):
    """The keys of a released checkpoint (in the release layout) are read
    as official X-CLIP, and give every key and shape of the model its
    config builds, nothing more; the inferred architecture is the
    config's."""
    released = released_weights(name)
    assert sum(k.startswith('mit.') for k in released) == 13
    path = str(tmp_path / f'{name}.pth')
    torch.save({'model': released, 'epoch': 29}, path)
    weights = read_weights(path)
    assert weights.format == 'official'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', RELEASES[name]))
    cfg.model.cls_head.class_names = [f'class {i}' for i in range(400)]
    model = meta_build(cfg.model)
    ours = {k: tuple(v.shape) for k, v in weights.state_dict.items()}
    assert ours == {k: tuple(v.shape)
                    for k, v in model.state_dict().items()}
    check_state_dict(model, weights.state_dict, path)
    inferred = weights.model_config(['x'])
    for part in ('backbone', 'neck'):
        assert {k: v for k, v in inferred[part].items() if k in cfg.model[
            part]} == {k: cfg.model[part][k] for k in inferred[part]
                       if k in cfg.model[part]}, part
