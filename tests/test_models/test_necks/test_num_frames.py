"""Any number of frames: MIT's temporal table interpolated from T to T' on
load (values, exactness at T' = T), through load_state_dict, MMEngine's
load_checkpoint (configs' load_from), init_xclip and tools/zero_shot.py."""
import os.path as osp

import numpy as np
import pytest
import torch
from helpers.runs import LoggedMessages
from helpers.tiny_model import LABELS, save_tiny_xclip, tiny_xclip_cfg
from helpers.weight_files import load_tool, write_video
from mmaction.registry import MODELS
from mmengine.runner.checkpoint import load_checkpoint

from mmxclip.apis import init_xclip, recognize
from mmxclip.models.layers import resize_temporal_pos_embed
from mmxclip.models.necks import MITNeck, mit
from mmxclip.weights import check_state_dict


def by_hand(table: np.ndarray, frames: int) -> np.ndarray:
    """Linear interpolation between segment centres, written out: output
    frame j shows time (j + 0.5) / T'; input row i sits at (i + 0.5) / T;
    before the first / after the last centre the end row holds."""
    t = len(table)
    rows = []
    for j in range(frames):
        x = (j + 0.5) / frames * t - 0.5  # in input rows
        x = min(max(x, 0.0), t - 1.0)
        lo = int(np.floor(x))
        hi = min(lo + 1, t - 1)
        w = x - lo
        rows.append((1 - w) * table[lo] + w * table[hi])
    return np.stack(rows)


@pytest.mark.parametrize('frames', [4, 16, 32])
def test_temporal_table_is_interpolated_between_segment_centres(frames):
    pos = torch.randn(1, 8, 6, dtype=torch.float64)
    out = resize_temporal_pos_embed(pos, frames)
    assert out.shape == (1, frames, 6) and out.dtype == torch.float64
    np.testing.assert_allclose(out[0].numpy(), by_hand(pos[0].numpy(),
                                                       frames), atol=1e-12)
    p = pos[0]
    if frames == 4:  # each output segment covers two input segments
        torch.testing.assert_close(out[0], (p[0::2] + p[1::2]) / 2)
    if frames == 16:
        torch.testing.assert_close(out[0, 0], p[0])  # before centre 0
        torch.testing.assert_close(out[0, 1], 0.75 * p[0] + 0.25 * p[1])
        torch.testing.assert_close(out[0, 2], 0.25 * p[0] + 0.75 * p[1])
        torch.testing.assert_close(out[0, 15], p[7])
    assert resize_temporal_pos_embed(pos, 8) is pos
    half = resize_temporal_pos_embed(pos.half(), frames)
    assert half.dtype == torch.float16


@pytest.mark.parametrize('frames', [4, 16, 32])
def test_mit_loads_a_table_for_another_frame_count(frames):
    torch.manual_seed(0)
    trained = MITNeck(num_frames=8, embed_dim=32)
    state = trained.state_dict()
    neck = MITNeck(num_frames=frames, embed_dim=32)
    with LoggedMessages() as logged:
        neck.load_state_dict(state)
    assert torch.equal(neck.positional_embedding.data,
                       resize_temporal_pos_embed(
                           state['positional_embedding'], frames))
    assert state['positional_embedding'].shape == (1, 8, 32)  # not changed
    assert (f'positional_embedding: interpolated (1, 8, 32) -> (1, {frames},'
            ' 32)') in '\n'.join(logged)
    video, _ = neck(torch.randn(2, frames, 32))
    assert video.shape == (2, 32)


def test_mit_at_the_same_frame_count_takes_no_interpolation_path(
        monkeypatch):
    """T' = T loads the tensor itself: bit-identical, nothing logged, the
    interpolation never called."""
    torch.manual_seed(0)
    state = MITNeck(num_frames=8, embed_dim=32).state_dict()
    monkeypatch.setattr(mit, 'resize_temporal_pos_embed', None)
    neck = MITNeck(num_frames=8, embed_dim=32)
    with LoggedMessages() as logged:
        neck.load_state_dict(state)
    assert not any('interpolated' in m for m in logged)
    for key, value in state.items():
        assert torch.equal(neck.state_dict()[key], value), key


