"""tools/data/build_dataset.py: own videos (class folders or a table) to
lists, class names and a config that tools/test.py and tools/train.py run;
every bad input a message naming the path or class, OUT not written."""
import os
import os.path as osp
import pickle
import shutil

import pytest
import torch
from helpers import ROOT
from helpers.runs import toy_config
from helpers.weight_files import load_tool
from mmengine.config import Config

from mmxclip.datasets.splits import few_shot, read_list
from mmxclip.datasets.toy import CLASSES, make_toy_dataset

BUILD = load_tool('data/build_dataset.py')
TOY = osp.join(ROOT, 'configs', 'xclip_toy.py')
# In-process runs: no dataloader workers.
NO_WORKERS = [f'{split}_dataloader.{key}={value}'
              for split in ('train', 'val', 'test')
              for key, value in (('num_workers', 0),
                                 ('persistent_workers', False))]


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """The toy videos as class folders (3 + 2 per class, the list files
    too) and a random toy checkpoint."""
    root = str(tmp_path_factory.mktemp('toy'))
    make_toy_dataset(root, 3, 2, class_folders=True)
    ckpt = osp.join(root, 'random.pth')
    load_tool('analysis/random_checkpoint.py').main([TOY, ckpt])
    return dict(root=root, src=osp.join(root, 'videos'), ckpt=ckpt)


def build(src, out, *args):
    """build_dataset.py on the toy config; its exit status."""
    return BUILD.main([str(src), str(out), '--base', TOY, *args])


def lines(path):
    with open(path, encoding='utf-8') as f:
        return f.read().splitlines()


def test_class_folders_give_lists_names_and_config(toy, tmp_path, capsys):
    out = tmp_path / 'mine'
    assert build(toy['src'], out, '--checkpoint', toy['ckpt']) == 0
    printed = capsys.readouterr().out
    names = lines(out / 'class_names.txt')
    assert names == sorted(CLASSES)  # '_' read as a space, sorted
    train, val = lines(out / 'train.txt'), lines(out / 'val.txt')
    assert len(train) + len(val) == 40 and len(val) == 8  # 1 of 5 a class
    paths = [line.rsplit(maxsplit=1)[0] for line in train + val]
    assert len(set(paths)) == 40
    for line in train + val:  # each video labelled by its own folder
        path, label = line.rsplit(maxsplit=1)
        assert path.split('/')[0].replace('_', ' ') == names[int(label)]
    assert sorted(int(v.split()[-1]) for v in val) == list(range(8))
    cfg = Config.fromfile(str(out / 'xclip_mine.py'))
    assert cfg.model.cls_head.num_classes == 8
    assert cfg.load_from == toy['ckpt']
    assert cfg.test_dataloader.dataset.ann_file == str(out / 'val.txt')
    assert cfg.train_dataloader.dataset.data_prefix.video == toy['src']
    assert cfg.custom_hooks[-1] == dict(type='ClassAccuracyHook')
    # The rule: 32 videos < 16 x 16 -> batch 2, lr 1e-3 x 2 / 16, 50 epochs
    assert (cfg.train_dataloader.batch_size, cfg.train_cfg.max_epochs,
            cfg.optim_wrapper.optimizer.lr) == (2, 50, 1e-3 * 2 / 16)
    assert cfg.auto_scale_lr.base_batch_size == 2
    assert 'circling counterclockwise' in printed and 'next:' in printed
    assert f'tools/test.py {out}/xclip_mine.py {toy["ckpt"]}' in printed


