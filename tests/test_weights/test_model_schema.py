"""A model config read from a file is data with a closed schema.

MMEngine imports the module before the dot of a ``type``, a ``_scope_``'s
``registry`` and builds any class of the registry. Here the working
directory (on ``sys.path``, as a notebook beside downloaded weights has it)
holds ``xclip_helpers.py`` and ``x/registry.py``, which write a marker file
when imported. Checkpoints whose ``meta['model_cfg']`` or ``meta['cfg']``
text name ``'xclip_helpers.XCLIPRecognizer'``, ``'this.X'``,
``_scope_='x'``, another registry class (``CLIPSimilarity``) or an unknown
argument, in each place a config is built from, are refused by
``init_xclip`` and the tools naming the file and the key path, and nothing
is imported (in a fresh process: not even Python's ``this``). The same for
an HF ``config.json``, an index's model record, a feature file's header and
ONNX metadata; every config the project writes still loads.
"""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import ROOT
from helpers.runs import PYTHON
from helpers.tiny_model import save_tiny_xclip, tiny_xclip, tiny_xclip_cfg
from helpers.weight_files import load_tool, write_video
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.runner.checkpoint import save_checkpoint
from safetensors.torch import save as save_bytes

from mmxclip.apis import init_xclip, model_identity
from mmxclip.apis.feature_files import FORMAT, read_header
from mmxclip.deploy import onnx_metadata, read_onnx_metadata
from mmxclip.retrieval import VideoIndex
from mmxclip.weights import (ModelConfigError, check_model_config,
                             parse_config_text, read_hf_config)

PLANTS = {
    'xclip_helpers.py': 'xclip_helpers',
    'x/__init__.py': 'x',
    'x/registry.py': 'x.registry',
}
CLASSES = ['archery', 'bowling', 'juggling balls', 'swimming']
# Every place a config is built from, as a key path.
PLACES = [(), ('backbone', ), ('neck', ), ('cls_head', ),
          ('cls_head', 'text_cfg'), ('cls_head', 'init_cfg'),
          ('cls_head', 'loss_cls'), ('data_preprocessor', ),
          ('data_preprocessor', 'blending'),
          ('data_preprocessor', 'blending', 'augments', 0)]
HOSTILE = {
    'planted_module': {'type': 'xclip_helpers.XCLIPRecognizer'},
    'stdlib_module': {'type': 'this.X'},
    'scope': {'_scope_': 'x'},
    'registry_class': {'type': 'CLIPSimilarity'},
    'unknown_argument': {'clip_path': 'ViT-B-16.pt'},
}
ZEN = 'Beautiful is better than ugly'


def full_cfg():
    """The tiny model's config with every kind of slot filled as the
    project's configs fill them (blending, init_cfg, loss)."""
    cfg = tiny_xclip_cfg(class_names=CLASSES)
    cfg['cls_head'].update(
        init_cfg=dict(type='Pretrained', checkpoint='clip.pt',
                      prefix='cls_head.'),
        loss_cls=dict(type='CrossEntropyLoss', loss_weight=1.0))
    cfg['data_preprocessor']['blending'] = dict(
        type='RandomBatchAugment', probs=[1.0],
        augments=[dict(type='MixupBlending', alpha=0.8, num_classes=4)])
    return cfg


def planted_cfg(place, hostile):
    """:func:`full_cfg` with ``hostile`` merged into the dict at ``place``,
    and the key path the refusal must name."""
    cfg = full_cfg()
    node = cfg
    for key in place:
        node = node[key]
    node.update(hostile)
    path = ''.join(f'[{k}]' if isinstance(k, int) else f'.{k}'
                   for k in (*place, next(iter(hostile))))
    return cfg, path


@pytest.fixture(scope='module')
def state_dict():
    return tiny_xclip(class_names=CLASSES).state_dict()


