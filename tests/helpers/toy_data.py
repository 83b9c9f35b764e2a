"""Tiny generated video datasets for the tests (mmxclip.datasets.toy)."""
import os.path as osp

from mmxclip.datasets.toy import make_toy_dataset


def make_videos(out_dir, train_per_class: int = 1,
                val_per_class: int = 1) -> dict:
    """A toy dataset in ``out_dir``: 8 classes, 16 frames of 32 x 32.

    Returns:
        dict: ``root``, ``ann_file`` (train list), ``val_ann_file``,
        ``data_prefix`` (video folder) and ``class_file``.
    """
    info = make_toy_dataset(
        str(out_dir), num_train_per_class=train_per_class,
        num_val_per_class=val_per_class)
    return dict(
        root=str(out_dir),
        ann_file=info['ann_files']['train'],
        val_ann_file=info['ann_files']['val'],
        data_prefix=info['data_prefix'],
        class_file=osp.join(str(out_dir), 'classes.txt'))
