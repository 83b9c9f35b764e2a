"""Tests for mmxclip.datasets.toy, its command line
tools/data/make_toy_dataset.py and tools/analysis/toy_accuracy.py."""
import os.path as osp
from collections import Counter

import decord
import numpy as np
import pytest
import torch
from helpers import ROOT, load_tool
from mmengine.evaluator import DumpResults

from mmxclip.datasets import toy as mtd
from mmxclip.datasets.toy import colors

make_toy_tool = load_tool('data/make_toy_dataset.py')

EXPECTED_CLASSES = [
    'moving left',
    'moving right',
    'moving up',
    'moving down',
    'growing',
    'shrinking',
    'circling clockwise',
    'circling counterclockwise',
]
PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7)]

N_TRAIN, N_VAL, SIZE, FRAMES, SEED = 3, 1, 32, 16, 7


def _generate(out_dir):
    return mtd.make_toy_dataset(
        str(out_dir),
        num_train_per_class=N_TRAIN,
        num_val_per_class=N_VAL,
        size=SIZE,
        num_frames=FRAMES,
        seed=SEED)


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp('toy')
    return str(out_dir), _generate(out_dir)


def _read_list(path):
    entries = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            assert len(parts) == 2, f'bad line {line!r} in {path}'
            entries.append((parts[0], int(parts[1])))
    return entries


def _read_video(path):
    reader = decord.VideoReader(path)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def _object_mask(frames_rgb, bg_bgr, thresh=60):
    bg_rgb = np.asarray(bg_bgr[::-1], np.float32)
    diff = np.abs(frames_rgb.astype(np.float32) - bg_rgb).sum(-1)
    return diff > thresh


def test_files_exist(dataset):
    out_dir, result = dataset
    for name in ('classes.txt', 'train.txt', 'val.txt', 'meta.json'):
        assert osp.isfile(osp.join(out_dir, name)), name
    assert result['data_prefix'] == osp.join(out_dir, 'videos')
    for split in ('train', 'val'):
        assert result['ann_files'][split] == osp.join(out_dir, f'{split}.txt')
        for rec in result['videos'][split]:
            assert osp.isfile(osp.join(out_dir, 'videos', rec['filename']))


def test_classes_file(dataset):
    out_dir, result = dataset
    with open(osp.join(out_dir, 'classes.txt')) as f:
        names = [line.rstrip('\n') for line in f]
    assert names == EXPECTED_CLASSES
    assert result['classes'] == EXPECTED_CLASSES
    for a, b in PAIRS:
        assert mtd.paired_label(a) == b and mtd.paired_label(b) == a


@pytest.mark.parametrize('split,per_class', [('train', N_TRAIN),
                                             ('val', N_VAL)])
def test_lists_parse_and_balanced(dataset, split, per_class):
    out_dir, result = dataset
    entries = _read_list(osp.join(out_dir, f'{split}.txt'))
    assert len(entries) == per_class * len(EXPECTED_CLASSES)
    assert Counter(label for _, label in entries) == {
        label: per_class
        for label in range(len(EXPECTED_CLASSES))
    }
    filenames = [fn for fn, _ in entries]
    assert len(set(filenames)) == len(filenames)
    for fn, label in entries:
        assert not osp.isabs(fn) and fn.startswith(f'{split}/')
        assert fn.endswith('.mp4')
        assert osp.isfile(osp.join(out_dir, 'videos', fn))
    assert entries == [(r['filename'], r['label'])
                       for r in result['videos'][split]]


def test_videos_decode(dataset):
    out_dir, result = dataset
    for split in ('train', 'val'):
        for rec in result['videos'][split]:
            frames = _read_video(osp.join(out_dir, 'videos', rec['filename']))
            assert frames.shape == (FRAMES, SIZE, SIZE, 3), rec['filename']
            assert frames.dtype == np.uint8