def save(path, state_dict, carrier, cfg):
    """A checkpoint whose ``meta`` carries ``cfg`` as ``meta['model_cfg']``
    (``'model_cfg'``) or as MMEngine's config text (``'cfg'``); returns the
    path and where its model config is, as errors name it."""
    if carrier == 'model_cfg':
        meta = dict(model_cfg=cfg)
    else:
        meta = dict(cfg=Config(dict(model=cfg)).pretty_text)
    torch.save(dict(state_dict=state_dict, meta=meta), path)
    where = ("meta['model_cfg']" if carrier == 'model_cfg' else
             "meta['cfg'].model")
    return str(path), f'{path}: {where}'


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """The working directory, on ``sys.path``, with the planted modules;
    yields the folder. Each writes ``<module>.ran`` when imported."""
    for rel, module in PLANTS.items():
        os.makedirs(tmp_path / osp.dirname(rel), exist_ok=True)
        (tmp_path / rel).write_text(
            'import pathlib\n'
            f'pathlib.Path({str(tmp_path)!r}, {module + ".ran"!r})'
            ".write_text('imported')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in PLANTS.values():
        sys.modules.pop(module, None)


def assert_nothing_imported(folder):
    assert sorted(p.name for p in folder.glob('*.ran')) == []
    assert not set(PLANTS.values()) & set(sys.modules)


@pytest.mark.parametrize('carrier', ['model_cfg', 'cfg'])
@pytest.mark.parametrize('hostile', HOSTILE)
@pytest.mark.parametrize('place', PLACES,
                         ids=['.'.join(map(str, p)) or 'top' for p in PLACES])
def test_checkpoint_config_is_refused_before_anything_is_imported(
        planted, state_dict, carrier, hostile, place):
    cfg, key_path = planted_cfg(place, HOSTILE[hostile])
    path, where = save(planted / 'ckpt.pth', state_dict, carrier, cfg)
    with pytest.raises(ModelConfigError) as info:
        init_xclip(path)
    message = str(info.value)
    assert message.startswith(f'{where}{key_path}: '), message
    assert 'nothing in it was imported or built' in message
    assert_nothing_imported(planted)


def test_the_planted_modules_would_run(planted):
    """The plants are live: importing them, as MMEngine's registry does for
    a dotted type or a scope, writes the markers."""
    import importlib
    importlib.import_module('xclip_helpers')
    importlib.import_module('x.registry')
    assert sorted(p.name for p in planted.glob('*.ran')) == [
        'x.ran', 'x.registry.ran', 'xclip_helpers.ran']


@pytest.mark.parametrize('place, key, value, expected', [
    (('backbone', ), 'width', '64', "'64' is str; expected int"),
    (('backbone', ), 'use_message', 1, '1 is int; expected bool'),
    (('cls_head', 'text_cfg'), 'type', 'CLIPTextEncoder',
     'unknown argument of text_cfg'),
    (('cls_head', ), 'class_names', dict(type='this.X'),
     'no config is built here'),
    (('neck', ), 'init_cfg', [dict(type='this.X')], 'a dotted type'),
    ((), 'test_cfg', dict(fcn_test=True),
     'unknown argument of test_cfg; known: max_testing_views'),
    (('data_preprocessor', ), 'mean', {1, 2, 3}, 'set is not plain data'),
    ((), 'backbone', ['CCTViT'], 'expected a config dict, got list'),
])
def test_values_and_arguments(state_dict, tmp_path, place, key, value,
                              expected):
    """Arguments annotated as plain scalars get values of those types;
    no ``type`` where nothing is built; only plain data."""
    cfg = full_cfg()
    node = cfg
    for k in place:
        node = node[k]
    node[key] = value
    path, where = save(tmp_path / 'ckpt.pth', state_dict, 'model_cfg', cfg)
    with pytest.raises(ModelConfigError) as info:
        init_xclip(path)
    key_path = ''.join(f'.{k}' for k in (*place, key))
    assert str(info.value).startswith(f'{where}{key_path}'), info.value
    assert expected in str(info.value)


def test_model_config_not_a_dict(state_dict, tmp_path):
    path, where = save(tmp_path / 'ckpt.pth', state_dict, 'model_cfg',
                       ['XCLIPRecognizer'])
    with pytest.raises(ModelConfigError) as info:
        init_xclip(path)
    assert str(info.value).startswith(f'{where}: expected a config dict, '
                                      'got list')


SCRIPT = '''
import json, sys
from mmxclip.apis import init_xclip
from mmxclip.weights import ModelConfigError
refused = []
for path in sys.argv[1:]:
    try:
        init_xclip(path)
    except ModelConfigError as err:
        refused.append(str(err))
print(json.dumps(dict(refused=refused, imported=sorted(
    {'this', 'xclip_helpers', 'x', 'x.registry'} & set(sys.modules)))))
'''


def test_nothing_is_imported_in_a_fresh_process(planted, state_dict):
    """``python -c`` in the planted folder ('' on sys.path, as in a
    notebook): every hostile checkpoint is refused and neither the plants
    nor Python's ``this`` are in ``sys.modules`` afterwards."""
    paths = []
    for i, (name, hostile) in enumerate(HOSTILE.items()):
        for place in (('backbone', ), ('data_preprocessor', 'blending')):
            cfg, _ = planted_cfg(place, hostile)
            path, _ = save(planted / f'{name}_{i}_{len(place)}.pth',
                           state_dict, 'cfg' if i % 2 else 'model_cfg', cfg)
            paths.append(path)
    cfg, _ = planted_cfg((), HOSTILE['stdlib_module'])
    paths.append(save(planted / 'top.pth', state_dict, 'model_cfg', cfg)[0])
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{ROOT}/tests')
    run = subprocess.run([PYTHON, '-c', SCRIPT, *paths], cwd=planted,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(result['refused']) == len(paths)
    assert result['imported'] == []
    assert ZEN not in run.stdout
    assert sorted(p.name for p in planted.glob('*.ran')) == []


def _tool(planted, args):
    """Run a tool as a user in the planted folder with ``PYTHONPATH=.``."""
    env = dict(os.environ, PYTHONPATH=f'{ROOT}:{planted}',
               OMP_NUM_THREADS='1')
    return subprocess.run([PYTHON, *args], cwd=planted, env=env,
                          capture_output=True, text=True, timeout=120)


def test_zero_shot_tool_refuses_with_a_message(planted, state_dict):
    """``tools/zero_shot.py`` ends with the refusal (file and key path) and
    exit status 2: no traceback, no video read, nothing imported."""
    cfg, key_path = planted_cfg(('backbone', ), HOSTILE['stdlib_module'])
    path, where = save(planted / 'ckpt.pth', state_dict, 'cfg', cfg)
    video = write_video(str(planted / 'clip.mp4'))
    run = _tool(planted, [osp.join(ROOT, 'tools', 'zero_shot.py'), video,
                          '--checkpoint', path, '--labels', 'a,b'])
    assert run.returncode == 2, run.stderr
    assert f'error: {where}{key_path}: ' in run.stderr
    assert 'Traceback' not in run.stderr
    assert ZEN not in run.stdout and video not in run.stdout
    assert sorted(p.name for p in planted.glob('*.ran')) == []


def test_extract_features_tool_refuses_with_a_message(planted, state_dict,
                                                      capsys):
    cfg, key_path = planted_cfg((), HOSTILE['planted_module'])
    path, where = save(planted / 'ckpt.pth', state_dict, 'model_cfg', cfg)
    video = write_video(str(planted / 'clip.mp4'))
    with pytest.raises(SystemExit) as info:
        load_tool('extract_features.py').main(
            [video, '--checkpoint', path, '--out-dir', 'feats'])
    assert info.value.code == 2
    assert f'error: {where}{key_path}: ' in capsys.readouterr().err
    assert not osp.exists(planted / 'feats')
    assert_nothing_imported(planted)


# HuggingFace config.json: what names code there.
@pytest.mark.parametrize('change, message', [
    (dict(auto_map={'AutoModel': 'xclip_helpers.XCLIPModel'}),
     'config.json: auto_map = '),
    (dict(vision_config=dict(auto_map={'AutoConfig': 'this.X'})),
     'config.json: vision_config.auto_map = '),
    (dict(architectures=['xclip_helpers.XCLIPModel']),
     'config.json: architectures = '),
    (dict(text_config=dict(hidden_act='xclip_helpers.gelu')),
     'config.json: text_config.hidden_act = '),
])
def test_hf_config_naming_code_is_refused(planted, change, message):
    from helpers.hf_reference import random_hf_model
    folder = planted / 'hf'
    random_hf_model().save_pretrained(folder)
    with open(folder / 'config.json') as f:
        cfg = json.load(f)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    with open(folder / 'config.json', 'w') as f:
        json.dump(cfg, f)
    with pytest.raises(ValueError) as info:
        init_xclip(str(folder), CLASSES)
    assert str(info.value).startswith(f'{folder}/{message}')
    with pytest.raises(ValueError):
        read_hf_config(str(folder / 'config.json'))
    assert_nothing_imported(planted)


# Records read back: an index's model, a feature file's header, ONNX
# metadata. Their test pipelines are compared, never built, and held to
# registered transforms all the same.
RECORD_CHANGES = {
    'dotted_step': (lambda r: r['test_pipeline'][0].update(
        type='xclip_helpers.DecordInit'), '.test_pipeline[0].type'),
    'scope_step': (lambda r: r['test_pipeline'][1].update(_scope_='x'),
                   '.test_pipeline[1]._scope_'),
    'unknown_step': (lambda r: r['test_pipeline'][2].update(
        type='CLIPSimilarity'), '.test_pipeline[2].type'),
    'type_in_architecture': (lambda r: r['architecture'].update(
        type='this.X'), '.architecture'),
    'extra_key': (lambda r: r.update(model_cfg=dict(type='this.X')), ''),
    'fingerprint': (lambda r: r.update(fingerprint='x'), '.fingerprint'),
}


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_xclip(str(tmp_path_factory.mktemp('ckpt') / 't.pth'))


@pytest.fixture(scope='module')
def tiny_model(tiny_checkpoint):
    return init_xclip(tiny_checkpoint)


def empty_index(root, model, checkpoint):
    """An index of ``model`` without videos; its index.json and contents."""
    os.makedirs(root)
    VideoIndex.create(root, model, checkpoint,
                      dict(num_frames=None, num_clips=1, num_crops=1))
    path = osp.join(root, 'index.json')
    with open(path) as f:
        return path, json.load(f)


def write_json(path, data):
    with open(path, 'w') as f:
        json.dump(data, f)


@pytest.mark.parametrize('change', RECORD_CHANGES)
def test_index_model_record(planted, tiny_model, tiny_checkpoint, change):
    root = str(planted / 'idx')
    path, info = empty_index(root, tiny_model, tiny_checkpoint)
    edit, key_path = RECORD_CHANGES[change]
    edit(info['model'])
    write_json(path, info)
    with pytest.raises(ModelConfigError) as info:
        VideoIndex(root)
    assert str(info.value).startswith(f'{path}: model{key_path}')
    assert_nothing_imported(planted)


@pytest.mark.parametrize('key, value', [
    ('num_crops', 2), ('num_frames', '8'), ('checkpoint', ['a.pth'])])
def test_index_rebuild_arguments(tmp_path, tiny_model, tiny_checkpoint,
                                 key, value):
    """What a query rebuilds the model with is checked when the index is
    opened."""
    root = str(tmp_path / 'idx')
    path, info = empty_index(root, tiny_model, tiny_checkpoint)
    info['model'][key] = value
    write_json(path, info)
    with pytest.raises(ModelConfigError) as info:
        VideoIndex(root)
    assert str(info.value).startswith(f'{path}: model.{key}: {value!r}; '
                                      'expected')


def test_search_tool_ends_with_the_message(planted, tiny_model,
                                           tiny_checkpoint, capsys):
    root = str(planted / 'idx')
    path, info = empty_index(root, tiny_model, tiny_checkpoint)
    info['model']['test_pipeline'][0]['type'] = 'xclip_helpers.DecordInit'
    write_json(path, info)
    with pytest.raises(SystemExit) as info:
        load_tool('search_videos.py').main(['query', root, 'a dog'])
    assert info.value.code == 2
    assert f'error: {path}: model.test_pipeline[0].type: ' in \
        capsys.readouterr().err
    assert_nothing_imported(planted)


def _feature_file(path, identity):
    """A feature file as :func:`save_features` writes it, with ``identity``
    as its header's model record."""
    tensors = dict(frame_embeddings=torch.zeros(1, 8, 32),
                   view_embeddings=torch.zeros(1, 32),
                   visual_tokens=torch.zeros(1, 4, 32),
                   video_embedding=torch.zeros(32),
                   frame_inds=torch.zeros(1, 8, dtype=torch.int64))
    with open(path, 'wb') as f:
        f.write(save_bytes(tensors, metadata=dict(
            format=FORMAT, video='/v.mp4', checkpoint='/c.pth',
            model=json.dumps(identity))))
    return str(path)


@pytest.mark.parametrize('change', RECORD_CHANGES)
def test_feature_file_header(planted, tiny_model, change):
    identity = copy.deepcopy(model_identity(tiny_model))
    assert read_header(_feature_file(planted / 'ok.safetensors', identity))
    edit, key_path = RECORD_CHANGES[change]
    edit(identity)
    path = _feature_file(planted / 'f.safetensors', identity)
    with pytest.raises(ModelConfigError) as info:
        read_header(path)
    assert str(info.value).startswith(f"{path}: header['model']{key_path}")
    assert_nothing_imported(planted)


def _onnx_file(path, meta):
    """A real (one Identity node) ONNX file carrying ``meta``."""
    import onnx
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node('Identity', ['clips'], ['scores'])], 'g',
        [helper.make_tensor_value_info('clips', TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info('scores', TensorProto.FLOAT, [1])])
    proto = helper.make_model(graph)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return str(path)


@pytest.mark.parametrize('key, value, message', [
    ('test_pipeline', json.dumps([dict(type='xclip_helpers.DecordInit')]),
     'test_pipeline[0].type: '),
    ('test_pipeline', json.dumps([dict(type='DecordInit', _scope_='x')]),
     'test_pipeline[0]._scope_: '),
    ('test_pipeline', json.dumps([dict(type='CLIPSimilarity')]),
     'test_pipeline[0].type: '),
    ('class_names', 'not json', 'class_names: not JSON'),
    ('class_names', json.dumps([{'type': 'this.X'}]), 'class_names: '),
    ('num_frames', '-8', 'num_frames: '),
    ('average_clips', 'xclip_helpers.mean', 'average_clips: '),
    ('precision', 'bf16', 'precision: '),
    ('precision', 'xclip_helpers.int8', 'precision: '),
    ('model_cfg', json.dumps(dict(type='this.X')), 'keys'),
])
def test_onnx_metadata_read_back(planted, tiny_model, key, value, message):
    pytest.importorskip('onnx')
    meta = onnx_metadata(tiny_model)
    good = read_onnx_metadata(_onnx_file(planted / 'ok.onnx', meta))
    assert good['class_names'] == tiny_model.cls_head.class_names
    assert good['num_frames'] == 8
    meta[key] = value
    path = _onnx_file(planted / 'bad.onnx', meta)
    with pytest.raises(ModelConfigError) as info:
        read_onnx_metadata(path)
    assert str(info.value).startswith(f'{path}: metadata {message}')
    assert_nothing_imported(planted)


# What the project writes still loads.
CONFIGS = sorted(c for c in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                      recursive=True) if '_base_' not in c)


