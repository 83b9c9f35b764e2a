"""mmxclip: X-CLIP (ECCV 2022) as an MMAction2 1.x plugin."""
from setuptools import find_packages, setup

setup(
    name='mmxclip',
    version='0.1.0',
    description='X-CLIP video recognition for MMAction2 1.x / MMEngine',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['mmxclip', 'mmxclip.*']),
    install_requires=[
        # weights_only=True is a security boundary only from 2.6 on
        # (CVE-2025-32434); every third-party load relies on it.
        'torch>=2.6',
        'torchvision',  # open_clip imports it
        'mmengine>=0.10.7,<0.11',
        # mmaction2 1.2.0 asserts mmcv < 2.2.0; the lite build has no C++
        # ops to compile and X-CLIP needs none.
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmaction2==1.2.0',  # mmxclip.compat targets this release
        # mmaction imports it without declaring it (mmxclip.compat, fix 2)
        'importlib-metadata',
        'open_clip_torch>=2.20',  # CLIP's BPE tokenizer, offline; CLIP URLs
        'timm',  # 2D sine-cosine position table (CCTViT pos_embed_init)
        'decord>=0.6.0',
        'av',  # PyAV: tools/data/prepare_videos.py re-encodes with it
        'numpy',
        'opencv-python',
        'safetensors',
        'matplotlib',
    ],
    extras_require={
        # av: PyAV writes the single-channel (ffv1) test video
        'tests': ['pytest', 'transformers>=4.40', 'av'],
        # configs/scale/*_zero*.py (DeepSpeedStrategy); tested with 0.19.8
        'deepspeed': ['deepspeed'],
    },
)
