"""Weights from strangers never run code; MMEngine checkpoints still load.

A planted pickle whose ``__reduce__`` would write a marker file is refused
by every loading path: MMEngine's local scheme (``load_from``, ``--resume``,
``tools/test.py``), ``http(s)://``, ``clip://``, mmxclip's format reader and
``init_xclip`` (official ``.pth``, HF ``pytorch_model.bin``, a fake
TorchScript archive), also with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``.
"""
import functools
import http.server
import json
import os
import pickle
import threading
import zipfile

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint

from mmxclip.apis import init_xclip
from mmxclip.weights.formats import read_weights


class Payload:
    """Unpickling this runs ``exec`` and writes ``marker``."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f'open({self.marker!r}, "w").write("pwned")', ))


def _state_dict():
    return {'backbone.conv1.weight': torch.zeros(8, 3, 4, 4)}


@pytest.fixture
def planted(tmp_path):
    """Weight files of every format, each carrying the payload."""
    marker = str(tmp_path / 'PWNED')
    payload = Payload(marker)
    files = {}
    files['mmengine'] = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=_state_dict(), meta=dict(x=payload)),
               files['mmengine'])
    files['official'] = str(tmp_path / 'k400_32_8.pth')
    torch.save(dict(model={'visual.proj': torch.zeros(4, 4)}, x=payload),
               files['official'])
    hf = tmp_path / 'hf'
    hf.mkdir()
    (hf / 'config.json').write_text(json.dumps(dict(model_type='xclip')))
    torch.save({'logit_scale': torch.zeros(()), 'x': payload},
               hf / 'pytorch_model.bin')
    files['hf'] = str(hf)
    files['torchscript'] = str(tmp_path / 'ViT-B-16.pt')
    with zipfile.ZipFile(files['torchscript'], 'w') as zf:
        zf.writestr('ViT-B-16/data.pkl', pickle.dumps(payload, protocol=2))
        zf.writestr('ViT-B-16/constants.pkl', pickle.dumps((), protocol=2))
        zf.writestr('ViT-B-16/version', '3\n')
    return marker, files


@pytest.fixture(params=[False, True], ids=['default', 'force_no_wo'])
def env(request, monkeypatch):
    """Also with the environment variable that turns torch's default off."""
    if request.param:
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


def test_payload_is_live(planted):
    """The plant really runs code when unpickled without weights_only."""
    marker, files = planted
    torch.load(files['mmengine'], weights_only=False)
    assert open(marker).read() == 'pwned'


def test_mmengine_scheme_refuses(planted, env):
    marker, files = planted
    with pytest.raises(pickle.UnpicklingError) as info:
        CheckpointLoader.load_checkpoint(files['mmengine'])
    assert str(info.value).startswith(
        f"{files['mmengine']}: refused to unpickle (WeightsUnpickler error: "
        'Unsupported global: GLOBAL exec')
    assert not os.path.exists(marker)


@pytest.mark.parametrize('fmt', ['mmengine', 'official', 'hf',
                                 'torchscript'])
def test_weight_readers_refuse(planted, env, fmt):
    marker, files = planted
    with pytest.raises(Exception) as info:
        read_weights(files[fmt])
    with pytest.raises(Exception):
        init_xclip(files[fmt], class_names=['a', 'b'])
    with pytest.raises(Exception):
        CheckpointLoader.load_checkpoint('clip://' + files[fmt])
    assert not os.path.exists(marker)
    if fmt != 'torchscript':
        assert str(info.value).startswith(f'{files[fmt]}')
        assert 'refused to unpickle' in str(info.value)


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


def test_http_scheme_refuses_code_and_loads_mmengine_checkpoints(
        planted, http_root):
    """MMEngine's stock http loader would unpickle anything (torch hub's
    ``weights_only`` defaults to False); mmxclip's refuses the plant and
    still reads a real MMEngine checkpoint with its HistoryBuffer."""
    marker, files = planted
    www, url = http_root
    os.replace(files['mmengine'], www / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError,
                       match=f'{url}/evil.pth: refused to unpickle'):
        CheckpointLoader.load_checkpoint(f'{url}/evil.pth')
    assert not os.path.exists(marker)
    buffer = HistoryBuffer()
    buffer.update(1.5)
    save_checkpoint(dict(state_dict=_state_dict(),
                         message_hub=dict(log_scalars={'loss': buffer})),
                    str(www / 'good.pth'))
    good = CheckpointLoader.load_checkpoint(f'{url}/good.pth')
    assert good['message_hub']['log_scalars']['loss'].current() == 1.5
