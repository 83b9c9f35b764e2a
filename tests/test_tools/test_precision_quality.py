"""tools/analysis/precision_quality.py compares each precision's ranking
with float32's on real (generated) videos, with and without labels."""
import pytest
import torch
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import load_tool, write_video

quality = load_tool('analysis/precision_quality.py')


def test_precisions_are_compared_with_fp32(tmp_path, capsys):
    ckpt = save_tiny_xclip(str(tmp_path / 'tiny.pth'))
    videos = [write_video(str(tmp_path / f'v{i}.mp4'), seed=i)
              for i in range(3)]
    ann = tmp_path / 'val.txt'
    ann.write_text(''.join(f'v{i}.mp4 {i}\n' for i in range(3)))
    results = quality.main([ckpt, '--ann-file', str(ann), '--data-prefix',
                            str(tmp_path)])
    assert set(results) == {'fp32', 'bf16', 'int8'}
    fp32 = results['fp32']
    assert fp32['top1_changed'] == fp32['top5_changed'] == 0
    assert fp32['max_prob_diff'] == 0 and fp32['top5_changed_gap'] is None
    for precision in ('bf16', 'int8'):
        row = results[precision]
        assert 0 < row['max_prob_diff'] < 0.05  # it ran, close to fp32
        assert row['top1_acc'] == pytest.approx(fp32['top1_acc'],
                                                abs=1 / 3 + 1e-6)
    out = capsys.readouterr().out
    assert '| precision | top1_acc | top1_changed' in out
    assert '| fp32 | ' in out and ' | 0 | 0 | – | 0 | ' in out
    results = quality.main([ckpt, *videos, '--classes', '6',
                            '--precisions', 'int8'])
    assert set(results) == {'fp32', 'int8'}
    assert 'top1_acc' not in results['int8']
    with pytest.raises(SystemExit):
        quality.main([ckpt])


def test_the_gap_a_top5_change_needed():
    """Video 0's 5th and 6th are 0.02 apart and swap, video 1's (0.08
    apart) keep their order: the gap reported is 0.02."""
    ref = torch.tensor([[.3, .2, .15, .12, .11, .09, .03],
                        [.3, .2, .15, .14, .13, .03, .05]])
    probs = ref.clone()
    probs[0, 4], probs[0, 5] = 0.09, 0.11
    probs[1, 0] = 0.25
    row = quality.compare(ref, probs, None)
    assert row['top5_changed'] == 1 and row['top1_changed'] == 0
    assert row['top5_changed_gap'] == pytest.approx(0.02)
    assert row['max_prob_diff'] == pytest.approx(0.05)