def test_pixels_survive_compression(dataset):
    out_dir, result = dataset
    errors = []
    for rec in result['videos']['train'][:len(EXPECTED_CLASSES)]:
        spec = mtd.make_video_spec(SEED, 'train', rec['label'], 0, SIZE,
                                   FRAMES)
        np.testing.assert_allclose(spec.centers, rec['centers'])
        rendered = mtd.render_video(spec, SIZE)[..., ::-1]  # BGR -> RGB
        decoded = _read_video(osp.join(out_dir, 'videos', rec['filename']))
        errors.append(np.abs(decoded.astype(int) - rendered).mean())
    assert max(errors) < 12, errors


def test_object_stays_in_frame(dataset):
    _, result = dataset
    for split in ('train', 'val'):
        for rec in result['videos'][split]:
            c, r = rec['centers'], rec['radii'][:, None]
            assert np.all(c - r >= -1e-6) and np.all(c + r <= SIZE + 1e-6)


def test_motion_direction_in_decoded_video(dataset):
    """The decoded videos move the way their labels say."""
    out_dir, result = dataset
    for rec in result['videos']['train']:
        label = rec['label']
        frames = _read_video(osp.join(out_dir, 'videos', rec['filename']))
        mask = _object_mask(frames, rec['bg_color'])
        first, last = mask[0], mask[-1]
        if label <= 3:
            axis = 1 if label <= 1 else 0  # x for left/right, y for up/down
            pos0 = np.nonzero(first)[axis].mean()
            pos1 = np.nonzero(last)[axis].mean()
            step = pos1 - pos0
            expected = rec['centers'][-1] - rec['centers'][0]
            assert step * (1 if label in (1, 3) else -1) > 5, rec['filename']
            assert abs(step - expected[1 - axis]) < 2, rec['filename']
        elif label <= 5:
            grow = last.sum() - first.sum()
            assert grow * (1 if label == 4 else -1) > 20, rec['filename']
        else:
            # Angle of the object's centroid around the frame centre,
            # unwrapped;
            # it grows for clockwise on screen (y points down).
            cents = [np.nonzero(m)[::-1] for m in mask]
            phi = np.unwrap([
                np.arctan2(ys.mean() - SIZE / 2, xs.mean() - SIZE / 2)
                for xs, ys in cents])
            turn = np.rad2deg(phi[-1] - phi[0])
            assert turn * (1 if label == 6 else -1) > 150, rec['filename']


def test_clockwise_convention():
    """Increasing angles turn the shape clockwise on screen (y points down)."""
    angles = np.array([0.0, 30.0])
    frames = [mtd.render_video(mtd.VideoSpec(
        label=6, shape='triangle', color=(255, 255, 255), bg_color=(0, 0, 0),
        noise_std=0.0, noise_seed=0, centers=np.full((1, 2), 16.0),
        radii=np.full(1, 12.0), angle=angle), 32)[0] for angle in angles]
    for frame, angle in zip(frames, angles):
        ys, xs = np.nonzero(frame[..., 0] > 128)
        # The apex is the object pixel farthest from the centre.
        far = np.argmax((xs + 0.5 - 16) ** 2 + (ys + 0.5 - 16) ** 2)
        apex_x, apex_y = xs[far] + 0.5 - 16, ys[far] + 0.5 - 16
        assert apex_x > 0  # pointing right-ish in both frames
        if angle == 0:
            assert abs(apex_y) < 2
        else:  # rotated from 3 o'clock towards 4 o'clock: clockwise
            assert apex_y > 3


def test_deterministic(dataset, tmp_path):
    out_dir, result = dataset
    again = _generate(tmp_path)
    for split in ('train', 'val'):
        assert _read_list(osp.join(out_dir, f'{split}.txt')) == _read_list(
            osp.join(str(tmp_path), f'{split}.txt'))
        for a, b in zip(result['videos'][split], again['videos'][split]):
            assert a['shape'] == b['shape'] and a['color'] == b['color']
            np.testing.assert_array_equal(a['centers'], b['centers'])
    rel = result['videos']['train'][5]['filename']
    np.testing.assert_array_equal(
        _read_video(osp.join(out_dir, 'videos', rel)),
        _read_video(osp.join(str(tmp_path), 'videos', rel)))


