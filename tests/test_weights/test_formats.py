"""Every weight format loads from a file made in that format, and gives the
source model's numbers; bad files give errors that name what is wrong."""
import copy
import os

import open_clip
import pytest
import torch
from helpers.hf_reference import CLASS_NAMES, random_hf_model, tiny_hf_config
from helpers.runs import LoggedMessages
from helpers.weight_files import (OFFICIAL, assert_same_logits,
                                  official_rule_hf_model, rel_err,
                                  save_official, save_torchscript,
                                  tiny_open_clip)
from mmaction.registry import MODELS

from mmxclip.apis import init_xclip
from mmxclip.models.heads import tokenize
from mmxclip.weights import (check_state_dict, clip_to_mmxclip, hf_to_official,
                             infer_model_config, load_inert, read_weights)


@pytest.fixture(scope='module')
def hf_model():
    return random_hf_model(seed=7, patch=16, frames=4, layers=2, image=32)


@pytest.mark.parametrize('layout', ['folder', 'safetensors', 'bin'])
def test_hf_formats_match_source_logits(hf_model, tmp_path, layout):
    hf_model.save_pretrained(tmp_path)
    if layout == 'bin':
        from safetensors.torch import load_file
        sd = load_file(tmp_path / 'model.safetensors')
        os.remove(tmp_path / 'model.safetensors')
        torch.save(sd, tmp_path / 'pytorch_model.bin')
    path = {'folder': tmp_path, 'safetensors': tmp_path / 'model.safetensors',
            'bin': tmp_path / 'pytorch_model.bin'}[layout]
    weights = read_weights(str(path))
    assert weights.format == 'hf' and weights.is_xclip
    model = init_xclip(str(path), CLASS_NAMES)
    assert not model.training
    assert model.backbone.transformer.resblocks[0].attn.num_heads == 4
    assert_same_logits(model, hf_model)


def test_hf_to_official_gives_the_official_names():
    """An HF ``XCLIPModel`` of the official fixture's architecture
    (tests/fixtures/make_official_fixture.py: widths 64, 2 vision layers of
    8 px patches, 4 frames of 32 px, 1 text, MIT and prompt layer, a
    1000-word vocabulary) converts to exactly the keys and shapes the
    official code saved, so the official-layout files below are real."""
    cfg = tiny_hf_config(patch=8, frames=4, layers=2, image=32, width=64,
                         embed=64)
    cfg.vision_config.num_attention_heads = 1
    cfg.vision_config.mit_num_attention_heads = 1
    cfg.prompt_layers, cfg.prompt_num_attention_heads = 1, 1
    text = cfg.text_config
    text.vocab_size, text.hidden_size, text.intermediate_size = 1000, 64, 256
    text.num_hidden_layers, text.num_attention_heads = 1, 1
    ours = hf_to_official(random_hf_model(0, config=cfg).state_dict())
    official = load_inert(OFFICIAL)[0]['model']
    assert {k: v.shape for k, v in ours.items()} == {
        k: v.shape for k, v in official.items()}


def test_official_pth_matches_source_logits(tmp_path):
    hf = official_rule_hf_model(seed=3)
    path = save_official(hf, str(tmp_path / 'k400_tiny.pth'))
    weights = read_weights(path, src_format='official')
    assert weights.format == 'official'
    cfg = infer_model_config(weights.state_dict, CLASS_NAMES)
    assert cfg['backbone'] == dict(
        type='CCTViT', input_resolution=32, patch_size=16, width=128,
        layers=2, heads=2, output_dim=64, quick_gelu=True, use_message=True)
    assert cfg['neck']['num_frames'] == 4 and cfg['neck']['layers'] == 1
    assert cfg['cls_head']['text_cfg'] == dict(
        context_length=77, vocab_size=49408, width=64, layers=2, heads=1,
        quick_gelu=True)
    assert cfg['cls_head']['prompt_cfg'] == dict(layers=2, heads=1)
    assert_same_logits(init_xclip(path, CLASS_NAMES), hf)


