"""Inference precisions: auto's rule on the CPU's flags, each precision end
to end on a tiny model, logits close to float32 (and not equal: the
precision ran), the text cache, identities, indexes and feature files that
record the precision and refuse another one."""
import json
import os.path as osp

import pytest
import torch
from helpers.tiny_model import LABELS, save_tiny_xclip, tiny_xclip
from helpers.weight_files import load_tool, write_videos

import mmxclip.models.precision as precision_module
from mmxclip.apis import (apply_precision, init_xclip, model_identity,
                          model_precision, recognize, run_videos)
from mmxclip.apis.feature_files import is_done, read_header, save_features
from mmxclip.models import resolve_precision
from mmxclip.retrieval import VideoIndex, index_model, score_videos

# Largest |logit - fp32 logit| over the largest |fp32 logit| on random
# frames: bfloat16 keeps 8 bits of mantissa (0.4 % a rounding; measured
# 0.5 % on this model), int8 1/127 of each weight tensor's range and 1/255 of
# each activation's (measured 1.9 %).
TOLERANCE = dict(bf16=0.02, int8=0.06)


def cpuinfo(tmp_path, flags: str) -> str:
    path = tmp_path / 'cpuinfo'
    path.write_text(f'processor\t: 0\nvendor_id\t: GenuineIntel\n'
                    f'flags\t\t: fpu sse2 {flags}\n\nprocessor\t: 1\n')
    return str(path)


@pytest.mark.parametrize('flags,expected', [
    ('avx2 fma amx_bf16 amx_tile amx_int8 avx512_bf16', 'bf16'),
    ('avx512f avx512_bf16', 'bf16'),
    ('avx2 fma amx_bf16', 'bf16'),
    ('avx2 fma avx512f avx512_vnni', 'fp32'),
    # a flag whose name merely contains one of the two is not it
    ('avx2 xamx_bf16 avx512_bf16x', 'fp32'),
])
def test_auto_follows_the_cpus_bf16_flags(tmp_path, flags, expected):
    path = cpuinfo(tmp_path, flags)
    assert resolve_precision('auto', 'cpu', path) == expected
    assert resolve_precision('fp32', 'cpu', path) == 'fp32'
    assert resolve_precision('int8', 'cpu', path) == 'int8'


def test_auto_is_fp32_without_cpuinfo_or_off_the_cpu(tmp_path):
    amx = cpuinfo(tmp_path, 'amx_bf16')
    assert resolve_precision('auto', 'cpu', str(tmp_path / 'none')) == 'fp32'
    assert resolve_precision('auto', 'cuda', amx) == 'fp32'
    assert resolve_precision('auto', 'cuda:1', amx) == 'fp32'


def test_bad_precisions_are_named():
    with pytest.raises(ValueError, match=r"one of \('auto', 'fp32', 'bf16', "
                       r"'int8'\), got 'fp16'"):
        resolve_precision('fp16')
    with pytest.raises(ValueError, match='int8 runs on the CPU only, not on '
                       'cuda'):
        resolve_precision('int8', 'cuda')


def test_auto_is_said_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(precision_module, '_logged', set())
    for path in [cpuinfo(tmp_path, 'avx2 fma')] * 3:
        assert apply_precision(tiny_xclip(), 'auto', path) == 'fp32'
    out, err = capsys.readouterr()
    said = [line for line in err.splitlines() if 'precision' in line]
    assert said == [f'precision auto: fp32 ({path} lists neither amx_bf16 '
                    'nor avx512_bf16: bfloat16 would be emulated)']
    assert 'precision' not in out  # the tools' stdout holds results only


def logits(model, frames):
    with torch.no_grad():
        data = model.data_preprocessor(
            dict(inputs=list(frames), data_samples=None), False)
        return model.extract_feat(data['inputs'], stage='head')[0]


