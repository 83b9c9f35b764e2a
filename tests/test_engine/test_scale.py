"""Training past one GPU's memory (configs/scale/): FSDP and DeepSpeed ZeRO.

* Every scale config builds: model (meta device), runner, strategy, wrap
  policy, state-dict and optimizer settings, the recipe unchanged.
* On CPU over gloo, 2 processes train the toy model with the FSDP base
  strategy (and ZeRO-2 / ZeRO-3 where DeepSpeed is installed) to the losses
  and weights of 1 unsharded process, resume from their sharded checkpoint
  to the weights of the uninterrupted run, and tools/convert_weights.py
  gathers the checkpoint folder into one file.
* The gathering reader refuses incomplete folders and never runs a pickle.
"""
import glob
import os
import os.path as osp
import pickle
import shutil

import numpy as np
import pytest
import torch
from helpers.configs import load
from helpers.runs import (PYTHON, ROOT, free_port, launch, lockstep_toy_config,
                          loss_curve, make_toy_dataset, run_tool)
from helpers.weight_files import meta_build
from mmengine.config import Config

from mmxclip.engine.fsdp import FSDP_UNITS, XCLIPFSDPStrategy
from mmxclip.engine.scalar_params import frozen_scalars_to_buffers
from mmxclip.weights import load_from_local, read_weights
from mmxclip.weights.sharded import read_sharded_checkpoint

SCALE = sorted(glob.glob(osp.join(ROOT, 'configs', 'scale', '*.py')))
STRATEGIES = osp.join(ROOT, 'configs', '_base_', 'strategies')


def _name(path):
    return osp.splitext(osp.basename(path))[0]


def _base_config(path):
    """The DDP config a scale config derives from."""
    name = _name(path).rsplit('_', 1)[0]
    return Config.fromfile(osp.join(ROOT, 'configs', name + '.py'))


@pytest.mark.parametrize('path', SCALE, ids=_name)
def test_scale_config_builds_with_the_recipe(path, tmp_path):
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import FUNCTIONS, MODEL_WRAPPERS
    from torch.distributed.fsdp import StateDictType
    cfg, base = load(path, tmp_path), _base_config(path)
    assert cfg.runner_type == 'FlexibleRunner'
    for key in ('train_dataloader', 'param_scheduler', 'train_cfg'):
        assert cfg[key] == base[key], key
    assert cfg.model.backbone.with_cp == base.model.backbone.with_cp
    model = meta_build(cfg.model)
    # Neither FSDP nor DeepSpeed shards 0-d parameters: only logit_scale
    # (frozen) is one, and it becomes a buffer of the same key.
    keys = set(model.state_dict())
    assert frozen_scalars_to_buffers(model) == ['cls_head.logit_scale']
    assert set(model.state_dict()) == keys
    assert all(p.dim() > 0 for p in model.parameters())
    strategy = cfg.strategy
    if strategy.type == 'XCLIPFSDPStrategy':
        assert cfg.optim_wrapper == base.optim_wrapper
        wrapper = strategy.model_wrapper
        assert MODEL_WRAPPERS.get(wrapper.type) is not None
        policy = FUNCTIONS.get(wrapper.auto_wrap_policy)
        units = [m for m in model.modules() if policy(m, False, 0)]
        b, h = cfg.model.backbone, cfg.model.cls_head
        expected = (b.layers + h.text_cfg.layers + cfg.model.neck.layers
                    + h.prompt_cfg.layers)
        assert len(units) == expected
        assert all(isinstance(m, FSDP_UNITS) for m in units)
        bare = XCLIPFSDPStrategy.__new__(XCLIPFSDPStrategy)
        bare._init_state_dict_cfg(strategy.state_dict_cfg)
        assert bare.state_dict_type == StateDictType.SHARDED_STATE_DICT
    else:
        assert strategy.type == 'DeepSpeedStrategy'
        stage = 3 if path.endswith('_zero3.py') else 2
        assert strategy.zero_optimization.stage == stage
        assert strategy.gradient_clipping == 0.0  # DeepSpeed's default: 1
        assert strategy.gradient_accumulation_steps == \
            base.optim_wrapper.accumulative_counts
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        assert type(wrapper).__name__ == 'DeepSpeedOptimWrapper'
        plain = dict(base.optim_wrapper, type='OptimWrapper')
        plain.pop('loss_scale')
        reference = build_optim_wrapper(model, plain)
        lrs = [(len(g['params']), g['lr'], g['weight_decay'])
               for g in wrapper.optimizer.param_groups]
        assert lrs == [(len(g['params']), g['lr'], g['weight_decay'])
                       for g in reference.optimizer.param_groups]
        lr = base.optim_wrapper.optimizer.lr
        assert sorted({round(g['lr'] / lr, 6)
                       for g in wrapper.optimizer.param_groups}) == [1, 10]
    cfg.dump(str(tmp_path / 'dumped.py'))  # FlexibleRunner dumps it
    assert Config.fromfile(str(tmp_path / 'dumped.py')).strategy == strategy