def clip_parts(weights, quick_gelu):
    """The backbone without messages and the text encoder, from CLIP
    weights, built from the inferred config."""
    cfg = infer_model_config(weights.state_dict, ['x'],
                             quick_gelu=quick_gelu)
    backbone = MODELS.build(dict(cfg['backbone'], use_message=False)).eval()
    sd = weights.state_dict
    backbone.load_state_dict({k[9:]: v for k, v in sd.items()
                              if k.startswith('backbone.')})
    head = MODELS.build(cfg['cls_head']).eval()
    head.load_state_dict({k[9:]: v for k, v in sd.items()
                          if k.startswith('cls_head.')}, strict=False)
    return backbone, head


def assert_matches_open_clip(weights, source, quick_gelu, image=32):
    """Frame features = encode_image, text features = encode_text."""
    _assert_features(*clip_parts(weights, quick_gelu), source, image)


def _assert_features(backbone, head, source, image=32):
    """Frame and text features, and CLIP's logits from them, equal
    open_clip's: <= 1e-5 relative in float32, <= 1e-10 in float64."""
    assert head.logit_scale.item() == pytest.approx(
        source.logit_scale.item())
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-10)):
        ours = [copy.deepcopy(m).to(dtype) for m in (backbone, head)]
        _assert_same_clip(*ours, copy.deepcopy(source).to(dtype), image,
                          dtype, tol)


def _assert_same_clip(backbone, head, source, image, dtype, tol):
    frames = torch.randn(3, 3, image, image, generator=torch.Generator()
                         .manual_seed(0), dtype=dtype)
    tokens = tokenize(CLASS_NAMES)
    with torch.no_grad():
        ref_img = source.encode_image(frames)
        ref_txt = source.encode_text(tokens)
        img = backbone.forward_features(frames[:, :, None])[0][:, 0]
        txt = head.text_encoder(tokens)
        ref_img_n, ref_txt_n, ref_scale = source(frames, tokens)
    print(f'{dtype}: image {rel_err(img, ref_img):.3g} '
          f'text {rel_err(txt, ref_txt):.3g}')
    assert rel_err(img, ref_img) <= tol
    assert rel_err(txt, ref_txt) <= tol
    # ...so CLIP's logits: open_clip's forward vs the same from ours.
    ref = ref_scale * ref_img_n @ ref_txt_n.t()
    img, txt = (torch.nn.functional.normalize(f, dim=-1) for f in (img, txt))
    assert rel_err(head.logit_scale.exp() * img @ txt.t(), ref) <= tol


def test_openai_torchscript_archive(tmp_path):
    source = tiny_open_clip(quick_gelu=True, seed=1)
    path = save_torchscript(source, str(tmp_path / 'ViT-T-16.pt'))
    weights = read_weights(path, src_format='openai')
    assert weights.format == 'openai' and not weights.is_xclip
    assert not any(k.endswith(('input_resolution', 'attn_mask'))
                   for k in weights.state_dict)
    assert_matches_open_clip(weights, source, quick_gelu=True)


@pytest.mark.parametrize('ext', ['bin', 'safetensors'])
def test_open_clip_gelu_state_dict(tmp_path, ext):
    source = tiny_open_clip(quick_gelu=False, seed=2)
    path = str(tmp_path / f'open_clip_model.{ext}')
    if ext == 'bin':  # open_clip's training checkpoints: DDP prefix
        torch.save({'epoch': 3, 'state_dict': {
            'module.' + k: v for k, v in source.state_dict().items()}}, path)
    else:
        from safetensors.torch import save_file
        save_file(source.state_dict(), path)
    weights = read_weights(path, src_format='open_clip')
    assert weights.format == 'clip'
    assert_matches_open_clip(weights, source, quick_gelu=False)
    # QuickGELU instead of GELU really changes the features.
    with pytest.raises(AssertionError):
        assert_matches_open_clip(weights, source, quick_gelu=True)


