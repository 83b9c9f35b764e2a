"""Nothing read from a weight or checkpoint file is ever run.

Payloads (``exec``, ``eval``, ``subprocess.Popen``, ``os.system``, a
``getattr(__import__('os'), 'system')`` chain, a call of what ``eval``
returned, an object whose ``__setstate__`` runs code; see
``tests/payloads.py``)
would write a marker file when unpickled as themselves. They are planted in
an MMEngine checkpoint and fed to MMEngine's loaders (local, ``http://`` on
a localhost server, ``torchvision://``, ``open-mmlab://``), which refuse them
naming the file and the object; and planted anywhere in an official X-CLIP
training checkpoint (its config, optimizer, scheduler, nested containers)
and fed to mmxclip's weight readers (``read_weights``, ``init_xclip``,
``clip://``, ``tools/convert_weights.py``), which read the weights and keep
the payload inert, or refuse it where torch refuses it outright. Also with
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``. Config text in a checkpoint, and
TorchScript archives, are read without running them.
"""
import functools
import http.server
import os
import pickle
import threading
import zipfile

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint
from reliability_utils import LoggedMessages

from mmxclip.apis import init_xclip
from mmxclip.weights import read_weights
from payloads import (FIRST_GLOBAL, PAYLOADS, REFUSED_EVEN_INERT, Exec,
                      planted_official, ran)
from weight_files import OFFICIAL, assert_official_logits, load_tool

NAMES = ['a', 'b', 'c', 'd', 'e']


@pytest.fixture
def marker(tmp_path):
    return str(tmp_path / 'PWNED')


@pytest.fixture(params=[False, True], ids=['default', 'force_no_wo'])
def env(request, monkeypatch):
    """Also with the environment variable that turns torch's default off."""
    if request.param:
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


def _mmengine_checkpoint(path, payload):
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.ones(8, 3, 4,
                                                                    4)},
                    meta=dict(epoch=1, x=[{'y': (payload, )}])), path)
    return str(path)


@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_payloads_are_live(tmp_path, marker, kind):
    """Each plant really runs code when unpickled without weights_only."""
    path = _mmengine_checkpoint(tmp_path / 'x.pth', PAYLOADS[kind](marker))
    torch.load(path, weights_only=False)
    assert ran(marker, kind)


@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_mmengine_local_scheme_refuses(tmp_path, marker, env, kind):
    """``load_from``, ``--resume``, ``tools/test.py CONFIG CKPT``."""
    path = _mmengine_checkpoint(tmp_path / 'epoch_1.pth',
                                PAYLOADS[kind](marker))
    with pytest.raises(pickle.UnpicklingError) as info:
        CheckpointLoader.load_checkpoint(path)
    assert str(info.value).startswith(f'{path}: refused to unpickle: ')
    assert FIRST_GLOBAL[kind] in str(info.value)
    assert not ran(marker, kind)


@pytest.fixture
def http_root(tmp_path, monkeypatch):
    """Serve ``tmp_path/www`` on localhost; torch hub caches in tmp."""
    www = tmp_path / 'www'
    www.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(www))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


@pytest.mark.parametrize('scheme,kind', [('http', k) for k in sorted(
    PAYLOADS)] + [('torchvision', 'exec'), ('open-mmlab', 'exec')])
def test_mmengine_url_schemes_refuse(http_root, marker, monkeypatch, scheme,
                                     kind):
    """MMEngine's stock http loader would unpickle anything (torch hub's
    ``weights_only`` defaults to False); ``torchvision://`` and
    ``open-mmlab://`` download through it (their URL tables point here)."""
    www, url = http_root
    _mmengine_checkpoint(www / f'{kind}.pth', PAYLOADS[kind](marker))
    file_url = f'{url}/{kind}.pth'
    monkeypatch.setattr(mmengine_checkpoint, 'get_torchvision_models',
                        lambda: {'evil': file_url})
    monkeypatch.setattr(mmengine_checkpoint, 'get_external_models',
                        lambda: {'evil': file_url})
    name = file_url if scheme == 'http' else f'{scheme}://evil'
    with pytest.raises(pickle.UnpicklingError,
                       match=f'{file_url}: refused to unpickle: .*'
                       f'{FIRST_GLOBAL[kind]}'):
        CheckpointLoader.load_checkpoint(name)
    assert not ran(marker, kind)


