import os
import sys

import pytest
import torch
from mmaction.utils import register_all_modules

import mmxclip  # noqa: F401  (stack fixes first, then the registries)

sys.path.insert(0, os.path.dirname(__file__))
register_all_modules(init_default_scope=True)


@pytest.fixture
def one_thread():
    """One intra-op thread for a run in this process, as the tools' runs
    get (OMP_NUM_THREADS=1 in helpers.runs.run_tool): the dataloader
    workers share the cores; with two threads on 2 shared cores a toy
    epoch took 2.7x as long."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