def test_position_embedding_interpolated_like_open_clip():
    """A 32 px checkpoint in a 64 px model: bicubic grid, class token kept,
    equal to open_clip's own resize_pos_embed."""
    small = tiny_open_clip(image=32)
    big = tiny_open_clip(image=64)
    sd = {'visual.positional_embedding':
          small.state_dict()['visual.positional_embedding']}
    open_clip.model.resize_pos_embed(sd, big)
    backbone = MODELS.build(dict(type='CCTViT', input_resolution=64,
                                 patch_size=16, width=128, layers=2,
                                 output_dim=32))
    theirs = {k[7:]: v for k, v in small.state_dict().items()
              if k.startswith('visual.')}
    backbone.load_state_dict(theirs, strict=False)
    pos = backbone.positional_embedding.detach()
    assert pos.shape == (17, 128)
    assert torch.equal(pos[0], theirs['positional_embedding'][0])
    assert torch.allclose(pos, sd['visual.positional_embedding'], atol=1e-6)


def test_clip_init_through_scheme(tmp_path):
    """init_cfg=Pretrained('clip://FILE') on the whole X-CLIP: backbone, text
    encoder and logit_scale from CLIP, X-CLIP's modules untouched, logged."""
    source = tiny_open_clip(seed=4)
    path = save_torchscript(source, str(tmp_path / 'ViT-T-16.pt'))
    cfg = infer_model_config(read_weights(path).state_dict, CLASS_NAMES)
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint=f'clip://{path}')
    model = MODELS.build(cfg)
    before = model.neck.positional_embedding.detach().clone()
    with LoggedMessages() as logged:
        model.init_weights()
    assert any('keep their random init' in m for m in logged)
    ref = source.state_dict()
    assert torch.equal(model.backbone.conv1.weight, ref['visual.conv1.weight'])
    assert torch.equal(model.cls_head.text_encoder.token_embedding.weight,
                       ref['token_embedding.weight'])
    assert torch.equal(model.neck.positional_embedding, before)
    # The CCT backbone alone, as in any MMAction2 config.
    backbone = MODELS.build(dict(
        cfg['backbone'], init_cfg=dict(type='Pretrained', prefix='backbone.',
                                       checkpoint=f'clip://{path}')))
    backbone.init_weights()
    assert torch.equal(backbone.proj, ref['visual.proj'])


@pytest.fixture
def open_clip_registry(tmp_path, monkeypatch):
    """open_clip's registry with its download mocked (no network): every
    MODEL/TAG serves a tiny GELU open_clip state dict; the names asked for
    are recorded."""
    from open_clip import pretrained
    source = tiny_open_clip(quick_gelu=False, seed=6)
    file = str(tmp_path / 'open_clip_pytorch_model.bin')
    torch.save(source.state_dict(), file)
    asked = []

    def fake_download(cfg, cache_dir=None, **kwargs):
        asked.append(cfg)
        return file

    monkeypatch.setattr(pretrained, 'download_pretrained', fake_download)
    return source, asked


def test_scheme_downloads_through_open_clip_registry(open_clip_registry):
    """clip://MODEL/TAG asks open_clip's registry and says which activation
    the weights were trained with."""
    from mmengine.runner.checkpoint import CheckpointLoader
    _, asked = open_clip_registry
    ckpt = CheckpointLoader.load_checkpoint(
        'clip://ViT-B-16/laion2b_s34b_b88k')
    assert asked[0]['hf_hub'].startswith('laion/CLIP-ViT-B-16-laion2B')
    assert ckpt['meta']['quick_gelu'] is False
    assert 'backbone.conv1.weight' in ckpt['state_dict']
    ckpt = CheckpointLoader.load_checkpoint('clip://ViT-L/14@336px')
    assert asked[1]['url'].endswith('ViT-L-14-336px.pt')
    assert ckpt['meta']['quick_gelu'] is True
    with pytest.raises(ValueError, match='laion2b_s34b_b88k'):
        CheckpointLoader.load_checkpoint('clip://ViT-B-16/no_such_tag')