def test_seed_changes_videos():
    rng_a = np.random.default_rng([0, 0, 0, 0])
    rng_b = np.random.default_rng([1, 0, 0, 0])
    a = mtd.sample_video_spec(1, rng_a, SIZE, FRAMES)
    b = mtd.sample_video_spec(1, rng_b, SIZE, FRAMES)
    assert not np.allclose(a.centers, b.centers)


@pytest.mark.parametrize('pair', PAIRS)
def test_pairs_are_time_reversals(pair):
    """Same random draws give the reversed video for the paired class."""
    a, b = pair
    for i in range(20):
        spec_a = mtd.sample_video_spec(a, np.random.default_rng(i), SIZE,
                                       FRAMES)
        spec_b = mtd.sample_video_spec(b, np.random.default_rng(i), SIZE,
                                       FRAMES)
        assert (spec_a.shape, spec_a.color, spec_a.bg_color) == (
            spec_b.shape, spec_b.color, spec_b.bg_color)
        np.testing.assert_array_equal(spec_a.centers, spec_b.centers[::-1])
        np.testing.assert_array_equal(spec_a.radii, spec_b.radii[::-1])
        assert spec_a.angle == spec_b.angle
    frames_a = mtd.render_video(spec_a, SIZE)
    frames_b = mtd.render_video(spec_b, SIZE)
    np.testing.assert_array_equal(frames_a, frames_b[::-1])


@pytest.mark.parametrize('pair', PAIRS)
def test_order_free_statistics_match_within_pair(dataset, pair):
    """Within a split, the set of object centres, sizes and angles over all
    frames of one class equals that of its paired class, so no single frame
    or frame average separates them; the first frames, however, differ."""
    _, result = dataset
    a, b = pair
    for split in ('train', 'val'):
        recs = result['videos'][split]
        for key in ('centers', 'radii', 'angle'):
            vals_a = np.concatenate(
                [np.atleast_1d(r[key]) for r in recs if r['label'] == a])
            vals_b = np.concatenate(
                [np.atleast_1d(r[key]) for r in recs if r['label'] == b])
            np.testing.assert_allclose(
                np.sort(vals_a, axis=0), np.sort(vals_b, axis=0))
    # Sanity: the motion is not trivial, e.g. left/right start elsewhere.
    if pair == (0, 1):
        recs = result['videos']['train']
        x0_left = np.mean(
            [r['centers'][0, 0] for r in recs if r['label'] == 0])
        x0_right = np.mean(
            [r['centers'][0, 0] for r in recs if r['label'] == 1])
        assert x0_left > x0_right


def test_motion_is_large_enough_for_8_frame_sampling():
    """With 8 of 16 frames (stride 2), every video still changes clearly."""
    for label in range(len(EXPECTED_CLASSES)):
        for i in range(50):
            spec = mtd.sample_video_spec(label, np.random.default_rng(i),
                                         SIZE, FRAMES)
            c, r = spec.centers[::2], spec.radii[::2]
            if label <= 3:
                step = np.abs(np.diff(c, axis=0)).max(axis=1)
                assert step.min() > 1.0  # pixels per sampled frame
            elif label <= 5:
                assert np.abs(np.diff(r)).min() > 0.4
            else:
                phi = np.unwrap(np.arctan2(c[:, 1] - SIZE / 2,
                                           c[:, 0] - SIZE / 2))
                step = np.rad2deg(np.abs(np.diff(phi)))
                # visible, and far below the 180 degrees where the direction
                # of a step around the circle is ambiguous
                assert step.min() > 20 and step.max() < 40
                assert np.ndim(spec.angle) == 0  # the shape does not spin


