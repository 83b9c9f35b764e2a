"""mmxclip: X-CLIP (ECCV 2022) as an MMAction2 1.x plugin."""
import os.path as osp
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

# Run by Python's ``site`` at every start-up: repairs ``import
# mmaction.models`` for any entry point (see _mmxclip_startup.py).
# One line (site runs each line of a .pth that starts with ``import``). An
# editable install whose source tree was moved or deleted has no
# _mmxclip_startup to import: then one line says so, not a traceback at
# every interpreter start.
STARTUP_PTH = 'mmxclip-startup.pth'
STARTUP_LINE = (
    "import os, sys, importlib.util as u; "
    "s = u.find_spec('_mmxclip_startup'); "
    "(s and os.path.isfile(s.origin or '') and "
    "__import__('_mmxclip_startup').install()) or sys.stderr.write("
    "'mmxclip-startup.pth: _mmxclip_startup.py is not there (an editable "
    "install whose source tree moved?); reinstall mmxclip or pip uninstall "
    "mmxclip\\n')\n")


class BuildPyWithStartupPth(build_py):
    """``build_py`` that also writes :data:`STARTUP_PTH` at the top of the
    wheel, which pip installs into site-packages.

    setuptools has no option for a ``.pth`` file. A normal wheel is made of
    ``build_lib``; an editable one (PEP 660, ``pip install -e .``) of the
    unpacked-wheel folder that setuptools sets as ``install``'s
    ``install_lib`` (its ``build_lib`` is then a discarded scratch folder).
    """

    def run(self) -> None:
        super().run()
        root = (self.get_finalized_command('install').install_lib
                if self.editable_mode else self.build_lib)
        with open(osp.join(root, STARTUP_PTH), 'w') as f:
            f.write(STARTUP_LINE)


setup(
    name='mmxclip',
    version='0.1.0',
    description='X-CLIP video recognition for MMAction2 1.x / MMEngine',
    license='Apache-2.0',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.9',
    packages=find_packages(include=['mmxclip', 'mmxclip.*']),
    package_data={'mmxclip.apis': ['demo_page.html']},
    py_modules=['_mmxclip_startup'],
    cmdclass={'build_py': BuildPyWithStartupPth},
    install_requires=[
        # weights_only=True is a security boundary only from 2.6 on
        # (CVE-2025-32434); every third-party load relies on it.
        'torch>=2.6',
        'torchvision',  # open_clip imports it
        # mmxclip overrides or reads private MMEngine API (each place says
        # so: grep 'Private MMEngine API'): the hooks' checkpoint saving,
        # Runner's resume and randomness state, the optimizer wrapper's
        # accumulation count, the FSDP / DeepSpeed strategies, the file
        # backend and checkpoint-scheme tables, the FLOP handle table.
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
        # av: PyAV writes the single-channel (ffv1) test video;
        # setuptools >= 70.1 builds wheels without the `wheel` package
        # (tests/test_compat.py builds mmxclip's, offline).
        # onnx + onnxscript: torch.onnx's dynamo exporter (tools/export.py);
        # onnxruntime runs the export in tests/test_deploy/test_onnx_export.py. The demo
        # page's web stack; httpx2 is Starlette's test client, playwright
        # drives Debian's Chromium in the browser test. flake8 and isort
        # (configured in setup.cfg) run first in the README's test command.
        'tests': [
            'pytest', 'transformers>=4.40', 'av', 'setuptools>=70.1', 'onnx',
            'onnxscript', 'onnxruntime', 'starlette>=0.40', 'uvicorn>=0.22',
            'python-multipart>=0.0.13', 'httpx2', 'playwright', 'flake8',
            'isort'
        ],
        # tools/export.py: onnxruntime checks the file written and
        # quantises --precision int8.
        'export': ['onnx', 'onnxscript', 'onnxruntime'],
        # tools/demo_app.py: Starlette (ASGI), uvicorn (0.22: a graceful
        # shutdown timeout), python-multipart's streaming parser (0.0.13:
        # imported as python_multipart).
        'demo':
        ['starlette>=0.40', 'uvicorn>=0.22', 'python-multipart>=0.0.13'],
        # configs/scale/*_zero*.py (DeepSpeedStrategy); tested with 0.19.8
        'deepspeed': ['deepspeed'],
    },
)