@pytest.mark.parametrize('precision', ['bf16', 'int8'])
def test_logits_close_to_fp32_on_random_frames(precision):
    frames = torch.rand(3, 1, 3, 8, 32, 32, generator=torch.Generator()
                        .manual_seed(1)) * 255
    ref = logits(tiny_xclip(), frames)
    model = tiny_xclip()
    assert apply_precision(model, precision) == precision
    assert model_precision(model) == precision
    out = logits(model, frames)
    assert out.dtype == torch.float32
    err = float((out - ref).abs().max() / ref.abs().max())
    assert 0 < err < TOLERANCE[precision]


def test_the_precision_reaches_every_linear():
    model = tiny_xclip()
    apply_precision(model, 'bf16')
    linears = [m for m in model.modules()
               if isinstance(m, precision_module.Linear)]
    assert linears and all(m.weight.dtype == torch.bfloat16 for m in linears)
    attention = [m for m in model.modules()
                 if isinstance(m, precision_module.MultiheadAttention)]
    assert all(m.in_proj_weight.dtype == torch.bfloat16 for m in attention)
    model = tiny_xclip()
    apply_precision(model, 'int8')
    text = model.cls_head.text_encoder
    in_text = {id(m) for m in text.modules()}
    for m in model.modules():
        if isinstance(m, precision_module.Linear):
            assert id(m) in in_text and m.weight.dtype == torch.float32
        elif isinstance(m, precision_module.MultiheadAttention):
            assert (m.in_proj_int8 is None) == (id(m) in in_text)
        elif isinstance(m, torch.ao.nn.quantized.dynamic.Linear):
            assert m.weight().qscheme() == torch.per_channel_affine
    assert any(isinstance(m, precision_module.Linear) for m in text.modules())


@pytest.mark.parametrize('precision', ['bf16', 'int8'])
def test_cached_text_embeddings_follow_the_precision(precision):
    """bf16's are the bf16 text encoder's; int8 leaves the text encoder
    float32 (it runs once per class set), so its are fp32's exactly."""
    model = tiny_xclip()
    head = model.cls_head
    fp32 = head.class_embeddings().clone()
    apply_precision(model, precision)
    with torch.no_grad():
        fresh = head.embed_texts(head.class_names)
    cached = head.class_embeddings()
    torch.testing.assert_close(cached, fresh)
    assert torch.equal(cached, fp32) == (precision == 'int8')


def test_a_precision_applies_once_to_a_float32_model():
    model = tiny_xclip()
    apply_precision(model, 'int8')
    with pytest.raises(ValueError, match='already runs in int8'):
        apply_precision(model, 'bf16')
    with pytest.raises(ValueError, match='needs a float32 model'):
        apply_precision(tiny_xclip().double(), 'bf16')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('precision')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    videos = write_videos(str(folder), 3)
    return folder, ckpt, videos


@pytest.mark.parametrize('precision', ['fp32', 'bf16', 'int8', 'auto'])
def test_each_precision_end_to_end(files, precision):
    _, ckpt, videos = files
    ref = recognize(init_xclip(ckpt, LABELS), videos[0], topk=4).ranking
    model = init_xclip(ckpt, LABELS, dtype=precision)
    ranking = recognize(model, videos[0], topk=4).ranking
    assert ranking[0][0] == ref[0][0]
    probs = dict(ranking)
    assert max(abs(probs[name] - p) for name, p in ref) < 0.05
    identity = model_identity(model)
    assert identity['precision'] == resolve_precision(precision)
    # The weights file's fingerprint, whatever the numerics.
    assert identity['fingerprint'] == model_identity(
        init_xclip(ckpt, LABELS))['fingerprint']