def test_table_gives_the_same_lists(toy, tmp_path):
    build(toy['src'], tmp_path / 'a')
    rows = [line.rsplit(maxsplit=1) for line in
            lines(tmp_path / 'a' / 'train.txt') +
            lines(tmp_path / 'a' / 'val.txt')]
    table = tmp_path / 'videos.csv'
    names = lines(tmp_path / 'a' / 'class_names.txt')
    table.write_text('path,label\n' + ''.join(
        f'{osp.join(toy["src"], p)},{names[int(k)]}\n'
        for p, k in sorted(rows)))
    src = tmp_path / 'src'
    shutil.copytree(toy['src'], src)
    rel = tmp_path / 'src' / 'videos.tsv'  # relative paths, tab-separated
    rel.write_text('label\tpath\n' + ''.join(
        f'{names[int(k)]}\t{p}\n' for p, k in rows))
    build(table, tmp_path / 'b')
    build(rel, tmp_path / 'c')
    for split in ('train.txt', 'val.txt'):
        ours = lines(tmp_path / 'a' / split)
        assert lines(tmp_path / 'c' / split) == ours
        assert lines(tmp_path / 'b' / split) == [
            f'{osp.join(toy["src"], p)} {k}' for p, k in
            (line.rsplit(maxsplit=1) for line in ours)]


