"""Every ``config.json`` layout transformers has written for X-CLIP gives the
model HF itself reloads: ``text_config`` / ``vision_config``, the older
``*_config_dict`` (alone, or beside a ``*_config`` it overrides), keys left
out meaning HF's defaults. What mmxclip cannot build as HF would is
refused, naming the key."""
import copy
import json

import pytest
import torch
import transformers
from helpers.hf_reference import (CLASS_NAMES, hf_logits, random_hf_model,
                                  random_videos)
from helpers.weight_files import assert_same_logits

from mmxclip.apis import init_xclip
from mmxclip.weights import resolve_hf_config
from mmxclip.weights.hf_config import (TEXT_DEFAULTS, TOP_DEFAULTS,
                                       VISION_DEFAULTS)

# Keys whose values below are HF's defaults (dropped in the 'defaults'
# layouts); the rest are not.
DEFAULTED = dict(
    vision_config=['num_attention_heads', 'mit_num_attention_heads',
                   'mit_num_hidden_layers', 'hidden_act', 'layer_norm_eps'],
    text_config=['num_attention_heads', 'vocab_size',
                 'max_position_embeddings', 'hidden_act', 'layer_norm_eps'],
    top=['prompt_num_attention_heads', 'prompt_layers', 'prompt_hidden_act'])


def test_default_tables_are_transformers_defaults():
    from transformers import XCLIPConfig, XCLIPTextConfig, XCLIPVisionConfig
    for table, cls in ((TEXT_DEFAULTS, XCLIPTextConfig),
                       (VISION_DEFAULTS, XCLIPVisionConfig),
                       (TOP_DEFAULTS, XCLIPConfig)):
        hf = cls().to_dict()
        assert {k: hf[k] for k in table} == table


@pytest.fixture(scope='module')
def hf_model():
    """Head counts equal to HF's defaults (12 / 8 / 8 / 8), so that the
    'defaults' layouts can leave them out."""
    cfg = transformers.XCLIPConfig(
        projection_dim=32, prompt_layers=2, prompt_alpha=0.1,
        text_config=dict(hidden_size=64, intermediate_size=256,
                         num_hidden_layers=2),
        vision_config=dict(hidden_size=96, intermediate_size=384,
                           num_hidden_layers=2, image_size=32,
                           patch_size=16, num_frames=4, mit_hidden_size=32,
                           mit_intermediate_size=128))
    return random_hf_model(seed=5, config=cfg)


def _layout(cfg, layout):
    """``config.json`` contents rewritten into ``layout``."""
    cfg = copy.deepcopy(cfg)
    if 'defaults' in layout:
        for section, keys in DEFAULTED.items():
            target = cfg if section == 'top' else cfg[section]
            for key in keys:
                target.pop(key, None)
    if layout.startswith('dict_only'):
        for tower in ('text', 'vision'):
            cfg[f'{tower}_config_dict'] = cfg.pop(f'{tower}_config')
    if layout == 'both':
        for tower in ('text', 'vision'):
            cfg[f'{tower}_config_dict'] = cfg[f'{tower}_config']
            # What transformers' to_dict wrote beside it in such files; the
            # _dict wins, its values are what the weights were saved with.
            cfg[f'{tower}_config'] = dict(cfg[f'{tower}_config'],
                                          num_attention_heads=1,
                                          hidden_act='gelu')
    return cfg


@pytest.mark.parametrize('layout', ['current', 'dict_only', 'both',
                                    'defaults', 'dict_only_defaults'])
def test_layouts_give_what_hf_reloads(hf_model, tmp_path, layout):
    hf_model.save_pretrained(tmp_path)
    path = tmp_path / 'config.json'
    path.write_text(json.dumps(_layout(json.loads(path.read_text()),
                                       layout)))
    reloaded = transformers.XCLIPModel.from_pretrained(tmp_path).eval()
    model = init_xclip(str(tmp_path), CLASS_NAMES)
    assert model.backbone.transformer.resblocks[0].attn.num_heads == 12
    assert_same_logits(model, reloaded)
    # HF's reload is the model saved: HF read the layout as intended.
    videos, _ = random_videos(hf_model)
    assert torch.equal(hf_logits(reloaded, videos),
                       hf_logits(hf_model, videos))