# ------------------------------------------------------- 2 CPU processes
@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    return make_toy_dataset(str(tmp_path_factory.mktemp('toy')), 2, 1,
                            num_frames=8)


def _config(toy, work, kind, batch_size):
    """The lockstep toy config with SGD and momentum (AdamW turns the
    rounding noise of the exactly-zero key-bias gradients into +-lr steps)
    and a checkpoint every epoch (2 kept); ``kind``: 'plain', 'fsdp', 'zero2'
    or
    'zero3', the scale configs' base strategies."""
    cfg = lockstep_toy_config(toy['out_dir'], work, batch_size, 1)
    # Keeping 2 makes the checkpoints record which ones are kept, so a run
    # resumed with max_keep_ckpts=1 removes the outdated one.
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    cfg.optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                       weight_decay=0.05),
        constructor=cfg.optim_wrapper.constructor,
        paramwise_cfg=cfg.optim_wrapper.paramwise_cfg)
    if kind != 'plain':
        base = Config.fromfile(osp.join(
            STRATEGIES, 'fsdp.py' if kind == 'fsdp' else 'deepspeed.py'))
        # The scale leaf configs run these strategies under FlexibleRunner.
        cfg.runner_type, cfg.strategy = 'FlexibleRunner', base.strategy
    if kind.startswith('zero'):
        # fp32 on CPU, to compare with the fp32 process.
        cfg.strategy.update(bf16=None, inputs_to_half=None)
        if kind == 'zero3':
            cfg.strategy.zero_optimization = base.zero3
        cfg.optim_wrapper.type = 'DeepSpeedOptimWrapper'
    path = f'{work}.py'
    cfg.dump(path)
    return path


