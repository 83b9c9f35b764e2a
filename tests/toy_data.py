"""Tiny generated video datasets for the tests (tools/data/make_toy_dataset.py)."""
import importlib.util
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def toy_generator():
    """tools/data/make_toy_dataset.py as a module (registered once)."""
    name = 'make_toy_dataset'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, osp.join(ROOT, 'tools', 'data', 'make_toy_dataset.py'))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses need the module registered
        spec.loader.exec_module(module)
    return sys.modules[name]


def make_videos(out_dir, train_per_class: int = 1,
                val_per_class: int = 1) -> dict:
    """A toy dataset in ``out_dir``: 8 classes, 16 frames of 32 x 32.

    Returns:
        dict: ``root``, ``ann_file`` (train list), ``val_ann_file``,
        ``data_prefix`` (video folder) and ``class_file``.
    """
    info = toy_generator().make_toy_dataset(
        str(out_dir), num_train_per_class=train_per_class,
        num_val_per_class=val_per_class)
    return dict(
        root=str(out_dir),
        ann_file=info['ann_files']['train'],
        val_ann_file=info['ann_files']['val'],
        data_prefix=info['data_prefix'],
        class_file=osp.join(str(out_dir), 'classes.txt'))
