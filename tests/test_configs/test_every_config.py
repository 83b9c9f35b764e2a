"""Every config builds its model and its train / val / test pipelines.

Dataset paths and label maps are pointed at tiny generated videos; one
sample goes through each pipeline and its shape is checked against the
config's frames, views and resolution.
"""
import glob
import os.path as osp

import pytest
import torch
from helpers import ROOT
from helpers.configs import load
from helpers.tiny_model import one_view_at_a_time
from helpers.toy_data import make_videos
from helpers.weight_files import meta_build
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config

from mmxclip import apis
from mmxclip.weights.arch import IMAGENET_MEAN, IMAGENET_STD

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*.py')))
# (frames, input size, test views, backbone width) of each config
EXPECTED = {
    'xclip_b16_k400': (8, 224, 12, 768),
    'xclip_b16_16f_k400': (16, 224, 12, 768),
    'xclip_b16_32f_k400': (32, 224, 12, 768),
    'xclip_b16_k600': (8, 224, 12, 768),
    'xclip_b32_k400': (8, 224, 12, 768),
    'xclip_b32_16f_k400': (16, 224, 12, 768),
    'xclip_l14_k400': (8, 224, 12, 1024),
    'xclip_l14_336_16f_k400': (16, 336, 12, 1024),
    'xclip_toy': (8, 32, 6, 64),
    'xclip_toy_ablation': (8, 32, 6, 64),
}


def name_of(path: str) -> str:
    return osp.splitext(osp.basename(path))[0]


def test_every_config_has_expectations():
    assert sorted(map(name_of, CONFIGS)) == sorted(EXPECTED)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp('videos'))


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_config_builds_model(path, tmp_path):
    frames, size, _, width = EXPECTED[name_of(path)]
    cfg = load(path, tmp_path)
    assert cfg.custom_imports.imports == ['mmxclip']
    model = meta_build(cfg.model)
    backbone = model.backbone
    assert backbone.input_resolution == size
    assert backbone.conv1.out_channels == width
    assert model.cls_head.num_classes == cfg.model.cls_head.num_classes
    if model.with_neck:
        assert model.neck.positional_embedding.shape[1] == frames
    if 'toy' not in path:
        init = cfg.model.backbone.init_cfg
        assert init.checkpoint.startswith('clip://')
        assert cfg.model.cls_head.init_cfg.checkpoint == init.checkpoint
        assert not any(p.requires_grad
                       for p in model.cls_head.text_encoder.parameters())


@pytest.mark.parametrize('path', CONFIGS, ids=name_of)
def test_config_pipelines(path, tmp_path, videos):
    frames, size, test_views, _ = EXPECTED[name_of(path)]
    cfg = load(path, tmp_path)
    views = dict(train=1, val=1, test=test_views)
    for split, num_views in views.items():
        dataset_cfg = cfg[f'{split}_dataloader'].dataset
        dataset_cfg.ann_file = videos['ann_file']
        dataset_cfg.data_prefix = dict(video=videos['data_prefix'])
        sample = DATASETS.build(dataset_cfg)[0]
        shape = (num_views, 3, frames, size, size)
        assert tuple(sample['inputs'].shape) == shape, split
        assert sample['inputs'].dtype == torch.uint8


def test_toy_config_predicts_from_its_pipeline(tmp_path, videos):
    """Real build of the toy model; its test views are fused to one score."""
    cfg = load(osp.join(ROOT, 'configs', 'xclip_toy.py'), tmp_path)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.ann_file = videos['ann_file']
    dataset_cfg.data_prefix = dict(video=videos['data_prefix'])
    dataset = DATASETS.build(dataset_cfg)
    model = MODELS.build(cfg.model).eval()
    batch = model.data_preprocessor(
        dict(inputs=[dataset[0]['inputs'], dataset[1]['inputs']],
             data_samples=[dataset[0]['data_samples'],
                           dataset[1]['data_samples']]))
    assert batch['inputs'].shape == (2, 6, 3, 8, 32, 32)
    with torch.no_grad():
        out = model(**batch, mode='predict')
    scores = torch.stack([s.pred_score for s in out])
    torch.testing.assert_close(
        scores, one_view_at_a_time(model, batch['inputs']).softmax(-1).mean(1))


