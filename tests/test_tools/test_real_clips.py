"""tools/analysis/real_clips.py cuts the clips of its plan from an
MMAction2 checkout (here one of generated videos at its paths)."""
import os
import os.path as osp

import av
import pytest
from helpers.weight_files import load_tool, write_video

real_clips = load_tool('analysis/real_clips.py')


def fake_checkout(folder):
    """Generated videos at the paths of the plan, k-th of 12 + k frames."""
    for k, rel in enumerate(real_clips.PLAN):
        os.makedirs(folder / osp.dirname(rel), exist_ok=True)
        write_video(str(folder / rel), frames=12 + k, seed=k)
    return folder


def test_clips_cut_from_every_video_of_the_plan(tmp_path, capsys):
    checkout = fake_checkout(tmp_path / 'mmaction2')
    paths = real_clips.main([str(checkout), str(tmp_path / 'out')])
    assert len(paths) == sum(real_clips.PLAN.values()) == 20
    assert capsys.readouterr().out.strip().endswith('20 clips in '
                                                    f'{tmp_path / "out"}')
    for k, (rel, count) in enumerate(real_clips.PLAN.items()):
        stem = osp.basename(rel).replace('.', '_')
        for i in range(count):
            with av.open(str(tmp_path / 'out' / f'{stem}_{i}.mp4')) as c:
                stream = c.streams.video[0]
                assert stream.average_rate == 8  # the source's
                assert len(list(c.decode(stream))) == (12 + k) // count


def test_not_a_checkout_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        real_clips.main([str(tmp_path), str(tmp_path / 'out')])
    assert 'not an MMAction2 checkout; missing' in capsys.readouterr().err


def test_a_playlist_in_place_of_a_video_is_refused_unopened(
        tmp_path, capsys):
    """An HLS playlist at a plan path naming a video on this disk: the gate
    refuses it by its bytes; the tool stops with the file named."""
    checkout = fake_checkout(tmp_path / 'mmaction2')
    secret = write_video(str(tmp_path / 'secret.mp4'))
    (checkout / 'demo' / 'demo.mp4').write_text(
        f'#EXTM3U\n#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n')
    with pytest.raises(SystemExit) as exit_:
        real_clips.main([str(checkout), str(tmp_path / 'out')])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert 'demo.mp4' in err and 'playlist' in err.lower()
    assert not os.listdir(tmp_path / 'out')
