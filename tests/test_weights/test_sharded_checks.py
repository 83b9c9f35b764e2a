"""Sharded training checkpoints convert exactly or not at all: FSDP shards
must cover every element exactly once inside the tensor; a DeepSpeed folder
without its fp32 files and a ``torch.distributed.checkpoint`` folder are
refused naming the folder and what is missing or wrong (issue 22, items 2,
6 and 9)."""
from types import SimpleNamespace

import pytest
import torch
from helpers.weight_files import load_tool, save_fsdp_ranks

from mmxclip.weights import read_weights
from mmxclip.weights.sharded import _assemble, read_sharded_checkpoint

WEIGHT = torch.arange(24.).view(6, 4)


def test_good_shards_assemble_exactly(tmp_path):
    folder = save_fsdp_ranks(str(tmp_path / 'epoch_1.pth'),
                             {'backbone.conv1.weight': WEIGHT})
    state, _ = read_sharded_checkpoint(folder)
    assert torch.equal(state['backbone.conv1.weight'], WEIGHT)


@pytest.mark.parametrize('offset,message', [
    # Rank 1's rows recorded at rank 0's: the element count still adds up.
    ([0, 0], r"rank1.pth: 'backbone.conv1.weight' shard at offsets \[0, 0\] "
     r'overlaps the one at \[0, 0\] of .*rank0.pth'),
    ([5, 0], r"rank1.pth: 'backbone.conv1.weight' shard at offsets \[5, 0\] "
     r'of shape \(3, 4\) lies outside the tensor of shape \(6, 4\)'),
    ([-1, 0], 'lies outside the tensor'),
    ([3, 1], 'lies outside the tensor'),
])
def test_bad_offsets_are_refused_by_the_tool(tmp_path, offset, message):
    folder = save_fsdp_ranks(
        str(tmp_path / 'epoch_1.pth'), {'backbone.conv1.weight': WEIGHT},
        offsets={('backbone.conv1.weight', 1): offset})
    out = tmp_path / 'out.pth'
    with pytest.raises(ValueError, match=message):
        load_tool('convert_weights.py').main(
            ['--src-format', 'mmxclip', folder, str(out)])
    assert not out.exists()


def test_a_gap_is_refused():
    """Shards that leave elements out (a rank saved fewer rows than the
    metadata's size) are refused, never filled with uninitialised memory."""
    def shard(row, rows):
        return ('rank0.pth', SimpleNamespace(
            tensor=torch.ones(rows, 4), metadata=SimpleNamespace(
                shard_offsets=[row, 0], shard_sizes=[rows, 4])))

    with pytest.raises(ValueError, match="the shards of 'w' leave 8 of its "
                       '24 elements uncovered'):
        _assemble('w', (6, 4), [shard(0, 2), shard(4, 2)])


def test_deepspeed_folder_without_optimizer_files(tmp_path):
    folder = tmp_path / 'epoch_1.pth'
    folder.mkdir()
    torch.save(dict(module={}, buffer_names=[], param_shapes=[]),
               folder / 'mp_rank_00_model_states.pt')
    with pytest.raises(ValueError, match=f'{folder}: no \\*_optim_states.pt '
                       r'\(the fp32 weights\) files in it'):
        read_weights(str(folder))


def test_distcp_folder_is_refused_unread(tmp_path, monkeypatch):
    """A folder ``torch.distributed.checkpoint`` wrote: refused as such,
    with torch's conversion command; its pickle is never opened."""
    import torch.distributed.checkpoint as dcp
    folder = tmp_path / 'step_100'
    dcp.save({'w': WEIGHT}, checkpoint_id=str(folder))
    assert (folder / '.metadata').is_file()
    opened = []
    real_open = open

    def watch(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr('builtins.open', watch)
    with pytest.raises(ValueError, match=f'{folder}: a torch.distributed.'
                       'checkpoint folder .* never unpickles.* '
                       'dcp_to_torch'):
        read_weights(str(folder))
    monkeypatch.undo()
    assert not [p for p in opened if p.startswith(str(folder))]


@pytest.mark.parametrize('name', ['model.py', 'folder'])
def test_convert_output_that_would_be_lost(tmp_path, capsys, name):
    """``convert_weights.py SRC OUT.py`` would overwrite the checkpoint with
    its own config; a folder as OUT is no file: both refused up front."""
    src = save_fsdp_ranks(str(tmp_path / 'e.pth'), {'w': WEIGHT})
    (tmp_path / 'folder').mkdir()
    with pytest.raises(SystemExit) as exit_:
        load_tool('convert_weights.py').main(
            ['--src-format', 'mmxclip', src, str(tmp_path / name)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f'output {tmp_path / name}' in err
    assert not (tmp_path / 'model.py').exists()
