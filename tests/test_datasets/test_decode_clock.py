"""The video gate's Deadline as a clock of decoding only: paused for work
between frames, grown for a stream's bytes as they are read."""
import time

import pytest

from mmxclip.datasets import BrokenVideoError
from mmxclip.datasets.video_gate import Deadline


def test_paused_time_is_not_charged():
    deadline = Deadline('v.mp4', base_s=0.2, per_mb_s=0)
    with deadline.paused():
        time.sleep(0.3)
    deadline.check()  # 0.3 s passed, none of it decoding
    time.sleep(0.25)
    with pytest.raises(BrokenVideoError, match="'v.mp4': decoding took "
                       'longer than its time budget of 0.2 s'):
        deadline.check()


def test_a_stream_budget_grows_with_its_bytes():
    deadline = Deadline('<stdin>', base_s=0.0, per_mb_s=0.4)
    time.sleep(0.05)
    with pytest.raises(BrokenVideoError):
        deadline.check()
    deadline.grow(2**20)  # one more MiB: 0.4 s more
    deadline.check()
    assert deadline.seconds == pytest.approx(0.4)