def test_text_gelu_builds_gelu(tmp_path):
    """HF's text tower may run exact GELU; mmxclip's text encoder follows."""
    cfg = transformers.XCLIPConfig(
        projection_dim=32, text_config=dict(
            hidden_size=64, intermediate_size=256, num_hidden_layers=2,
            num_attention_heads=2, hidden_act='gelu'),
        vision_config=dict(hidden_size=64, intermediate_size=256,
                           num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=16, num_frames=4,
                           mit_hidden_size=32, mit_intermediate_size=128,
                           mit_num_attention_heads=2),
        prompt_num_attention_heads=2)
    hf = random_hf_model(seed=2, config=cfg)
    hf.save_pretrained(tmp_path)
    model = init_xclip(str(tmp_path), CLASS_NAMES)
    assert 'GELU' in {type(m).__name__
                      for m in model.cls_head.text_encoder.modules()}
    assert_same_logits(model, hf)


def _base():
    return dict(model_type='xclip', projection_dim=32,
                text_config=dict(hidden_size=64, intermediate_size=256),
                vision_config=dict(hidden_size=96, intermediate_size=384))


@pytest.mark.parametrize('change,message', [
    (dict(vision_config=dict(hidden_act='gelu')),
     "vision_config.hidden_act = 'gelu': mmxclip builds quick_gelu here"),
    (dict(text_config=dict(hidden_act='relu')),
     "text_config.hidden_act = 'relu': mmxclip builds quick_gelu or gelu"),
    (dict(prompt_hidden_act='gelu'),
     "prompt_hidden_act = 'gelu': mmxclip builds quick_gelu here"),
    (dict(text_config=dict(layer_norm_eps=1e-6)),
     "text_config.layer_norm_eps = 1e-06: mmxclip's layer norms use CLIP's "
     '1e-5'),
    (dict(vision_config=dict(intermediate_size=288)),
     'vision_config.intermediate_size = 288: mmxclip builds 4 x '
     'hidden_size = 384'),
    (dict(text_config=dict(num_attention_heads=None)),
     'text_config.num_attention_heads = None: expected a positive int'),
    (dict(vision_config=dict(num_attention_heads=7)),
     'vision_config.num_attention_heads = 7: does not divide hidden_size = '
     '96'),
    (dict(vision_config=dict(image_size=[32, 48])),
     'vision_config.image_size = [32, 48]: expected one int'),
    (dict(model_type='clip'), "model_type is 'clip', expected 'xclip'"),
    (dict(text_config_dict=[1]),
     'text_config is a list, expected an object'),
], ids=['vision_act', 'text_act', 'prompt_act', 'eps', 'mlp', 'null',
        'heads', 'image', 'model_type', 'not_object'])
def test_what_mmxclip_cannot_build_is_refused(change, message):
    cfg = _base()
    for key, value in change.items():
        if isinstance(value, dict):
            cfg[key] = dict(cfg[key], **value)
        else:
            cfg[key] = value
    with pytest.raises(ValueError) as info:
        resolve_hf_config(cfg, 'x/config.json')
    assert str(info.value).startswith('x/config.json: ' + message)


def test_config_contradicting_the_weights_is_refused(hf_model, tmp_path):
    """A config.json from another model beside these weights."""
    hf_model.save_pretrained(tmp_path)
    path = tmp_path / 'config.json'
    cfg = json.loads(path.read_text())
    cfg['vision_config']['hidden_size'] = 192
    cfg['vision_config']['intermediate_size'] = 768
    path.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=f'{path}: vision_config.hidden_size '
                       '= 192, but the weights have 96 '
                       r'\(backbone.conv1.weight\)'):
        init_xclip(str(tmp_path), CLASS_NAMES)