@pytest.mark.parametrize('config', CONFIGS,
                         ids=[osp.relpath(c, ROOT) for c in CONFIGS])
def test_every_config_as_a_checkpoint_stores_it_passes(config):
    """MMEngine stores ``cfg.pretty_text`` in every checkpoint it saves; the
    model of each config in configs/, read back as data, passes."""
    text = Config.fromfile(config).pretty_text
    model = parse_config_text(text, config)['model']
    assert check_model_config(model, config) is model


def test_trained_config_text_loads(tmp_path):
    """A checkpoint as training writes it (``save_checkpoint`` with the toy
    config's ``pretty_text`` in ``meta['cfg']``) rebuilds its model."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'xclip_toy.py'))
    cfg.model.cls_head.class_names = CLASSES
    cfg.model.cls_head.num_classes = len(CLASSES)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(dict(state_dict=model.state_dict(),
                         meta=dict(cfg=cfg.pretty_text)), path)
    loaded = init_xclip(path)
    assert loaded.backbone.patch_size == 4 and loaded.neck.num_frames == 8
    assert loaded.cls_head.class_names == CLASSES
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_full_config_and_converted_weights_load(state_dict, tmp_path):
    """Every slot filled (init_cfg, loss, blending), through both carriers,
    and ``tools/convert_weights.py``'s output of a HF model."""
    for carrier in ('model_cfg', 'cfg'):
        path, _ = save(tmp_path / f'{carrier}.pth', state_dict, carrier,
                       full_cfg())
        model = init_xclip(path)
        assert type(model.data_preprocessor.blending).__name__ == \
            'RandomBatchAugment'
    from helpers.hf_reference import random_hf_model
    from helpers.weight_files import converted_tiny_xclip
    converted = converted_tiny_xclip(random_hf_model(), str(tmp_path),
                                     CLASSES)
    model = init_xclip(converted)
    assert model.cls_head.class_names == CLASSES
    assert np.isfinite(float(model.cls_head.logit_scale))