def test_ablation_is_the_toy_config_without_messages_and_mit(tmp_path):
    """``xclip_toy_ablation.py`` is ``xclip_toy.py`` with the message tokens
    off and no MIT, nothing else; so its prediction cannot depend on the
    order of the frames, X-CLIP's does."""
    toy = load(osp.join(ROOT, 'configs', 'xclip_toy.py'), tmp_path)
    ablation = load(osp.join(ROOT, 'configs', 'xclip_toy_ablation.py'),
                    tmp_path)
    expected = toy.to_dict()
    expected['model']['backbone']['use_message'] = False
    expected['model']['neck'] = None
    assert ablation.to_dict() == expected
    torch.manual_seed(0)
    frames = torch.randn(2, 1, 3, 8, 32, 32)
    shuffled = frames[:, :, :, torch.randperm(8)]
    for cfg, order_free in ((ablation, True), (toy, False)):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).eval()
        with torch.no_grad():
            scores = [torch.stack([s.pred_score for s in model(
                x, [ActionDataSample() for _ in x], mode='predict')])
                      for x in (frames, shuffled)]
        assert scores[0].std() > 1e-3  # the scores discriminate
        assert torch.allclose(*scores, rtol=1e-5, atol=1e-6) is order_free


def docs_snippet(marker: str) -> str:
    """The python block after ``<!-- marker -->`` in docs/training.md, as
    written."""
    text = open(osp.join(ROOT, 'docs', 'training.md'),
                encoding='utf-8').read()
    block = text.split(f'<!-- {marker} -->', 1)[1]
    return block.split('```python\n', 1)[1].split('```', 1)[0]


def test_cct_snippet_in_a_stock_timesformer_config(tmp_path):
    """docs/training.md's snippet merged into MMAction2's own TimeSformer
    config (installed with the wheel) builds and runs, and with the stock SGD
    schedule no bias, norm, class or position embedding of CCTViT (or any
    1-d parameter) gets weight decay; every matrix keeps the stock decay.
    Without the snippet's paramwise_cfg the stock keys match nothing and
    the embeddings decay."""
    import mmaction
    from mmengine.optim import build_optim_wrapper
    stock = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs',
                     'recognition', 'timesformer',
                     'timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb.py')
    path = tmp_path / 'cct_timesformer.py'
    path.write_text(f'_base_ = {stock!r}\n' + docs_snippet('cct-snippet'))
    cfg = Config.fromfile(str(path))
    assert cfg.model.backbone.type == 'CCTViT'
    assert 'pretrained' not in cfg.model.backbone
    model = MODELS.build(cfg.model).eval()
    x = torch.randint(0, 256, (1, 1, 3, 2, 224, 224), dtype=torch.uint8)
    batch = model.data_preprocessor(dict(inputs=[x[0]], data_samples=None))
    with torch.no_grad():
        feats = model(**batch, mode='tensor')
        scores, _ = model.extract_feat(batch['inputs'], stage='head')
    assert feats.shape == (1, 512) and scores.shape == (1, 400)

    def decay(optim_cfg) -> dict:
        groups = build_optim_wrapper(model, optim_cfg).optimizer.param_groups
        by_id = {id(p): g['weight_decay'] for g in groups for p in g['params']}
        return {n: by_id[id(p)] for n, p in model.named_parameters()}

    base = cfg.optim_wrapper.optimizer.weight_decay
    assert base == 1e-4
    for name, wd in decay(cfg.optim_wrapper).items():
        no_decay = (model.get_parameter(name).ndim == 1
                    or name == 'backbone.positional_embedding')
        assert wd == (0. if no_decay else base), name
    stock_only = Config.fromfile(stock).optim_wrapper
    plain = decay(stock_only)
    assert plain['backbone.positional_embedding'] == base
    assert plain['backbone.class_embedding'] == base


def test_config_copies_of_shared_facts_match_their_definitions():
    """Text configs cannot import mmxclip: their copies of X-CLIP's test
    pipelines and input statistics must equal the definitions."""
    base = osp.join(ROOT, 'configs', '_base_')
    data = Config.fromfile(osp.join(base, 'datasets', 'kinetics400_xclip.py'))
    one_view = apis.test_pipeline(8, 224)
    assert one_view[1].pop('num_views') == 1  # SegmentSampleFrames' default
    assert data.val_pipeline == one_view
    views = apis.test_pipeline(8, 224, num_clips=4, num_crops=3)
    # The published multi-view test draws its clips at random (seeded).
    del views[1]['test_mode']
    views[1]['seed'] = 0
    assert data.test_pipeline == views
    model = Config.fromfile(osp.join(base, 'models', 'xclip_vit_b16.py'))
    assert model.model.data_preprocessor.mean == IMAGENET_MEAN
    assert model.model.data_preprocessor.std == IMAGENET_STD
