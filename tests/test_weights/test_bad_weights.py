"""Wrong class-name files, checkpoints of another architecture, unknown
weight formats, non-float or non-finite weights and empty, truncated or
damaged files give errors that name the file/key and what was expected."""
import zipfile

import pytest
import torch
from helpers.runs import toy_config
from helpers.weight_files import OFFICIAL
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import (CheckpointLoader, load_checkpoint,
                                        save_checkpoint)

from mmxclip.apis import init_xclip
from mmxclip.weights import load_inert, read_weights


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
]


@pytest.mark.parametrize('name,change,message', OTHER_ARCH,
                         ids=['width', 'patch'])
def test_checkpoint_of_another_architecture(toy_model_cfg, toy_checkpoint,
                                            name, change, message):
    """``load_from`` / ``tools/test.py CONFIG CKPT`` load through MMEngine's
    ``load_checkpoint``; a mismatch must stop it, naming key and shapes."""
    cfg = Config(dict(model=toy_model_cfg))
    cfg.merge_from_dict({f'model.{k}': v for k, v in change.items()})
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match=message):
        load_checkpoint(model, toy_checkpoint, map_location='cpu')


def test_checkpoint_of_another_frame_count_is_interpolated(
        toy_model_cfg, toy_checkpoint):
    """Another frame count is the same architecture: MIT's temporal table
    is interpolated (tests/test_models/test_necks/test_num_frames.py),
    through load_checkpoint too."""
    from mmxclip.models.layers import resize_temporal_pos_embed
    cfg = Config(dict(model=toy_model_cfg))
    cfg.merge_from_dict({'model.neck.num_frames': 16})
    model = MODELS.build(cfg.model)
    load_checkpoint(model, toy_checkpoint, map_location='cpu')
    saved = CheckpointLoader.load_checkpoint(toy_checkpoint, 'cpu')
    table = saved['state_dict']['neck.positional_embedding']
    assert table.shape == (1, 8, 64)
    assert torch.equal(model.neck.positional_embedding.data,
                       resize_temporal_pos_embed(table, 16))


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


def _official_with(tmp_path, change):
    """The official fixture's weights, changed by ``change(state_dict)``."""
    ckpt, _ = load_inert(OFFICIAL)
    change(ckpt['model'])
    path = str(tmp_path / 'changed.pth')
    torch.save({'model': ckpt['model']}, path)
    return path


def _set(key, make):
    return lambda sd: sd.__setitem__(key, make(sd[key]))


def _poison(key, value):
    def change(sd):
        sd[key] = sd[key].clone()
        sd[key].view(-1)[:3] = value
    return change


@pytest.mark.parametrize('change,message', [
    (_set('visual.conv1.weight', lambda t: t.long()),
     "'visual.conv1.weight' is a torch.int64 tensor; expected "
     'floating-point weights'),
    (_set('logit_scale', lambda t: t > 0),
     "'logit_scale' is a torch.bool tensor; expected floating-point weights"),
    (_poison('mit.positional_embedding', float('nan')),
     "'mit.positional_embedding' has 3 of 256 values NaN or infinite; "
     'expected finite weights'),
    (_poison('prompts_generator.alpha', float('inf')),
     "'prompts_generator.alpha' has 3 of 64 values NaN or infinite"),
], ids=['int', 'bool', 'nan', 'inf'])
def test_bad_tensor_values(tmp_path, change, message):
    """Integer or bool tensors for float weights, NaN/inf values: refused by
    every weight reader, naming file and key."""
    path = _official_with(tmp_path, change)
    for load in (read_weights, lambda p: init_xclip(p, ['a', 'b']),
                 lambda p: CheckpointLoader.load_checkpoint(f'clip://{p}')):
        with pytest.raises(ValueError) as info:
            load(path)
        assert str(info.value).startswith(f'{path}: {message}')


def _truncated(src, dst, fraction=0.5):
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[:int(len(data) * fraction)])
    return str(dst)


def _damaged_torchscript(tmp_path):
    """A TorchScript archive whose data.pkl is cut short (rewritten zip)."""
    src = str(tmp_path / 'ok.pt')
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), src)
    dst = str(tmp_path / 'ViT-damaged.pt')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w') as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith('data.pkl'):
                data = data[:len(data) // 2]
            zout.writestr(item, data)
    return dst


TRUNCATED = ('not a complete PyTorch file (RuntimeError: PytorchStreamReader '
             'failed reading zip archive: failed finding central directory); '
             'it may be truncated or damaged')


@pytest.mark.parametrize('make,message,mmengine_message', [
    (lambda tmp: str(open(tmp / 'empty.pth', 'wb').name),
     ': the file is empty (0 bytes); expected a torch.save file or a '
     'TorchScript archive',
     ': the file is empty (0 bytes); expected a torch.save checkpoint'),
    (lambda tmp: _truncated(OFFICIAL, tmp / 'truncated.pth'),
     f': {TRUNCATED}', f': {TRUNCATED}'),
    (_damaged_torchscript,  # where the bytes stop decides the error
     ': not a complete PyTorch file (',
     " is a TorchScript archive (OpenAI CLIP); MMEngine's loaders read "
     'torch.save checkpoints: use clip://'),
], ids=['empty', 'truncated_zip', 'damaged_torchscript'])
def test_damaged_files_name_themselves(tmp_path, make, message,
                                       mmengine_message):
    """Empty, truncated and damaged files: the file and what is wrong, from
    the weight readers and from MMEngine's loader (``load_from``)."""
    path = make(tmp_path)
    for load in (read_weights, lambda p: init_xclip(p, ['a', 'b'])):
        with pytest.raises(ValueError) as info:
            load(path)
        assert str(info.value).startswith(path + message), info.value
    with pytest.raises(ValueError) as info:
        CheckpointLoader.load_checkpoint(path)
    assert str(info.value).startswith(path + mmengine_message), info.value