def test_open_clip_gelu_weights_build_a_gelu_model(open_clip_registry):
    """A config whose backbone and head initialise from an open_clip GELU
    tag (as configs/_base_ do, leaving quick_gelu unset) builds nn.GELU in
    both and gives open_clip's own features; an explicit contradiction is
    refused."""
    source, _ = open_clip_registry
    spec = 'clip://ViT-B-16/laion2b_s34b_b88k'
    cfg = infer_model_config(clip_to_mmxclip(source.state_dict()), ['x'])
    del cfg['backbone']['quick_gelu'], cfg['cls_head']['text_cfg'][
        'quick_gelu']
    backbone = MODELS.build(dict(cfg['backbone'], use_message=False,
                                 init_cfg=dict(type='Pretrained',
                                               checkpoint=spec,
                                               prefix='backbone.')))
    head = MODELS.build(dict(cfg['cls_head'], init_cfg=dict(
        type='Pretrained', checkpoint=spec, prefix='cls_head.')))
    for module, clip_part in ((backbone, backbone),
                              (head, head.text_encoder)):
        module.init_weights()
        acts = [m for m in clip_part.modules()
                if type(m).__name__ in ('GELU', 'QuickGELU')]
        assert {type(m).__name__ for m in acts} == {'GELU'}
    _assert_features(backbone.eval(), head.eval(), source)
    with pytest.raises(ValueError, match='quick_gelu=True, but its init_cfg '
                       f'loads {spec}, trained with nn.GELU'):
        MODELS.build(dict(cfg['backbone'], quick_gelu=True, init_cfg=dict(
            type='Pretrained', checkpoint=spec, prefix='backbone.')))
    # An OpenAI tag builds QuickGELU, as before.
    openai = MODELS.build(dict(cfg['backbone'], init_cfg=dict(
        type='Pretrained', checkpoint='clip://ViT-B/16')))
    assert any(type(m).__name__ == 'QuickGELU' for m in openai.modules())


def test_unknown_format_names_keys(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save({'encoder.layer.0.weight': torch.zeros(2)}, path)
    with pytest.raises(ValueError, match='encoder.layer.0.weight'):
        read_weights(path)
    with pytest.raises(FileNotFoundError, match='no_such'):
        read_weights(str(tmp_path / 'no_such.pth'))


def test_mismatched_checkpoint_names_key_and_shapes(tmp_path):
    hf = official_rule_hf_model(seed=5)
    weights = read_weights(save_official(hf, str(tmp_path / 'x.pth')))
    cfg = infer_model_config(weights.state_dict, CLASS_NAMES)
    other = MODELS.build(dict(cfg, backbone=dict(
        cfg['backbone'], patch_size=32), neck=dict(cfg['neck'],
                                                   num_frames=8)))
    with pytest.raises(ValueError) as e:
        check_state_dict(other, weights.state_dict, weights.path)
    msg = str(e.value)
    assert 'backbone.conv1.weight: checkpoint (128, 3, 16, 16) vs model ' \
        '(128, 3, 32, 32) - patch size 16 vs 32' in msg
    # Another frame count is interpolated on load
    # (tests/test_models/test_necks/test_num_frames.py).
    assert 'neck.positional_embedding' not in msg
    # The backbone itself refuses another patch size, also through MMEngine's
    # non-strict loading (Pretrained init).
    with pytest.raises(ValueError, match='patch size 16 vs 32'):
        other.load_state_dict(weights.state_dict, strict=False)
    del weights.state_dict['neck.resblocks.0.attn.in_proj_weight']
    weights.state_dict['cls_head.extra'] = torch.zeros(1)
    with pytest.raises(ValueError, match=r'missing keys: neck\.resblocks\.0'
                       r'\.attn\.in_proj_weight(.|\n)*') as e:
        init_xclip(_resave(weights, tmp_path), CLASS_NAMES)
    assert 'unexpected keys: cls_head.extra' in str(e.value)


def _resave(weights, tmp_path):
    """Write a changed mmxclip state dict as an MMEngine checkpoint."""
    path = str(tmp_path / 'changed.pth')
    torch.save({'state_dict': weights.state_dict, 'meta': {}}, path)
    return path


def test_src_format_mismatch(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="given as 'official'.*'hf'"):
        read_weights(str(tmp_path), src_format='official')
    os.remove(tmp_path / 'config.json')
    with pytest.raises(FileNotFoundError, match='config.json'):
        read_weights(str(tmp_path))
