"""tools/extract_features.py: one damaged feature file is one failed video,
named, and is not counted as done; a HuggingFace X-CLIP folder, which
carries no class names, needs none (issue 22, items 3 and 4)."""
import os

import pytest
import torch
from helpers.hf_reference import random_hf_model
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import load_tool, write_video
from safetensors.torch import save_file

from mmxclip.apis import init_xclip
from mmxclip.apis.feature_files import FORMAT, load_features, read_header


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp('videos')
    return [write_video(str(folder / f'{name}.mp4'), frames=8, seed=i)
            for i, name in enumerate('abc')]


@pytest.mark.parametrize('model', ['null', '[1, 2]', '"text"'])
def test_a_header_model_that_is_no_record(videos, tmp_path, capsys, model):
    ckpt = save_tiny_xclip(str(tmp_path / 'tiny.pth'))
    out = tmp_path / 'out'
    args = ['--checkpoint', ckpt, '--out-dir', str(out)]
    tool = load_tool('extract_features.py')
    assert tool.main([videos[0], *args]) == 0
    damaged = out / 'b.mp4.safetensors'
    save_file({'x': torch.zeros(1)}, str(damaged),
              metadata=dict(format=FORMAT, model=model))
    capsys.readouterr()
    assert tool.main([*videos, *args]) == 1
    err = capsys.readouterr().err
    assert f'{damaged}: header model is {model}, expected the model ' \
        'identity' in err
    # a: done before; b: failed (not "already there"); c: written.
    assert '1 written, 1 already there, 1 failed' in err
    with pytest.raises(ValueError, match='header model is'):
        read_header(str(damaged))


def test_hf_folder_without_class_names(videos, tmp_path, capsys):
    folder = tmp_path / 'hf'
    random_hf_model(0, frames=4).save_pretrained(str(folder))
    with pytest.raises(ValueError, match='carries no class names'):
        init_xclip(str(folder))  # what the tool got round
    out = tmp_path / 'out'
    assert load_tool('extract_features.py').main(
        [videos[0], '--checkpoint', str(folder), '--out-dir',
         str(out)]) == 0
    feats, meta = load_features(str(out / 'a.mp4.safetensors'))
    assert feats.video_embedding.shape == (32, )
    assert os.path.samefile(meta['checkpoint'], folder)