def test_shots_reproducible_and_shared_with_make_few_shot_split(toy,
                                                                tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        build(toy['src'], tmp_path / name, '--shots', '2', '--seed',
              str(seed), '--val-ratio', '0.4')
    a, b, c = (lines(tmp_path / n / f'train_2shot_seed{s}.txt')
               for n, s in (('a', 0), ('b', 0), ('c', 1)))
    assert a == b and len(a) == 16
    assert sorted(int(x.split()[-1]) for x in a) == [
        k for k in range(8) for _ in range(2)]
    assert c != a
    assert a == few_shot(read_list(str(tmp_path / 'a' / 'train.txt')), 2, 0)
    cfg = Config.fromfile(str(tmp_path / 'a' / 'xclip_a.py'))
    assert cfg.train_dataloader.dataset.ann_file.endswith(
        'train_2shot_seed0.txt')


def test_zero_shot_test_equals_the_toy_config(toy, tmp_path, capsys):
    """tools/test.py on the built config and on configs/xclip_toy.py, same
    checkpoint and videos: the same prediction for every video (labels in
    another order), so the same top-1; plus the per-class table and the
    confusion-matrix picture."""
    test = load_tool('test.py')
    out = tmp_path / 'mine'
    build(toy['src'], out, '--checkpoint', toy['ckpt'])
    ours = str(tmp_path / 'ours.pkl')
    test.main([str(out / 'xclip_mine.py'), toy['ckpt'], '--work-dir',
               str(tmp_path / 'w1'), '--dump', ours,
               '--cfg-options', *NO_WORKERS])
    log = capsys.readouterr().out
    names = lines(out / 'class_names.txt')
    val = lines(out / 'val.txt')
    toy_list = tmp_path / 'toy_val.txt'  # the same videos, toy labels
    toy_list.write_text(''.join(
        f'{p} {CLASSES.index(names[int(k)])}\n'
        for p, k in (line.rsplit(maxsplit=1) for line in val)))
    cfg = toy_config(toy['root'], str(tmp_path / 'w2'))
    cfg.test_dataloader.dataset.ann_file = str(toy_list)
    cfg.model.cls_head.class_names = list(CLASSES)
    cfg.dump(str(tmp_path / 'toy.py'))
    theirs = str(tmp_path / 'theirs.pkl')
    test.main([str(tmp_path / 'toy.py'), toy['ckpt'], '--dump', theirs,
               '--cfg-options', *NO_WORKERS])

    def predicted(path, classes):
        with open(path, 'rb') as f:
            results = pickle.load(f)
        return [(classes[int(r['gt_label'])],
                 classes[int(r['pred_score'].argmax())]) for r in results]

    a, b = predicted(ours, names), predicted(theirs, CLASSES)
    assert a == b
    top1 = sum(t == p for t, p in a) / len(a)
    assert f'acc/top1: {top1:.4f}' in log
    assert 'acc/top5' in log and 'acc/mean1' in log
    assert 'Per-class accuracy' in log
    run_dir = [d for d in (tmp_path / 'w1').iterdir() if d.is_dir()][0]
    table = lines(run_dir / 'class_accuracy.csv')
    assert table[0] == 'label,name,videos,correct,accuracy'
    assert sum(int(r.split(',')[3]) for r in table[1:]) == sum(
        t == p for t, p in a)
    assert (run_dir / 'confusion_matrix.png').stat().st_size > 1000


def test_fine_tune_one_epoch_on_four_classes(toy, tmp_path, capsys):
    """A 4-class subset: one epoch from the checkpoint, then tools/test.py
    on what it wrote."""
    src = tmp_path / 'src'
    for name in sorted(os.listdir(toy['src']))[:4]:
        shutil.copytree(osp.join(toy['src'], name), src / name)
    out = tmp_path / 'four'
    build(src, out, '--checkpoint', toy['ckpt'])
    config = str(out / 'xclip_four.py')
    work = tmp_path / 'work'
    load_tool('train.py').main([config, '--work-dir', str(work),
                                '--no-validate', '--cfg-options',
                                'train_cfg.max_epochs=1',
                                # --no-validate removed val_dataloader
                                *NO_WORKERS[:2]])
    log = capsys.readouterr().out
    assert f'Load checkpoint from {toy["ckpt"]}' in log
    trained = str(work / 'epoch_1.pth')
    start = torch.load(toy['ckpt'], weights_only=False)['state_dict']
    end = torch.load(trained, weights_only=False)['state_dict']
    assert not torch.equal(start['neck.positional_embedding'],
                           end['neck.positional_embedding'])
    load_tool('test.py').main([config, trained, '--work-dir',
                               str(tmp_path / 'test'), '--cfg-options',
                               *NO_WORKERS])
    log = capsys.readouterr().out
    assert 'acc/top1' in log and 'Per-class accuracy' in log


# Bad input: each a message naming the path / class; OUT is not written.

@pytest.fixture
def video(toy):
    """One readable toy video."""
    name = sorted(os.listdir(toy['src']))[0]
    folder = osp.join(toy['src'], name)
    return osp.join(folder, sorted(os.listdir(folder))[0])


def make_src(tmp_path, video, classes, per_class=2):
    src = tmp_path / 'src'
    for name in classes:
        (src / name).mkdir(parents=True)
        for i in range(per_class):
            shutil.copy(video, src / name / f'{i}.mp4')
            with open(src / name / f'{i}.mp4', 'ab') as f:
                f.write(name.encode() + bytes([i]))  # distinct content
    return src


def refused(src, out, capsys, *args):
    """build_dataset.py fails with status 1; its message; OUT unwritten."""
    existed = osp.exists(out) and sorted(os.listdir(out))
    assert build(src, out, *args) == 1
    if existed is False:
        assert not osp.exists(out)
    else:
        assert sorted(os.listdir(out)) == existed
    assert not [n for n in os.listdir(osp.dirname(out))
                if n.startswith(f'.{osp.basename(out)}.')]  # no temp left
    return capsys.readouterr().err


def test_src_missing_or_empty(tmp_path, capsys):
    err = refused(tmp_path / 'nothing', tmp_path / 'out', capsys)
    assert "SRC '" + str(tmp_path / 'nothing') in err
    (tmp_path / 'empty').mkdir()
    err = refused(tmp_path / 'empty', tmp_path / 'out', capsys)
    assert 'empty' in err and str(tmp_path / 'empty') in err


def test_empty_class_folder(tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['a', 'b'])
    (src / 'c').mkdir()
    err = refused(src, tmp_path / 'out', capsys)
    assert f"class folder '{src / 'c'}' holds no file" in err


def test_class_with_one_video_and_a_val_split(tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['a', 'b'])
    os.remove(src / 'b' / '1.mp4')
    err = refused(src, tmp_path / 'out', capsys)
    assert "too small for the split" in err and "'b' (1 distinct" in err
    assert "'a'" not in err
    # Without a val split (and so no val list) it is refused too.
    err = refused(src, tmp_path / 'out', capsys, '--val-ratio', '0')
    assert 'no videos for val.txt' in err


def test_unreadable_and_non_video_files_are_listed_and_left_out(
        tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['a', 'b'], per_class=3)
    (src / 'a' / 'notes.txt').write_text('not a video')
    with open(video, 'rb') as f:
        head = f.read(2000)
    (src / 'b' / 'cut.mp4').write_bytes(head)  # truncated
    (src / 'b' / 'list.mp4').write_text('#EXTM3U\nfile:///etc/passwd\n')
    assert build(src, tmp_path / 'out') == 0
    out = capsys.readouterr().out
    assert f'unreadable, left out: {src / "a" / "notes.txt"}: refused' in out
    assert f'{src / "b" / "list.mp4"}: refused: the file is an HLS' in out
    assert f'unreadable, left out: {src / "b" / "cut.mp4"}' in out
    listed = lines(tmp_path / 'out' / 'train.txt') + lines(
        tmp_path / 'out' / 'val.txt')
    assert len(listed) == 6 and not any(
        n in line for line in listed for n in ('notes', 'cut', 'list'))


def test_duplicates_flagged_and_kept_in_one_split(tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['a', 'b'], per_class=4)
    shutil.copy(src / 'a' / '0.mp4', src / 'a' / 'copy.mp4')
    assert build(src, tmp_path / 'out') == 0
    out = capsys.readouterr().out
    assert (f'same content (kept, in one split): {src / "a" / "0.mp4"}, '
            f'{src / "a" / "copy.mp4"}') in out
    for split in ('train.txt', 'val.txt'):
        names = [line.split()[0] for line in lines(tmp_path / 'out' / split)]
        assert ('a/0.mp4' in names) == ('a/copy.mp4' in names)


def test_names_clip_reads_as_one(tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['Moving_left', 'moving_left'])
    err = refused(src, tmp_path / 'out', capsys)
    assert "'moving left'" in err and "'Moving left'" in err
    assert 'normalisation' in err


def test_name_or_text_over_77_tokens(tmp_path, video, capsys):
    long = '_'.join(['a'] * 80)
    src = make_src(tmp_path, video, ['short', long])
    err = refused(src, tmp_path / 'out', capsys)
    assert f"class name {long.replace('_', ' ')!r}" in err and '77' in err
    src2 = make_src(tmp_path / 'x', video, ['a', 'b'])
    texts = tmp_path / 'texts.yaml'
    texts.write_text('a: [an a, "' + ' '.join(['word'] * 80) + '"]\n')
    err = refused(src2, tmp_path / 'out', capsys, '--class-texts',
                  str(texts))
    assert str(texts) in err and "class 'a'" in err and '77' in err
    texts.write_text('c: [a c]\n')
    err = refused(src2, tmp_path / 'out', capsys, '--class-texts',
                  str(texts))
    assert "'c'" in err and 'not class names' in err


def test_table_rows_missing_file_or_unknown_split(tmp_path, video, capsys):
    make_src(tmp_path, video, ['a', 'b'])
    table = tmp_path / 'src' / 't.csv'
    table.write_text('path,label,split\na/0.mp4,a,train\na/1.mp4,a,val\n'
                     'b/0.mp4,b,train\nb/9.mp4,b,val\n')
    err = refused(table, tmp_path / 'out', capsys)
    assert f"{table}: row 5: file 'b/9.mp4' not found" in err
    table.write_text('path,label,split\na/0.mp4,a,train\na/1.mp4,a,valid\n')
    err = refused(table, tmp_path / 'out', capsys)
    assert f"{table}: row 3: split 'valid' is not one of" in err
    table.write_text('file,class\na/0.mp4,a\n')
    err = refused(table, tmp_path / 'out', capsys)
    assert "lacks ['label', 'path']" in err


def test_out_with_other_content(tmp_path, video, capsys):
    src = make_src(tmp_path, video, ['a', 'b'])
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'mine.txt').write_text('keep me')
    err = refused(src, out, capsys)
    assert f"OUT '{out}' exists and is not an empty folder" in err
    assert (out / 'mine.txt').read_text() == 'keep me'
    err = refused(src, src / 'out', capsys)
    assert 'inside SRC' in err
