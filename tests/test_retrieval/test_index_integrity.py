"""Nothing an index holds is lost or silently wrong (issue 22, items 1, 8
and 9): two writers, each with the index open (in one process or two),
keep each other's videos; a query during a write sees what index.json
lists; an index.json missing a field, listing a shard twice or a shard
holding NaN is named, never used in silence; a second writer through the
tool gets a clear refusal naming --index."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from helpers.runs import lock_held_elsewhere, run_tool
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import load_tool, write_video
from mmengine.logging import MMLogger

from mmxclip.apis import init_xclip
from mmxclip.retrieval import VideoIndex
from mmxclip.retrieval import index as index_module
from mmxclip.retrieval import search

INIT = dict(num_frames=None, num_clips=1, num_crops=1)


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp('integrity')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    videos = [write_video(str(folder / f'v{i}.mp4'), frames=8, seed=i)
              for i in range(4)]
    return ckpt, videos, init_xclip(ckpt, ['a video'])


def test_two_open_indexes_keep_each_others_videos(workspace, tmp_path,
                                                  monkeypatch):
    """A service and a tool, each with the index open, add in turn; the
    second's write runs while a query opens the index."""
    ckpt, videos, model = workspace
    idx = str(tmp_path / 'idx')
    VideoIndex.create(idx, model, ckpt, INIT, 'float32')
    service, tool = VideoIndex(idx), VideoIndex(idx)
    assert service.add(model, videos[:2], shard_size=1) == []
    seen = []
    real_rename = os.rename

    def rename(src, dst):
        """A query while the tool's shard is being committed."""
        seen.append(search(model, VideoIndex(idx), 'a dog', topk=10))
        real_rename(src, dst)

    monkeypatch.setattr(index_module.os, 'rename', rename)
    assert tool.add(model, videos[2:], shard_size=1) == []
    monkeypatch.undo()
    mine = [osp.abspath(v) for v in videos]
    assert sorted(p for p, _ in seen[0]) == mine[:2]
    assert sorted(p for p, _ in seen[1]) == mine[:3]
    assert VideoIndex(idx).paths == mine
    assert tool.paths == mine
    assert service.paths == mine[:2]  # its own view until refreshed
    service.refresh()
    assert service.paths == mine


def test_a_second_process_adding_loses_nothing(workspace, tmp_path):
    ckpt, videos, model = workspace
    idx = str(tmp_path / 'idx')
    service = VideoIndex.create(idx, model, ckpt, INIT, 'float32')
    # The tool, in its own process, while the service holds the index open.
    done = run_tool(['tools/search_videos.py', 'index', *videos[2:],
                     '--checkpoint', ckpt, '--index', idx, '--shard-size',
                     '1'])
    assert done.returncode == 0, done.stderr
    assert service.add(model, videos[:2], shard_size=1) == []
    index = VideoIndex(idx)
    assert sorted(index.paths) == [osp.abspath(v) for v in videos]
    assert len(index.info['shards']) == 4
    assert len(search(model, index, 'a dog', topk=10)) == 4


def test_the_tool_refuses_a_second_writer_by_its_option(workspace,
                                                        tmp_path, capsys):
    ckpt, videos, model = workspace
    idx = str(tmp_path / 'idx')
    VideoIndex.create(idx, model, ckpt, INIT)
    with lock_held_elsewhere(idx):
        status = load_tool('search_videos.py').main(
            ['index', videos[0], '--checkpoint', ckpt, '--index', idx])
    err = capsys.readouterr().err
    assert status == 1
    assert 'is in use by another run' in err
    assert 'pass another --index' in err and '--work-dir' not in err


@pytest.mark.parametrize('damage,message', [
    ('embed_dim', r'index.json: embed_dim must be a positive integer, got '
     'None'),
    ('model', r'index.json: model must be the record of the model'),
    ('fingerprint', r"index.json: model: \[.*\]; expected a model record "
                    r"with exactly the keys \['architecture', 'checkpoint', "
                    r"'fingerprint'"),
    ('twice', r'index.json: shard-000000 is listed twice'),
    ('count', r"index.json: shard-000000 count must be a positive integer, "
     "got '2'"),
    ('views', r'index.json: num_views must be a positive integer'),
    ('same video', r'v0.mp4 is in shard-000000 and in shard-000001'),
])
def test_index_json_fields_are_checked(workspace, tmp_path, damage,
                                       message):
    ckpt, videos, model = workspace
    idx = tmp_path / 'idx'
    VideoIndex.create(str(idx), model, ckpt, INIT).add(
        model, videos[:2], shard_size=2)
    info = json.loads((idx / 'index.json').read_text())
    if damage == 'embed_dim':
        del info['embed_dim']
    elif damage == 'model':
        del info['model']
    elif damage == 'fingerprint':
        del info['model']['fingerprint']
    elif damage == 'twice':
        info['shards'] *= 2
    elif damage == 'count':
        info['shards'][0]['count'] = '2'
    elif damage == 'views':
        info['num_views'] = None
    else:
        shutil.copytree(idx / 'shard-000000', idx / 'shard-000001')
        info['shards'].append(dict(name='shard-000001', count=2))
    (idx / 'index.json').write_text(json.dumps(info))
    with pytest.raises(ValueError, match=message):
        VideoIndex(str(idx))


def test_non_finite_scores_are_named_not_ranked(workspace, tmp_path,
                                                monkeypatch):
    ckpt, videos, model = workspace
    idx = tmp_path / 'idx'
    VideoIndex.create(str(idx), model, ckpt, INIT, 'float32').add(
        model, videos, shard_size=4)
    visual = idx / 'shard-000000' / 'visual.npy'
    tokens = np.load(visual)
    tokens[1, 0, 0, 0], tokens[2, 0, 0, 0] = np.nan, np.inf
    np.save(visual, tokens)
    warned = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'warning',
                        warned.append)
    ranked = search(model, VideoIndex(str(idx)), 'a dog', topk=10)
    good = [osp.abspath(videos[i]) for i in (0, 3)]
    assert sorted(p for p, _ in ranked) == good
    assert all(np.isfinite(s) for _, s in ranked)
    log, = warned
    assert '2 videos score NaN or inf' in log
    assert f'{osp.abspath(videos[1])}, {osp.abspath(videos[2])}' in log


def test_non_finite_features_are_not_added(workspace, tmp_path, monkeypatch,
                                           capsys):
    ckpt, videos, model = workspace
    index = VideoIndex.create(str(tmp_path / 'idx'), model, ckpt, INIT)
    from mmxclip.apis import features
    real = features.encode_batch

    def encode(model, samples):
        out = real(model, samples)
        out[0].visual_tokens[0, 0, 0] = float('nan')
        return out

    monkeypatch.setattr(features, 'encode_batch', encode)
    assert index.add(model, videos[:2], batch_size=2) == [videos[0]]
    assert index.paths == [osp.abspath(videos[1])]
    assert f"failed: '{videos[0]}': its features hold NaN or inf" in \
        capsys.readouterr().err
