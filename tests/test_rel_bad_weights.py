"""Wrong class-name files, checkpoints of another architecture and unknown
weight formats give errors that name the file/key and what was expected."""
import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint
from reliability_utils import toy_config

from mmxclip.weights.formats import read_weights


@pytest.fixture(scope='module')
def toy_model_cfg(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy')
    (root / 'classes.txt').write_text(''.join(f'c{i}\n' for i in range(8)))
    init_default_scope('mmaction')
    return toy_config(str(root), str(root)).model


@pytest.mark.parametrize('content,message', [
    ('a\nb\nc\n', r"classes.txt: 3 class names, but num_classes=8"),
    ('a\nb\na\nd\ne\nf\ng\nh\n',
     r"classes.txt: class name 'a' on line 3 duplicates line 1"),
    ('a\nb\n\nd\ne\nf\ng\nh\n',
     r'classes.txt: line 3 is blank; expected one class name per line'),
], ids=['count', 'duplicate', 'blank'])
def test_bad_class_name_file(toy_model_cfg, tmp_path, content, message):
    path = tmp_path / 'classes.txt'
    path.write_text(content)
    cfg = Config(dict(model=toy_model_cfg))
    cfg.merge_from_dict({'model.cls_head.class_names': str(path)})
    with pytest.raises(ValueError, match=message):
        MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def toy_checkpoint(toy_model_cfg, tmp_path_factory):
    path = str(tmp_path_factory.mktemp('ckpt') / 'toy.pth')
    model = MODELS.build(toy_model_cfg)
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), path)
    return path


OTHER_ARCH = [
    ('width', {'backbone.width': 96, 'cls_head.vision_width': 96},
     r'backbone.conv1.weight: checkpoint \(64, 3, 4, 4\) vs model '
     r'\(96, 3, 4, 4\)'),
    ('patch', {'backbone.patch_size': 8},
     r'backbone.conv1.weight: checkpoint \(64, 3, 4, 4\) vs model '
     r'\(64, 3, 8, 8\)'),
    ('frames', {'neck.num_frames': 16},
     r'neck.positional_embedding: checkpoint \(1, 8, 64\) vs model '
     r'\(1, 16, 64\) - frames 8 vs 16'),
]


@pytest.mark.parametrize('name,change,message', OTHER_ARCH,
                         ids=['width', 'patch', 'frames'])
def test_checkpoint_of_another_architecture(toy_model_cfg, toy_checkpoint,
                                            name, change, message):
    """``load_from`` / ``tools/test.py CONFIG CKPT`` load through MMEngine's
    ``load_checkpoint``; a mismatch must stop it, naming key and shapes."""
    cfg = Config(dict(model=toy_model_cfg))
    cfg.merge_from_dict({f'model.{k}': v for k, v in change.items()})
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(model, toy_checkpoint, map_location='cpu')


@pytest.mark.parametrize('name,content', [
    ('random.bin', b'\x00\x01garbage' * 100),
    ('weights.pth', None),
    ('notes.safetensors', b'not safetensors'),
], ids=['bytes', 'unrelated_keys', 'bad_safetensors'])
def test_unknown_weight_format(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        torch.save({'encoder.layer.weight': torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        read_weights(str(path))
    assert str(path) in str(info.value)