def test_http_scheme_loads_mmengine_checkpoints(http_root):
    """...and still reads a real MMEngine checkpoint with its
    HistoryBuffer."""
    www, url = http_root
    buffer = HistoryBuffer()
    buffer.update(1.5)
    save_checkpoint(dict(state_dict={'w': torch.ones(2)},
                         message_hub=dict(log_scalars={'loss': buffer})),
                    str(www / 'good.pth'))
    good = CheckpointLoader.load_checkpoint(f'{url}/good.pth')
    assert good['message_hub']['log_scalars']['loss'].current() == 1.5


@pytest.mark.parametrize('where', ['config', 'optimizer', 'lr_scheduler',
                                   'nested'])
@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_weight_reader_keeps_plants_inert(tmp_path, marker, kind, where):
    """Anywhere in an official training checkpoint, a plant is never run:
    ``exec``, ``eval``, ``Popen`` become inert records (named in the
    warning) and the weights load; what torch refuses outright is
    refused, naming the file."""
    path = planted_official(str(tmp_path / 'ckpt.pth'),
                            PAYLOADS[kind](marker), where)
    if kind in REFUSED_EVEN_INERT:
        with pytest.raises(pickle.UnpicklingError) as info:
            read_weights(path)
        assert str(info.value).startswith(f'{path}: refused to unpickle: ')
        assert REFUSED_EVEN_INERT[kind] in str(info.value)
    else:
        weights = read_weights(path)
        assert weights.format == 'official'
    assert not ran(marker, kind)


@pytest.mark.parametrize('kind', sorted(set(PAYLOADS) -
                                        set(REFUSED_EVEN_INERT)))
def test_every_weight_loader_keeps_plants_inert(tmp_path, marker, env, kind):
    """``init_xclip``, ``clip://`` and ``tools/convert_weights.py`` on a
    planted official checkpoint: the official model's logits, no code."""
    path = planted_official(str(tmp_path / 'ckpt.pth'),
                            PAYLOADS[kind](marker), 'nested')
    assert_official_logits(init_xclip(path, NAMES))
    ckpt = CheckpointLoader.load_checkpoint(f'clip://{path}')
    assert ckpt['meta']['format'] == 'official'
    out = str(tmp_path / 'converted.pth')
    load_tool('convert_weights.py').main(
        ['--src-format', 'official', path, out, '--class-names', 'none.txt'])
    assert_official_logits(init_xclip(out, NAMES))
    assert not ran(marker, kind)


def _xclip_checkpoint(tmp_path, cfg_text):
    """An mmxclip checkpoint of the official fixture whose ``meta['cfg']``
    (the config text MMEngine stores) is ``cfg_text``."""
    weights = read_weights(OFFICIAL)
    path = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=weights.state_dict,
                    meta=dict(cfg=cfg_text, class_names=NAMES)), path)
    return path, weights.model_config(NAMES)


def test_config_text_in_checkpoint_is_not_run(tmp_path, marker):
    """A weights_only-clean file whose ``meta['cfg']`` runs a command,
    followed by a valid model config: MMEngine would run it; mmxclip reads
    it as literals, refuses it naming line and construct, and infers the
    model from the tensors."""
    path, model_cfg = _xclip_checkpoint(tmp_path, '')
    text = (f"_x = __import__('os').system('echo pwned > {marker}')\n"
            f'model = {model_cfg!r}\n')
    path, _ = _xclip_checkpoint(tmp_path, text)
    Config.fromstring(text, '.py')  # the hole: MMEngine runs it
    assert ran(marker, 'system')
    os.remove(marker)
    with LoggedMessages() as logged:
        model = init_xclip(path)
    assert any(m.startswith(f"{path}: meta['cfg']: line 1: refused a call: "
                            '"__import__(\'os\').system(') and
               'the architecture is inferred from the tensors' in m
               for m in logged), logged
    assert_official_logits(model)
    assert not ran(marker, 'system')


def test_literal_config_text_in_checkpoint_is_used(tmp_path):
    """Config text as MMEngine writes it (``pretty_text``) gives the model:
    here a cls_head setting the tensors cannot tell."""
    _, model_cfg = _xclip_checkpoint(tmp_path, '')
    model_cfg['cls_head']['average_clips'] = 'score'
    path, _ = _xclip_checkpoint(tmp_path,
                                Config(dict(model=model_cfg)).pretty_text)
    model = init_xclip(path)
    assert model.cls_head.average_clips == 'score'
    assert_official_logits(model)


