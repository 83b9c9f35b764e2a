"""Video embeddings: extract_features equals what predict computes for the
same views; the head's few-texts cross-attention equals the plain one;
tools/extract_features.py writes one safetensors file per video, skips
what is done, reports broken videos and shards across processes."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from helpers.runs import free_port, run_tool
from helpers.tiny_model import save_tiny_xclip, tiny_xclip
from helpers.weight_files import load_tool, write_video
from mmengine.dataset import pseudo_collate

from mmxclip.apis import extract_features, init_xclip, iter_features
from mmxclip.apis.feature_files import load_features, read_header
from mmxclip.apis.pipeline import inference_pipeline, load_video
from mmxclip.datasets import BrokenVideoError
from mmxclip.models.layers import MultiheadAttention


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp('feats')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    os.makedirs(folder / 'sub')
    videos = [write_video(str(folder / name), frames=12 + 4 * i, seed=i)
              for i, name in enumerate(['a.mp4', 'b.mp4', 'sub/a.mp4'])]
    return str(folder), ckpt, videos


def predict_internals(model, video):
    """MIT's input and output, the prompt generator's visual input and the
    scores, as ``test_step`` computes them (forward hooks)."""
    seen = {}
    neck = model.neck.register_forward_hook(
        lambda m, args, out: seen.update(frames=args[0], video=out[0]))
    prompts = model.cls_head.prompts_generator.register_forward_hook(
        lambda m, args, out: seen.update(visual=args[1]))
    try:
        data = load_video(inference_pipeline(model), video)
        with torch.no_grad():
            seen['score'] = model.test_step(pseudo_collate([data]))[0] \
                .pred_score
    finally:
        neck.remove()
        prompts.remove()
    return seen


def rel(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def test_features_equal_what_predict_computes(workspace):
    """2 clips x 3 crops = 6 views, batches of 2 videos: every view's frame
    embeddings, video embedding and visual tokens equal predict's, and the
    head's scores rebuilt from them equal predict's fused score."""
    _, ckpt, videos = workspace
    model = init_xclip(ckpt, num_clips=2, num_crops=3)
    feats = extract_features(model, videos, batch_size=2)
    head = model.cls_head
    for video, f in zip(videos, feats):
        assert f.frame_embeddings.shape == (6, 8, 32)
        assert f.view_embeddings.shape == (6, 32)
        assert f.visual_tokens.shape == (6, 4, 32)
        assert f.frame_inds.shape == (2, 8)
        torch.testing.assert_close(f.video_embedding,
                                   f.view_embeddings.mean(dim=0))
        ref = predict_internals(model, video)
        errs = [rel(f.frame_embeddings, ref['frames']),
                rel(f.view_embeddings, ref['video']),
                rel(f.visual_tokens, ref['visual'])]
        print('max|d|/max|ref| frames, video, visual:', errs)
        assert max(errs) <= 1e-6 and ref['visual'].abs().max() > 0.1
        with torch.no_grad():
            logits = head.logits(f.view_embeddings, f.visual_tokens,
                                 head.class_embeddings())
        torch.testing.assert_close(logits.softmax(-1).mean(0), ref['score'],
                                   rtol=1e-6, atol=1e-7)


def test_a_broken_video_does_not_stop_the_batch(workspace):
    folder, ckpt, videos = workspace
    model = init_xclip(ckpt)
    missing = osp.join(folder, 'missing.mp4')
    out = list(iter_features(model, [videos[0], missing, videos[1]], 3))
    assert [v for v, _ in out] == [videos[0], missing, videos[1]]
    assert isinstance(out[1][1], BrokenVideoError)
    assert 'video file not found' in str(out[1][1])
    alone = extract_features(model, [videos[1]])[0]
    torch.testing.assert_close(out[2][1].view_embeddings,
                               alone.view_embeddings, rtol=1e-6, atol=1e-7)
    with pytest.raises(BrokenVideoError, match='missing.mp4'):
        extract_features(model, [videos[0], missing])


def test_tool_arguments_are_checked(workspace, tmp_path, capsys):
    _, ckpt, _ = workspace
    tool = load_tool('extract_features.py')
    for args, message in (
            ([], 'no videos: name video files or --video-list FILE'),
            (['--video-list', 'no/list.txt'],
             "--video-list 'no/list.txt': no such file"),
            (['v.mp4', '--batch-size', '0'],
             "argument --batch-size: expected a positive integer, got '0'")):
        with pytest.raises(SystemExit):
            tool.parse_args([*args, '--checkpoint', ckpt, '--out-dir', 'o'])
        assert message in capsys.readouterr().err


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-10)])
@pytest.mark.parametrize('bias', [False, True])
def test_attend_few_equals_cross_attention(dtype, tol, bias):
    torch.manual_seed(0)
    attn = MultiheadAttention(64, 8, qkv_bias=bias).to(dtype)
    with torch.no_grad():
        if bias:
            attn.in_proj_bias.normal_()
        attn.out_proj.bias.normal_()
    x = torch.randn(5, 2, 64, dtype=dtype)
    context = torch.randn(5, 49, 64, dtype=dtype)
    ref = attn(x, context)
    assert rel(attn.attend_few(x, context), ref) <= tol


def test_head_few_texts_path_gives_the_same_logits():
    """... without projecting the visual tokens (the plain cross-attention
    is never called)."""
    model = tiny_xclip()
    head = model.cls_head
    video, visual = torch.randn(3, 32), torch.randn(3, 4, 32)
    with torch.no_grad():
        text = head.class_embeddings()
        ref = head.logits(video, visual, text)
        assert ref.std() > 0.1
        for layer in head.prompts_generator.decoder:
            layer.cross_attn.forward = None
        assert rel(head.logits(video, visual, text, few_texts=True),
                   ref) <= 1e-5


def test_tool_writes_one_file_per_video_and_resumes(workspace, tmp_path,
                                                    capsys, monkeypatch):
    folder, ckpt, videos = workspace
    tool = load_tool('extract_features.py')
    out = tmp_path / 'out'
    missing = osp.join(folder, 'missing.mp4')
    args = ['--checkpoint', ckpt, '--out-dir', str(out), '--batch-size', '2']
    assert tool.main([videos[0], missing, *videos[1:], videos[0],
                      *args]) == 1
    err = capsys.readouterr().err
    assert f"failed: '{missing}': video file not found" in err
    assert '3 written, 0 already there, 1 failed' in err
    assert '[>>' in err  # MMEngine's progress bar
    files = {str(p.relative_to(out)) for p in out.rglob('*.safetensors')}
    assert files == {'a.mp4.safetensors', 'b.mp4.safetensors',
                     'sub/a.mp4.safetensors'}
    model = init_xclip(ckpt)
    for video, ref in zip(videos, extract_features(model, videos)):
        name = osp.relpath(video, folder) + '.safetensors'
        feats, meta = load_features(str(out / name))
        assert meta['video'] == osp.abspath(video)
        for a, b in zip(feats[:4], ref[:4]):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(feats.frame_inds, ref.frame_inds)

    # Resume: what is there is skipped; a write killed half-way (here:
    # before its fsync) leaves no file under the final name, only a
    # temporary one, which is not taken for the result.
    os.remove(out / 'b.mp4.safetensors')

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(KeyboardInterrupt):
        tool.main([videos[1], *args])
    monkeypatch.undo()
    assert not (out / 'b.mp4.safetensors').exists()
    (out / '.b.mp4.safetensors.tmp-x1y2').write_bytes(b'\x00' * 10)
    before = os.stat(out / 'a.mp4.safetensors').st_mtime_ns
    assert tool.main([*videos, *args]) == 0
    assert '1 written, 2 already there, 0 failed' in capsys.readouterr().err
    assert os.stat(out / 'a.mp4.safetensors').st_mtime_ns == before
    read_header(str(out / 'b.mp4.safetensors'))

    # A file of another model (or not a feature file) is reported and left.
    assert tool.main([*videos, *args, '--num-frames', '4']) == 1
    err = capsys.readouterr().err
    assert 'a.mp4.safetensors exists but was made with another ' \
        'fingerprint' in err
    (out / 'b.mp4.safetensors').write_text('not safetensors')
    assert tool.main([videos[1], *args]) == 1
    assert 'b.mp4.safetensors: not a safetensors file' in \
        capsys.readouterr().err
    assert (out / 'b.mp4.safetensors').read_text() == 'not safetensors'


def test_tool_shards_videos_across_processes(workspace, tmp_path):
    folder, ckpt, videos = workspace
    missing = osp.join(folder, 'missing.mp4')
    out = tmp_path / 'dist'
    result = run_tool(['tools/dist_extract_features.sh', '2', *videos,
                       missing, '--checkpoint', ckpt, '--out-dir', str(out)],
                      env=dict(PORT=str(free_port()), PYTHON=sys.executable))
    log = result.stdout + result.stderr
    assert result.returncode != 0, log
    assert 'rank 0: 2 written, 0 already there, 0 failed' in log
    assert f'rank 1: 1 written, 0 already there, 1 failed: {missing}' in log
    assert len(list(out.rglob('*.safetensors'))) == 3
