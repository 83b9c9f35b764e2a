"""Text-to-video search: a (text, video) score equals the zero-shot logit
of that text for that video (recognize / the head on the same views, any
label set); the index is incremental, survives a stopped run, refuses
another model and reads no executable content."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import ROOT
from helpers.runs import lock_held_elsewhere
from helpers.tiny_model import LABELS, save_tiny_xclip
from helpers.weight_files import load_tool, write_video, write_videos
from mmengine.dataset import pseudo_collate

from mmxclip.apis import init_xclip, recognize
from mmxclip.apis.pipeline import inference_pipeline, load_video
from mmxclip.engine import WorkDirBusyError
from mmxclip.models.heads import tokenize
from mmxclip.retrieval import VideoIndex, index_model, score_videos, search


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp('search')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    videos = write_videos(str(folder), 4)
    return folder, ckpt, videos


def build(folder, ckpt, videos, dtype='float32', **views):
    model = init_xclip(ckpt, ['a video'], **views)
    init = dict(num_frames=None, num_clips=views.get('num_clips', 1),
                num_crops=views.get('num_crops', 1))
    index = VideoIndex.create(str(folder), model, ckpt, init, dtype)
    assert index.add(model, videos, batch_size=3, shard_size=2) == []
    return model, index


def head_logits(model, video):
    """Per-view logits (V, K) of the model's class set, as predict's head
    computes them."""
    data = model.data_preprocessor(pseudo_collate(
        [load_video(inference_pipeline(model), video)]), False)
    with torch.no_grad():
        return model.extract_feat(data['inputs'], stage='head')[0]


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_score_is_the_zero_shot_logit(workspace, tmp_path):
    folder, ckpt, videos = workspace
    model, index = build(tmp_path / 'idx', ckpt, videos)
    assert len(index) == 4 and len(index.video) == 2  # 2 shards of 2
    scores = score_videos(model, index, LABELS)
    assert scores.shape == (4, 4) and scores.std() > 0.1
    for video, row in zip(videos, scores):
        ranking = dict(recognize(model, video, LABELS, topk=4).ranking)
        probs = np.array([ranking[t] for t in LABELS])
        np.testing.assert_allclose(torch.tensor(row).softmax(0).numpy(),
                                   probs, rtol=1e-5, atol=1e-6)
        ref = head_logits(model, video)[0].numpy()
        assert rel(row, ref) <= 1e-5
    # Each text's score is the same alone as in a label set (to float32's
    # 1e-5: the GEMM's summation order depends on the number of rows).
    for k, text in enumerate(LABELS):
        alone = score_videos(model, index, [text])[:, 0]
        assert rel(alone, scores[:, k]) <= 1e-5
    # Texts are embedded as class names are: template, checks.
    with pytest.raises(ValueError, match='texts: entry 2 is blank'):
        score_videos(model, index, ['a dog', ' '])
    head = model.cls_head
    head.prompt_template = 'a video of {}.'
    with torch.no_grad():
        torch.testing.assert_close(
            head.embed_texts(['a dog']),
            head.text_encoder(tokenize(['a video of a dog.'])))
    head.prompt_template = '{}'
    # ... in the few-texts form (the plain cross-attention never runs).
    for layer in model.cls_head.prompts_generator.decoder:
        layer.cross_attn.forward = None
    assert rel(score_videos(model, index, LABELS), scores) == 0
    ranked = search(model, index, LABELS[1], topk=3)
    order = np.argsort(-scores[:, 1])[:3]
    assert [p for p, _ in ranked] == [osp.abspath(videos[i]) for i in order]
    np.testing.assert_allclose([s for _, s in ranked], scores[order, 1],
                               rtol=1e-6)


def test_several_views_score_the_mean_of_the_views_logits(workspace,
                                                          tmp_path):
    """2 clips x 3 crops: the mean of the 6 views' logits, which is
    predict's fused score under average_clips='score'."""
    folder, ckpt, videos = workspace
    model, index = build(tmp_path / 'idx', ckpt, videos[:2], num_clips=2,
                         num_crops=3)
    assert index.info['num_views'] == 6
    scores = score_videos(model, index, LABELS)
    model.set_class_names(LABELS)
    model.cls_head.average_clips = 'score'
    for video, row in zip(videos, scores):
        views = head_logits(model, video)
        assert views.shape == (6, 4)
        data = pseudo_collate([load_video(inference_pipeline(model), video)])
        with torch.no_grad():
            fused = model.test_step(data)[0].pred_score.numpy()
        assert rel(row, views.mean(0).numpy()) <= 1e-5
        assert rel(row, fused) <= 1e-5