def test_resume_config_text_is_not_run(tmp_path, marker):
    """MMEngine's ``Runner.resume`` runs ``Config.fromstring(meta['config'])``
    (mmcv 1.x's key); the local loader refuses code there and leaves only
    the ``gpu_ids`` line resume reads, so ``_base_`` / ``custom_imports``
    of literal text cannot act either."""
    evil = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=dict(
        config=f"import os\nos.system('echo pwned > {marker}')\n")), evil)
    with pytest.raises(ValueError, match=f"{evil}: meta\\['config'\\]: line "
                       '1: refused a statement \\(Import\\)'):
        CheckpointLoader.load_checkpoint(evil)
    legacy = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict={}, meta=dict(config=(
        "_base_ = ['/tmp/other.py']\ncustom_imports = dict(imports=['x'])\n"
        'gpu_ids = [0, 1]\n'))), legacy)
    meta = CheckpointLoader.load_checkpoint(legacy)['meta']
    assert meta['config'] == 'gpu_ids = [0, 1]\n'
    assert not ran(marker, 'system')


def test_torchscript_code_is_never_run(tmp_path, capfd):
    """``torch.jit.load`` runs an archive's TorchScript (here a
    ``__setstate__`` that prints); reading its weights does not."""

    class Module(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(2))

        def forward(self, x):
            return x * self.weight

        @torch.jit.export
        def __getstate__(self):
            return (self.weight, self.training)

        @torch.jit.export
        def __setstate__(self, state):
            print('CODE FROM THE ARCHIVE RAN')
            self.weight = state[0]
            self.training = state[1]

    path = str(tmp_path / 'ViT-evil.pt')
    torch.jit.save(torch.jit.script(Module()), path)
    capfd.readouterr()
    torch.jit.load(path)
    assert 'CODE FROM THE ARCHIVE RAN' in capfd.readouterr().out
    with pytest.raises(ValueError, match=f"{path}: a TorchScript archive "
                       "without CLIP's keys"):
        read_weights(path)
    assert 'CODE FROM THE ARCHIVE RAN' not in capfd.readouterr().out


def test_planted_torchscript_archive(tmp_path, marker):
    """A TorchScript-looking archive with a plant in ``data.pkl`` and in
    ``constants.pkl`` (which is never read)."""
    path = str(tmp_path / 'ViT-B-16.pt')
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('ViT-B-16/data.pkl', pickle.dumps(Exec(marker),
                                                      protocol=2))
        zf.writestr('ViT-B-16/constants.pkl', pickle.dumps(
            (Exec(marker), ), protocol=2))
        zf.writestr('ViT-B-16/version', '3\n')
    for load in (read_weights, lambda p: init_xclip(p, NAMES),
                 lambda p: CheckpointLoader.load_checkpoint(f'clip://{p}')):
        with pytest.raises(ValueError, match=f'{path}: holds an object '
                           'named builtins.exec '):
            load(path)
    assert not ran(marker, 'exec')


def test_results_dump_is_read_as_data(tmp_path, marker, capsys):
    """``tools/analysis/toy_accuracy.py`` reads the pickle ``tools/test.py
    --dump`` writes (MMEngine's DumpResults) as data: results load, a plant
    is refused."""
    from mmengine.evaluator import DumpResults

    def dump(path, extra):
        metric = DumpResults(out_file_path=path)
        metric.process(None, [dict(pred_score=torch.eye(8)[i],
                                   gt_label=torch.tensor(i), **extra)
                              for i in range(8)])
        metric.compute_metrics(metric.results)
        return path

    tool = load_tool('analysis/toy_accuracy.py')
    tool.main([dump(str(tmp_path / 'preds.pkl'), {})])
    assert 'top-1 100.0%' in capsys.readouterr().out
    evil = dump(str(tmp_path / 'evil.pkl'), dict(x=Exec(marker)))
    with pytest.raises(pickle.UnpicklingError, match=f'{evil}: refused to '
                       'unpickle: Unsupported global: GLOBAL exec'):
        tool.main([evil])
    assert not ran(marker, 'exec')


def test_model_config_in_checkpoint_must_be_data(tmp_path, marker):
    """``meta['model_cfg']`` holding anything but plain data (here what a
    planted call became) is refused, not built."""
    weights = read_weights(OFFICIAL)
    cfg = weights.model_config(NAMES)
    cfg['backbone']['init_cfg'] = Exec(marker)
    path = str(tmp_path / 'converted.pth')
    torch.save(dict(state_dict=weights.state_dict,
                    meta=dict(model_cfg=cfg, class_names=NAMES)), path)
    with pytest.raises(ValueError, match=f"{path}: meta\\['model_cfg'\\] is a "
                       'dict that is not plain data'):
        init_xclip(path)
    assert not ran(marker, 'exec')
