"""tools/analysis/real_clips.py cuts the clips of its plan from an
MMAction2 checkout (here one of generated videos at its paths)."""
import os
import os.path as osp

import av
import pytest
from helpers.weight_files import load_tool, write_video

real_clips = load_tool('analysis/real_clips.py')


def test_clips_cut_from_every_video_of_the_plan(tmp_path, capsys):
    checkout = tmp_path / 'mmaction2'
    for k, rel in enumerate(real_clips.PLAN):
        os.makedirs(checkout / osp.dirname(rel), exist_ok=True)
        write_video(str(checkout / rel), frames=12 + k, seed=k)
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