def test_float16_tokens_cost_little(workspace, tmp_path):
    """The default on-disk tokens: half the bytes, scores within 1e-3 of
    max |score| (measured on this model: printed)."""
    folder, ckpt, videos = workspace
    model, exact = build(tmp_path / 'f32', ckpt, videos)
    _, half = build(tmp_path / 'f16', ckpt, videos, dtype='float16')
    a, b = score_videos(model, half, LABELS), score_videos(model, exact,
                                                           LABELS)
    print('float16 tokens: max|d|/max|ref| =', rel(a, b))
    assert 0 < rel(a, b) <= 1e-3
    v, n, e = (half.info[k] for k in ('num_views', 'num_tokens',
                                      'embed_dim'))
    data = sum(x.nbytes for x in half.visual + half.video)
    assert data == len(half) * v * (2 * n * e + 4 * e)


def test_index_tool_is_incremental_and_robust(workspace, tmp_path, capsys):
    folder, ckpt, videos = workspace
    tool = load_tool('search_videos.py')
    idx = str(tmp_path / 'idx')
    missing = str(folder / 'missing.mp4')
    args = ['--checkpoint', ckpt, '--index', idx, '--shard-size', '2']
    assert tool.main(['index', videos[0], missing, videos[1], *args]) == 1
    err = capsys.readouterr().err
    assert f"failed: '{missing}': video file not found" in err
    assert '2 added, 0 already there, 1 failed' in err
    assert 's per video' in err
    listed = tmp_path / 'more.txt'
    listed.write_text(f'{videos[2]}\n\n{videos[3]}\n')
    assert tool.main(['index', *videos[:3], '--video-list', str(listed),
                      *args]) == 0
    assert '2 added, 2 already there, 0 failed; 4 videos' in \
        capsys.readouterr().err
    index = VideoIndex(idx)
    new = write_video(str(tmp_path / 'new.mp4'))
    assert index.add(init_xclip(ckpt, ['x']), [videos[0], new, new]) == []
    assert index.paths == [osp.abspath(v) for v in [*videos, new]]
    assert tool.main(['query', idx, LABELS[0], '--topk', '3']) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ['rank', 'score', 'video'] and len(out) == 4
    model = init_xclip(ckpt, ['a video'])
    top = search(model, VideoIndex(idx), LABELS[0], topk=3)
    assert [line.split()[2] for line in out[1:]] == [p for p, _ in top]
    assert [float(line.split()[1]) for line in out[1:]] == pytest.approx(
        [s for _, s in top], abs=1e-4)


def test_another_model_is_refused(workspace, tmp_path, capsys):
    folder, ckpt, videos = workspace
    mine = save_tiny_xclip(str(tmp_path / 'mine.pth'))
    tool = load_tool('search_videos.py')
    idx = str(tmp_path / 'idx')
    assert tool.main(['index', videos[0], '--checkpoint', mine, '--index',
                      idx]) == 0
    with pytest.raises(ValueError, match='made by .*mine.pth .*fingerprint'):
        tool.main(['index', videos[1], '--checkpoint', mine, '--index', idx,
                   '--num-frames', '4'])
    save_tiny_xclip(mine, seed=1)  # the checkpoint changed since
    with pytest.raises(ValueError, match='made by .*mine.pth'):
        tool.main(['query', idx, 'a dog'])
    with pytest.raises(ValueError, match='fingerprint'):
        score_videos(init_xclip(mine, ['x']), VideoIndex(idx), ['a dog'])
    os.remove(mine)
    with pytest.raises(FileNotFoundError, match='which is not there; pass '
                       'its new path'):
        index_model(VideoIndex(idx))


