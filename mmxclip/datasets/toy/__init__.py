"""The synthetic motion-only video dataset (8 classes that only the
temporal order tells apart), rendered for X-CLIP experiments and the tests;
``tools/data/make_toy_dataset.py`` is its command line."""
from .generate import (LONG_TRUTH, LONG_VIDEO, TRAIN_PER_CLASS, VAL_PER_CLASS,
                       make_long_video, make_toy_dataset)
from .render import render_video, write_video
from .spec import (CLASSES, SHAPES, VideoSpec, make_video_spec, paired_label,
                   sample_video_spec)

__all__ = [
    'CLASSES', 'LONG_TRUTH', 'LONG_VIDEO', 'SHAPES', 'TRAIN_PER_CLASS',
    'VAL_PER_CLASS', 'VideoSpec', 'make_long_video', 'make_toy_dataset',
    'make_video_spec', 'paired_label', 'render_video', 'sample_video_spec',
    'write_video'
]