@pytest.mark.parametrize('kwargs,exc', [
    (dict(num_train_per_class=-1), ValueError),
    (dict(num_val_per_class=-3), ValueError),
    (dict(num_train_per_class=0, num_val_per_class=0), ValueError),
    (dict(size=30), ValueError),
    (dict(size=48), ValueError),  # decord mis-decodes this width
    (dict(num_frames=2), ValueError),
    (dict(seed=-1), ValueError),
    (dict(num_train_per_class=2.5), TypeError),
])
def test_bad_arguments(tmp_path, kwargs, exc):
    with pytest.raises(exc):
        mtd.make_toy_dataset(str(tmp_path / 'out'), **kwargs)
    assert not (tmp_path / 'out').exists()


def test_cli(tmp_path, capsys):
    out = tmp_path / 'cli'
    make_toy_tool.main([str(out), '--train-per-class', '1',
                        '--val-per-class', '1', '--frames', '8', '--seed',
                        '3'])
    summary = capsys.readouterr().out.strip()
    assert '8 train' in summary and '8 val' in summary and str(out) in summary
    entries = _read_list(str(out / 'train.txt'))
    assert len(entries) == 8
    frames = _read_video(str(out / 'videos' / entries[0][0]))
    assert frames.shape == (8, 32, 32, 3)
    with pytest.raises(SystemExit):
        make_toy_tool.main([str(tmp_path / 'bad'), '--train-per-class', '-1'])


def test_bright_object_on_dark_background(dataset):
    """Object and background lumas lie in disjoint ranges, hues vary."""
    _, result = dataset
    recs = result['videos']['train'] + result['videos']['val']
    fg = np.array([colors.luma(r['color']) for r in recs])
    bg = np.array([colors.luma(r['bg_color']) for r in recs])
    assert fg.min() >= colors.MIN_FG_LUMA > colors.MAX_BG_LUMA >= bg.max()
    # one colour per twin pair
    assert len({tuple(r['color']) for r in recs}) == len(recs) // 2


def test_toy_accuracy_tool_on_known_predictions(tmp_path, capsys):
    """tools/analysis/toy_accuracy.py on a dump (as tools/test.py --dump
    writes it) whose answers are known: video i of class i scores its top
    class ``TOP[i]`` with 1.0, and its own class and its twin as given."""
    assert [mtd.paired_label(c) for c in range(8)] == [1, 0, 3, 2, 5, 4, 7, 6]
    top = [0, 0, 5, 3, 4, 4, 0, 7]
    # (own class, twin) scores where the top class is neither.
    own_twin = {1: (0.5, None), 2: (0.5, 0.2), 5: (0.5, None),
                6: (0.5, 0.5)}
    results = []
    for label, best in enumerate(top):
        score = torch.zeros(8)
        score[best] = 1.0
        own, twin = own_twin.get(label, (None, None))
        if own is not None:
            score[label] = own
        if twin is not None:
            score[mtd.paired_label(label)] = twin
        results.append(dict(pred_score=score, gt_label=torch.tensor(label)))
    dump = str(tmp_path / 'preds.pkl')
    metric = DumpResults(out_file_path=dump)
    metric.process(None, results)
    metric.compute_metrics(metric.results)
    load_tool('analysis/toy_accuracy.py').main([dump])
    # Right: videos 0, 3, 4, 7. Right kind: also 1 and 5 (their twin).
    # Above its twin: 0, 2, 3, 4, 7 (6 ties with it: not above).
    assert capsys.readouterr().out == (
        '8 videos: top-1 50.0%, motion kind 75.0%, direction pairs 62.5% '
        '(chance 50%)\n')


def test_default_size_is_what_the_toy_config_is_made_for():
    """One definition of the toy dataset's size: the generator's default,
    which the command line and tools/run_toy.sh rely on."""
    assert (mtd.TRAIN_PER_CLASS, mtd.VAL_PER_CLASS) == (150, 10)
    args = make_toy_tool.parse_args(['out'])
    assert (args.train_per_class, args.val_per_class) == (150, 10)
    with open(osp.join(ROOT, 'tools', 'run_toy.sh')) as f:
        script = f.read()
    assert 'make_toy_dataset.py data/toy\n' in script
    assert '--train-per-class' not in script