def test_feature_files_of_another_precision_are_refused(files, tmp_path):
    _, ckpt, videos = files
    model = init_xclip(ckpt, dtype='int8')
    path = str(tmp_path / 'v0.safetensors')
    identity = model_identity(model)
    assert run_videos(model, videos[:1], lambda video, feats: save_features(
        path, video, feats, identity, ckpt), progress=False) == []
    assert is_done(path, identity)
    with pytest.raises(ValueError, match="another precision \\(\"int8\" vs "
                       "this run's \"fp32\"\\)"):
        is_done(path, model_identity(init_xclip(ckpt)))


def test_an_index_records_its_precision_and_queries_in_it(files, tmp_path,
                                                          capsys):
    _, ckpt, videos = files
    tool = load_tool('search_videos.py')
    idx = str(tmp_path / 'idx')
    args = ['--checkpoint', ckpt, '--index', idx]
    assert tool.main(['index', videos[0], *args, '--precision', 'int8']) == 0
    index = VideoIndex(idx)
    assert index.precision == 'int8' == index.model['precision']
    # More videos join in the index's precision, whatever auto says here.
    assert tool.main(['index', videos[1], *args]) == 0
    assert len(VideoIndex(idx)) == 2
    assert tool.main(['index', videos[2], *args, '--precision', 'fp32']) == 2
    assert (f'{osp.abspath(idx)} holds int8 features; --precision fp32 '
            '(fp32) would mix precisions') in capsys.readouterr().err
    assert len(VideoIndex(idx)) == 2
    # The query model is rebuilt in the index's precision ...
    index = VideoIndex(idx)
    model = index_model(index)
    assert model_precision(model) == 'int8'
    scores = score_videos(model, index, [LABELS[0]])
    assert scores.shape == (2, 1)
    # ... and another precision of the same weights is refused.
    with pytest.raises(ValueError, match='precision "int8"\\); this model '
                       'has "fp32"'):
        score_videos(init_xclip(ckpt, ['a video']), index, [LABELS[0]])
    with pytest.raises(ValueError, match='precision'):
        index.add(init_xclip(ckpt, ['a video'], dtype='bf16'), videos[2:])


def test_an_index_from_before_precisions_is_fp32(files, tmp_path):
    _, ckpt, videos = files
    model = init_xclip(ckpt, ['a video'])
    index = VideoIndex.create(str(tmp_path / 'idx'), model, ckpt, dict(
        num_frames=None, num_clips=1, num_crops=1))
    assert index.add(model, videos[:1]) == []
    path = tmp_path / 'idx' / 'index.json'
    info = json.loads(path.read_text())
    assert info['model'].pop('precision') == 'fp32'
    path.write_text(json.dumps(info))
    old = VideoIndex(str(tmp_path / 'idx'))
    assert old.precision == 'fp32'
    assert score_videos(model, old, ['a dog']).shape == (1, 1)
    for bad in ('fp16', 7):
        info['model']['precision'] = bad
        path.write_text(json.dumps(info))
        with pytest.raises(ValueError, match=r'index.json: model.precision: '
                           r".*; expected one of \('fp32', 'bf16', 'int8'\)"):
            VideoIndex(str(tmp_path / 'idx'))


def test_the_tools_pass_their_precision_on(files, tmp_path, capsys):
    _, ckpt, videos = files
    zero_shot = load_tool('zero_shot.py')
    assert zero_shot.main([videos[0], '--checkpoint', ckpt, '--labels',
                           ','.join(LABELS), '--precision', 'int8']) == 0
    assert 'probability' in capsys.readouterr().out
    out = tmp_path / 'feats'
    extract = load_tool('extract_features.py')
    assert extract.main([videos[0], '--checkpoint', ckpt, '--out-dir',
                         str(out), '--precision', 'bf16']) == 0
    header = read_header(str(out / 'v0.mp4.safetensors'))
    assert header['model']['precision'] == 'bf16'
    # the same folder in another precision: refused per file, not mixed
    assert extract.main([videos[0], '--checkpoint', ckpt, '--out-dir',
                         str(out), '--precision', 'fp32']) == 1
    assert 'another precision' in capsys.readouterr().err