def test_mit_refuses_a_table_of_another_width():
    neck = MITNeck(num_frames=8, embed_dim=32)
    state = MITNeck(num_frames=8, embed_dim=64).state_dict()
    with pytest.raises(ValueError, match=r'positional_embedding: checkpoint '
                       r'\(1, 8, 64\) vs model \(1, 8, 32\) - expected '
                       r'\(1, T, 32\): embed dim 64 vs 32'):
        neck.load_state_dict(state, strict=False)


def test_check_state_dict_lets_frames_through_but_not_width():
    small = MODELS.build(tiny_xclip_cfg(8))
    state = small.state_dict()
    check_state_dict(MODELS.build(tiny_xclip_cfg(16)), state, 'ckpt.pth')
    state['neck.positional_embedding'] = torch.zeros(1, 8, 16)
    with pytest.raises(ValueError, match=r'neck.positional_embedding: '
                       r'checkpoint \(1, 8, 16\) vs model \(1, 16, 32\) - '
                       r'width 16 vs 32'):
        check_state_dict(MODELS.build(tiny_xclip_cfg(16)), state, 'ckpt.pth')


@pytest.fixture(scope='module')
def trained_at_8(tmp_path_factory):
    folder = tmp_path_factory.mktemp('frames')
    ckpt = save_tiny_xclip(str(folder / 'tiny_8f.pth'), num_frames=8)
    video = write_video(str(folder / 'clip.mp4'), frames=40)
    return ckpt, video


def test_same_frame_count_is_bit_identical(trained_at_8):
    ckpt, video = trained_at_8
    base, same = init_xclip(ckpt), init_xclip(ckpt, num_frames=8)
    for key, value in base.state_dict().items():
        assert torch.equal(same.state_dict()[key], value), key
    ours, theirs = recognize(base, video, topk=4), recognize(same, video,
                                                             topk=4)
    assert ours.ranking == theirs.ranking
    assert ours.frame_inds.tolist() == theirs.frame_inds.tolist()
    clips = torch.randn(2, 1, 3, 8, 32, 32)
    with torch.no_grad():
        assert torch.equal(base.extract_feat(clips, stage='head')[0],
                           same.extract_feat(clips, stage='head')[0])


@pytest.mark.parametrize('frames', [16, 32])
def test_model_trained_at_8_runs_at_more_frames(trained_at_8, frames):
    """init_xclip(num_frames=T'): the table is the interpolated one, the
    test pipeline samples T' frames, the video is ranked; a config with
    neck.num_frames=T' loading the checkpoint (load_from, tools/test.py)
    builds the same model and scores."""
    ckpt, video = trained_at_8
    table = init_xclip(ckpt).neck.positional_embedding.detach()
    model = init_xclip(ckpt, num_frames=frames)
    assert torch.equal(model.neck.positional_embedding.data,
                       resize_temporal_pos_embed(table, frames))
    assert model.cfg.test_pipeline[1]['num_segments'] == frames
    result = recognize(model, video, topk=4)
    assert result.frame_inds.shape == (1, frames)
    assert sorted(n for n, _ in result.ranking) == sorted(LABELS)
    assert sum(p for _, p in result.ranking) == pytest.approx(1, abs=1e-6)
    assert result.ranking[0][1] > result.ranking[-1][1]

    from_config = MODELS.build(tiny_xclip_cfg(frames)).eval()
    load_checkpoint(from_config, ckpt, map_location='cpu')
    for key, value in model.state_dict().items():
        assert torch.equal(from_config.state_dict()[key], value), key
    clips = torch.randn(2, 1, 3, frames, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.extract_feat(clips, stage='head')[0],
                           from_config.extract_feat(clips, stage='head')[0])


def test_zero_shot_tool_num_frames(trained_at_8, monkeypatch, capsys):
    ckpt, video = trained_at_8
    tool = load_tool('zero_shot.py')
    drawn = []
    monkeypatch.setattr(tool, 'draw', lambda frames, result, *a:
                        drawn.append(frames))
    assert tool.main([video, '--checkpoint', ckpt, '--labels', 'a,b',
                      '--num-frames', '16', '--out-dir', 'unused']) == 0
    assert drawn[0].shape[:2] == (1, 16)
    assert osp.basename(video) in capsys.readouterr().out
    with pytest.raises(SystemExit):
        tool.parse_args([video, '--checkpoint', ckpt, '--labels', 'a',
                         '--num-frames', '0'])
    assert ("argument --num-frames: expected a positive integer, got '0'"
            in capsys.readouterr().err)