def _train(toy, tmp, kind, nproc, *args):
    """Train in ``tmp/<kind><nproc>``; (mean loss curve over ranks, work
    dir)."""
    work = str(tmp / f'{kind}{nproc}')
    out = launch('train.py', _config(toy, work, kind, 16 // nproc), nproc,
                 *args)
    assert out.returncode == 0, out.stderr[-3000:]
    return loss_curve(work, nproc), work


@pytest.fixture(scope='module')
def reference(toy, tmp_path_factory):
    """One unsharded process: loss curve and final weights."""
    curve, work = _train(toy, tmp_path_factory.mktemp('plain'), 'plain', 1)
    return curve, load_from_local(osp.join(work, 'epoch_2.pth'))['state_dict']


def _max_diff(a, b):
    assert set(a) == set(b)
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def _check_sharded_run(toy, tmp, kind, reference):
    """Train on 2 processes, resume, convert; the checkpoint folder."""
    ref_curve, ref_weights = reference
    curve, work = _train(toy, tmp, kind, 2)
    assert np.abs(curve - ref_curve).max() <= 1e-5 * np.abs(ref_curve).max()
    folder = osp.join(work, 'epoch_2.pth')
    assert osp.isdir(folder)
    weights = read_weights(folder, 'mmxclip')
    assert weights.format == 'mmxclip' and weights.meta['epoch'] == 2
    scale = max(v.abs().max().item() for v in ref_weights.values())
    assert _max_diff(weights.state_dict, ref_weights) <= 1e-5 * scale
    epoch1 = osp.join(work, 'epoch_1.pth')
    assert _max_diff(read_sharded_checkpoint(epoch1)[0],
                     weights.state_dict) > 1e-3  # epoch 2 moved
    # Resume from the sharded epoch 1, keeping 1 checkpoint: the weights of
    # the full run, and the outdated folder removed once epoch 2 is saved.
    _train(toy, tmp, kind, 2, '--resume', epoch1, '--cfg-options',
           'default_hooks.checkpoint.max_keep_ckpts=1')
    assert _max_diff(read_sharded_checkpoint(folder)[0],
                     weights.state_dict) <= 1e-7
    assert not osp.exists(epoch1)
    out = str(tmp / 'converted.pth')
    done = run_tool(['tools/convert_weights.py', '--src-format', 'mmxclip',
                     folder, out])
    assert done.returncode == 0, done.stderr[-3000:]
    converted = load_from_local(out)
    assert _max_diff(converted['state_dict'], weights.state_dict) == 0
    assert converted['meta']['src_format'] == 'mmxclip'
    return folder


def test_fsdp_two_processes_match_one_resume_and_convert(toy, tmp_path,
                                                         reference):
    folder = _check_sharded_run(toy, tmp_path, 'fsdp', reference)
    assert sorted(os.listdir(folder)) == ['rank0.pth', 'rank1.pth']
    # Incomplete: a rank's file is missing.
    partial = tmp_path / 'partial'
    shutil.copytree(folder, partial)
    os.remove(partial / 'rank1.pth')
    with pytest.raises(ValueError, match='saved by 2 ranks, but 1 rank'):
        read_sharded_checkpoint(str(partial))
    shutil.copy(osp.join(folder, 'rank1.pth'), partial)
    os.remove(partial / 'rank0.pth')
    with pytest.raises(ValueError, match=r'rank\(s\) \[0\] missing'):
        read_sharded_checkpoint(str(partial))


@pytest.mark.parametrize('stage', [2, 3])
def test_deepspeed_zero_match_one_resume_and_convert(toy, tmp_path,
                                                     reference, stage):
    # deepspeed is the optional `deepspeed` extra, not a test dependency;
    # docs/scale.md says these run only with it installed.
    pytest.importorskip('deepspeed')
    from deepspeed.utils.zero_to_fp32 import \
        get_fp32_state_dict_from_zero_checkpoint as deepspeed_reader
    folder = _check_sharded_run(toy, tmp_path, f'zero{stage}', reference)
    ours = read_sharded_checkpoint(folder)[0]
    theirs = deepspeed_reader(osp.dirname(folder), tag='epoch_2.pth')
    assert _max_diff(ours, {k: v.contiguous() for k, v in theirs.items()}) \
        == 0
    optim = sorted(glob.glob(osp.join(folder, '*optim_states.pt')))
    os.remove(optim[1])
    with pytest.raises(ValueError, match=f'ZeRO-{stage} over 2 ranks, but 1'):
        read_sharded_checkpoint(folder)


@pytest.mark.parametrize('stage', [2, 3])
def test_deepspeed_bf16_layout_gathered_as_deepspeed_does(tmp_path, stage):
    """bf16 writes ``bf16_*_optim_states.pt`` and 16-bit frozen weights."""
    # deepspeed is the optional `deepspeed` extra, not a test dependency;
    # docs/scale.md says these run only with it installed.
    pytest.importorskip('deepspeed')
    from deepspeed.utils.zero_to_fp32 import \
        get_fp32_state_dict_from_zero_checkpoint as deepspeed_reader
    out = run_tool([PYTHON, '-m', 'torch.distributed.run',
                    '--nproc_per_node=2', f'--master_port={free_port()}',
                    'tests/helpers/deepspeed_save.py', str(tmp_path),
                    str(stage), 'bf16'])
    assert out.returncode == 0, out.stderr[-3000:]
    folder = tmp_path / 'epoch_1.pth'
    assert glob.glob(str(folder / 'bf16_zero_pp_rank_1_*optim_states.pt'))
    ours = read_sharded_checkpoint(str(folder))[0]
    theirs = deepspeed_reader(str(tmp_path), tag='epoch_1.pth')
    assert _max_diff(ours, {k: v.contiguous() for k, v in theirs.items()}) \
        == 0
    assert ours['0.weight'].dtype == torch.bfloat16  # the frozen layer
    assert ours['1.weight'].dtype == torch.float32  # fp32 master weights


# ------------------------------------------------- reading is never running
class _Payload:
    """Runs a shell command when unpickled (if anything unpickles it)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_planted_shard_is_refused_not_run(tmp_path):
    marker = tmp_path / 'ran'
    folder = tmp_path / 'epoch_1.pth'
    folder.mkdir()
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'meta': {}},
               folder / 'rank0.pth')
    torch.save({'state_dict': {'w': torch.zeros(2)},
                'meta': {'x': _Payload(marker)}}, folder / 'rank1.pth')
    with pytest.raises(ValueError, match='rank1.pth: not a readable shard'):
        read_sharded_checkpoint(str(folder))
    assert not marker.exists()


def test_flat_local_checkpoint_refused_with_the_fix(tmp_path):
    folder = tmp_path / 'epoch_1.pth'
    folder.mkdir()
    torch.save({'state_dict': {'_fsdp_wrapped_module._flat_param':
                               torch.zeros(3)}}, folder / 'rank0.pth')
    with pytest.raises(ValueError, match="state_dict_cfg='local'"):
        read_sharded_checkpoint(str(folder))


def test_deepspeed_resume_loader_refuses_payload(tmp_path):
    # deepspeed is the optional `deepspeed` extra, not a test dependency;
    # docs/scale.md says these run only with it installed.
    pytest.importorskip('deepspeed')
    from deepspeed.runtime.checkpoint_engine import TorchCheckpointEngine
    marker = tmp_path / 'ran'
    path = tmp_path / 'zero_pp_rank_0_mp_rank_00_optim_states.pt'
    torch.save({'optimizer_state_dict': _Payload(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match=(
            f'(?s){path.name}: refused to unpickle.*GLOBAL posix.system')):
        TorchCheckpointEngine.load(None, str(path))
    assert not marker.exists()