def test_a_stopped_run_loses_only_its_unfinished_shard(workspace, tmp_path,
                                                       monkeypatch):
    folder, ckpt, videos = workspace
    model = init_xclip(ckpt, ['a video'])
    idx = str(tmp_path / 'idx')
    init = dict(num_frames=None, num_clips=1, num_crops=1)
    index = VideoIndex.create(idx, model, ckpt, init)
    from mmxclip.retrieval import index as index_module
    calls, real = [], os.rename

    def rename(src, dst):
        """The second shard's rename: killed, its folder left as another
        process's would be."""
        calls.append(dst)
        if len(calls) == 2:
            real(src, src.replace('tmp-', 'tmp-99999'))
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(index_module.os, 'rename', rename)
    with pytest.raises(KeyboardInterrupt):
        index.add(model, videos, shard_size=2)
    monkeypatch.undo()
    reopened = VideoIndex(idx)
    assert reopened.paths == [osp.abspath(v) for v in videos[:2]]
    assert reopened.add(model, videos, shard_size=2) == []
    assert reopened.paths == [osp.abspath(v) for v in videos]
    # What the stopped run left (its temporary shard folder) is cleaned up.
    assert sorted(os.listdir(idx)) == ['.mmxclip.lock', 'index.json',
                                       'shard-000000', 'shard-000001']


def test_a_second_indexing_process_is_refused(workspace, tmp_path):
    folder, ckpt, videos = workspace
    model = init_xclip(ckpt, ['a video'])
    idx = str(tmp_path / 'idx')
    index = VideoIndex.create(idx, model, ckpt, dict(
        num_frames=None, num_clips=1, num_crops=1))
    with lock_held_elsewhere(idx):
        with pytest.raises(WorkDirBusyError, match='in use by another run'):
            index.add(model, videos[:1])


class Payload:
    """Writes a marker file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


@pytest.mark.parametrize('damage,message', [
    ('name', "shard name '../elsewhere' is not 'shard-' and 6 digits"),
    ('pickle', 'visual.npy: cannot be read'),
    ('shape', 'video.npy: float32 (2, 1, 16), expected float32 (2, 1, 32)'),
    ('paths', 'paths.json: expected a list of 2 paths'),
    ('format', "not a mmxclip-video-index version 1 index.json"),
])
def test_damaged_or_planted_index_files_are_refused(workspace, tmp_path,
                                                    damage, message):
    folder, ckpt, videos = workspace
    idx = tmp_path / 'idx'
    build(idx, ckpt, videos[:2])
    shard = idx / 'shard-000000'
    marker = tmp_path / 'pwned'
    info = json.loads((idx / 'index.json').read_text())
    if damage == 'name':
        info['shards'][0]['name'] = '../elsewhere'
    elif damage == 'pickle':
        np.save(shard / 'visual.npy', np.array([Payload(str(marker))] * 2,
                                               dtype=object))
    elif damage == 'shape':
        np.save(shard / 'video.npy', np.zeros((2, 1, 16), np.float32))
    elif damage == 'paths':
        (shard / 'paths.json').write_text('{"a": 1}')
    else:
        info['format'] = 'something else'
    (idx / 'index.json').write_text(json.dumps(info))
    with pytest.raises(ValueError, match=message.replace('(', r'\(')
                       .replace(')', r'\)')):
        VideoIndex(str(idx))
    assert not marker.exists()


def test_measuring_tools_run(workspace, tmp_path, capsys):
    """docs/performance.md's measuring commands: a random checkpoint of a
    config's size that init_xclip rebuilds, and the query benchmark over a
    tiled index (here 3 shards of 8 tiled from 4 videos)."""
    folder, ckpt, videos = workspace
    out = str(tmp_path / 'toy.pth')
    load_tool('analysis/random_checkpoint.py').main(
        [osp.join(ROOT, 'configs', 'xclip_toy.py'), out])
    assert 'at random, 2.0 M parameters' in capsys.readouterr().out
    model = init_xclip(out)
    assert model.backbone.input_resolution == 32
    _, index = build(tmp_path / 'idx', ckpt, videos)
    load_tool('analysis/benchmark_search.py').main(
        [index.root, 'a dog', '--videos', '20', '--shard-size', '8'])
    line = capsys.readouterr().out
    assert '24 videos scored in' in line
    v, n, e = (index.info[k] for k in ('num_views', 'num_tokens',
                                       'embed_dim'))
    assert f'index data: {v * (4 * n * e + 4 * e)} bytes per video' in line
