"""Nothing read from a weight or checkpoint file is ever run.

The strict policy's allowlist is checked name by name. Payloads (``exec``,
``eval``, ``__import__``, ``subprocess.Popen``, ``os.system``, a
``getattr(__import__('os'), 'system')`` chain, a call of what ``eval``
returned, an object whose ``__setstate__`` runs code; see
``tests/helpers/payloads.py``) would write a marker file when unpickled as
themselves. They are planted inside nested containers of an MMEngine
checkpoint (``meta``, ``optimizer``, ``state_dict``, ``message_hub``) and
fed to every MMEngine loader (local: ``CheckpointLoader``, ``load_from``,
``--resume``; ``http://`` on a localhost server, ``torchvision://``,
``open-mmlab://`` with URL and local entries, ``mmcls://``), which refuse
them naming the file and the global; and planted anywhere in an official
X-CLIP training checkpoint (its config, optimizer, scheduler, nested
containers) and fed to mmxclip's weight readers (``read_weights``,
``init_xclip``, ``clip://``, ``tools/convert_weights.py``), which read the
weights and keep the payload inert (the warning names the file and the
global), or refuse it, naming both, where torch refuses it outright. Also
with ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``. Config text in a checkpoint,
and TorchScript archives, are read without running them.
"""
import builtins
import functools
import http.server
import os
import pickle
import threading
import zipfile

import numpy as np
import pytest
import torch
from helpers.payloads import (FIRST_GLOBAL, INERT_NAME, PAYLOADS,
                              REFUSED_EVEN_INERT, Exec, forget_imports,
                              planted_official, ran)
from helpers.runs import LoggedMessages
from helpers.weight_files import OFFICIAL, assert_official_logits, load_tool
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader, save_checkpoint

from mmxclip.apis import init_xclip
from mmxclip.engine.runner import SafeRunner
from mmxclip.weights import allowlist, read_weights

NAMES = ['a', 'b', 'c', 'd', 'e']


@pytest.fixture
def marker(tmp_path):
    path = str(tmp_path / 'PWNED')
    yield path
    forget_imports(path)


@pytest.fixture(params=[False, True], ids=['default', 'force_no_wo'])
def env(request, monkeypatch):
    """Also with the environment variable that turns torch's default off."""
    if request.param:
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')


# What the strict policy adds to torch's own allowlist: MMEngine's types, the
# numpy types np.save writes, the getattr of MMEngine's HistoryBuffer
# statistics (restricted), the classes of FSDP's sharded checkpoints. The
# numpy 2 dtype classes (numpy.dtypes.*DType) come on top, one per dtype.
MMXCLIP_ALLOWED = {
    'builtins.getattr',
    'mmengine.config.config.ConfigDict',
    'mmengine.logging.history_buffer.HistoryBuffer',
    'numpy._core.multiarray._reconstruct', 'numpy._core.multiarray.scalar',
    'numpy.dtype', 'numpy.ndarray',
    'torch.distributed._shard.metadata.ShardMetadata',
    'torch.distributed._shard.sharded_tensor.api.ShardedTensor',
    'torch.distributed._shard.sharded_tensor.api.ShardedTensor.'
    'ProcessGroupState',
    'torch.distributed._shard.sharded_tensor.metadata.MEM_FORMAT_ENCODING',
    'torch.distributed._shard.sharded_tensor.metadata.ShardedTensorMetadata',
    'torch.distributed._shard.sharded_tensor.metadata.TensorProperties',
    'torch.distributed._shard.sharded_tensor.shard.Shard',
    'torch.distributed._shard.sharding_spec.api.EnumerableShardingSpec',
    'torch.distributed._shard.sharding_spec.chunk_sharding_spec.'
    'ChunkShardingSpec',
    'torch.distributed.remote_device._remote_device',
}
# What torch's own modules add process-wide when imported (DTensor,
# device meshes, nested tensors, c10d's exceptions), besides the builtin
# exception classes.
TORCH_REGISTERED = {
    'torch._dynamo.decorators._DimRange',
    'torch.distributed._mesh_layout._FlatLayout',
    'torch.distributed._mesh_layout._MeshLayout',
    'torch.distributed._serialization._Entry',
    'torch.distributed.device_mesh.DeviceMesh',
    'torch.distributed.tensor.DTensor',
    'torch.distributed.tensor._dtensor_spec.DTensorSpec',
    'torch.distributed.tensor._dtensor_spec.ShardOrderEntry',
    'torch.distributed.tensor._dtensor_spec.TensorMeta',
    'torch.distributed.tensor.placement_types.Partial',
    'torch.distributed.tensor.placement_types.Replicate',
    'torch.distributed.tensor.placement_types.Shard',
    'torch.distributed.tensor.placement_types._StridedShard',
    'torch.nested._internal.nested_tensor.NestedTensor',
    'torch.nested._internal.nested_tensor._rebuild_njt',
    'traceback.FrameSummary', 'traceback.StackSummary',
}
# The non-torch names of torch's built-in allowlist.
TORCH_DEFAULT_OTHERS = {'_codecs.encode', 'builtins.bytearray',
                        'builtins.complex', 'builtins.set',
                        'collections.Counter', 'collections.OrderedDict'}


def _is_builtin_exception(name: str) -> bool:
    obj = getattr(builtins, name[len('builtins.'):], None) \
        if name.startswith('builtins.') else None
    return isinstance(obj, type) and issubclass(obj, BaseException)


def test_strict_allowlist_is_exact():
    """Every global the strict policy creates, by full name: torch's own
    list, what torch's modules register, and exactly mmxclip's additions;
    ``builtins.getattr`` is the restricted one."""
    from torch import _weights_only_unpickler as unpickler
    defaults = set(unpickler._get_allowed_globals())
    assert all(n.startswith('torch.') or n in TORCH_DEFAULT_OTHERS
               for n in defaults), sorted(defaults)
    registered = set(unpickler._get_user_allowed_globals())
    assert not {n for n in registered - TORCH_REGISTERED
                if not _is_builtin_exception(n)}
    dtypes = {n for n in allowlist.allowed_names()
              if n.startswith('numpy.dtypes.')}
    assert len(dtypes) > 20 and all(
        issubclass(getattr(np.dtypes, n.rsplit('.', 1)[1]), np.dtype)
        for n in dtypes)
    assert allowlist.allowed_names() == (defaults | registered
                                         | MMXCLIP_ALLOWED | dtypes)
    with torch.serialization.safe_globals(allowlist.mmengine_safe_globals()):
        created = unpickler._get_user_allowed_globals()
    assert created['builtins.getattr'] is allowlist.restricted_getattr
    # Beside classes, only these three functions.
    functions = {n for n, obj in created.items()
                 if n not in registered and not isinstance(obj, type)}
    assert functions == {'builtins.getattr',
                         'numpy._core.multiarray._reconstruct',
                         'numpy._core.multiarray.scalar'}


@pytest.mark.parametrize('obj,name', [
    (HistoryBuffer, 'mean'), (HistoryBuffer, 'current'),
    (np.dtypes, 'Float32DType')])
def test_restricted_getattr_allows_mmengine_uses(obj, name):
    assert allowlist.restricted_getattr(obj, name) is getattr(obj, name)


@pytest.mark.parametrize('obj,name', [
    (HistoryBuffer, '__init__'), (HistoryBuffer, 'update'), (os, 'system'),
    (np.dtypes, '__builtins__'), (np, 'load'), (torch, 'load'),
    (HistoryBuffer, 0)])
def test_restricted_getattr_refuses_the_rest(obj, name):
    with pytest.raises(pickle.UnpicklingError,
                       match=f'checkpoint asks for getattr.*{name!r}'):
        allowlist.restricted_getattr(obj, name)


# Where a payload is planted in an MMEngine checkpoint: nested containers.
STRICT_WHERE = ('meta', 'optimizer', 'state_dict', 'message_hub')


def _mmengine_checkpoint(path, payload, where='meta'):
    """A checkpoint as MMEngine writes it, with ``payload`` planted."""
    ckpt = dict(state_dict={'fc.weight': torch.ones(2, 2)},
                meta=dict(epoch=1, iter=1),
                optimizer=dict(state={0: dict(step=torch.tensor(1.))},
                               param_groups=[dict(lr=0.1, params=[0])]),
                message_hub=dict(log_scalars={}, runtime_info={}))
    if where == 'meta':
        ckpt['meta']['x'] = [{'y': (payload, )}]
    elif where == 'optimizer':
        ckpt['optimizer']['state'][0]['exp_avg'] = [payload]
    elif where == 'state_dict':
        ckpt['state_dict']['fc.bias'] = (payload, )
    else:
        ckpt['message_hub']['runtime_info']['cfg'] = {'a': [payload]}
    torch.save(ckpt, path)
    return str(path)


@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_payloads_are_live(tmp_path, marker, kind):
    """Each plant really runs code when unpickled without weights_only."""
    path = _mmengine_checkpoint(tmp_path / 'x.pth', PAYLOADS[kind](marker))
    torch.load(path, weights_only=False)
    assert ran(marker, kind)


def _assert_refused(info, source, kind):
    """The refusal names the file (or URL) and the global."""
    assert str(info.value).startswith(f'{source}: refused to unpickle: ')
    assert FIRST_GLOBAL[kind] in str(info.value)


@pytest.mark.parametrize('where', STRICT_WHERE)
@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_mmengine_local_scheme_refuses(tmp_path, marker, env, kind, where):
    """``CheckpointLoader``: ``load_from``, ``--resume``, ``tools/test.py
    CONFIG CKPT``."""
    path = _mmengine_checkpoint(tmp_path / 'epoch_1.pth',
                                PAYLOADS[kind](marker), where)
    with pytest.raises(pickle.UnpicklingError) as info:
        CheckpointLoader.load_checkpoint(path)
    _assert_refused(info, path, kind)
    assert not ran(marker, kind)


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return self.fc(inputs)


def _runner(work_dir, load_from, resume):
    """The runner of mmxclip's configs, as tools/train.py and test.py
    build it, loading or resuming from ``load_from``."""
    runner = SafeRunner(model=_TinyModel(), work_dir=str(work_dir),
                        load_from=load_from, resume=resume)
    runner.load_or_resume()
    return runner


@pytest.mark.parametrize('resume', [False, True], ids=['load_from', 'resume'])
@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_runner_load_from_and_resume_refuse(tmp_path, marker, kind, resume):
    """``load_from=`` and ``--resume`` through the runner itself."""
    path = _mmengine_checkpoint(tmp_path / 'epoch_1.pth',
                                PAYLOADS[kind](marker))
    with pytest.raises(pickle.UnpicklingError) as info:
        _runner(tmp_path / 'work', path, resume)
    _assert_refused(info, path, kind)
    assert not ran(marker, kind)


def test_runner_load_from_reads_mmengine_checkpoints(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(dict(state_dict={'fc.weight': torch.full((2, 2), 3.),
                                     'fc.bias': torch.ones(2)},
                         meta=dict(epoch=1)), path)
    runner = _runner(tmp_path / 'work', path, False)
    assert torch.equal(runner.model.fc.weight, torch.full((2, 2), 3.))


@pytest.fixture(scope='module')
def http_server(tmp_path_factory):
    """A localhost server of a temporary folder: (folder, URL)."""
    www = tmp_path_factory.mktemp('www')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(www))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05, ),
                              daemon=True)
    thread.start()
    yield www, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()


@pytest.fixture
def http_root(http_server, tmp_path, monkeypatch):
    """A served folder of this test's own; torch hub caches in tmp."""
    root, url = http_server
    www = root / tmp_path.name
    www.mkdir()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return www, f'{url}/{tmp_path.name}'


# MMEngine's model-zoo schemes and the table each resolves names in.
URL_SCHEMES = ['http', 'torchvision', 'open-mmlab', 'openmmlab', 'mmcls',
               'open-mmlab-local']


def _zoo_name(scheme, monkeypatch, www, file_url, file):
    """The name to load ``file`` by through ``scheme`` (its model table
    pointed at the localhost server, or for ``open-mmlab-local`` at a file
    below ``$MMENGINE_HOME``), and the source the loader reads."""
    if scheme == 'http':
        return file_url, file_url
    table = {'evil': file_url}
    if scheme == 'open-mmlab-local':  # a local entry of open_mmlab.json
        monkeypatch.setenv('MMENGINE_HOME', str(www))
        table = {'evil': file}
        scheme = 'open-mmlab'
    getter = {'torchvision': 'get_torchvision_models',
              'mmcls': 'get_mmcls_models'}.get(scheme, 'get_external_models')
    monkeypatch.setattr(mmengine_checkpoint, getter, lambda: table)
    source = str(www / file) if table['evil'] == file else file_url
    return f'{scheme}://evil', source


@pytest.mark.parametrize('scheme', URL_SCHEMES)
@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_mmengine_url_schemes_refuse(http_root, marker, monkeypatch, env,
                                     scheme, kind):
    """MMEngine's stock http loader would unpickle anything (torch hub's
    ``weights_only`` defaults to False); ``torchvision://``,
    ``open-mmlab://`` and ``mmcls://`` download through it, and
    ``open-mmlab://`` reads local entries with a bare ``torch.load``."""
    www, url = http_root
    _mmengine_checkpoint(www / f'{kind}.pth', PAYLOADS[kind](marker))
    name, source = _zoo_name(scheme, monkeypatch, www,
                             f'{url}/{kind}.pth', f'{kind}.pth')
    with pytest.raises(pickle.UnpicklingError) as info:
        CheckpointLoader.load_checkpoint(name)
    _assert_refused(info, source, kind)
    assert not ran(marker, kind)


@pytest.mark.parametrize('scheme', URL_SCHEMES)
def test_url_schemes_load_mmengine_checkpoints(http_root, monkeypatch,
                                               scheme):
    """...and still read a real MMEngine checkpoint with its
    HistoryBuffer."""
    www, url = http_root
    buffer = HistoryBuffer()
    buffer.update(1.5)
    save_checkpoint(dict(state_dict={'backbone.w': torch.ones(2)},
                         message_hub=dict(log_scalars={'loss': buffer})),
                    str(www / 'good.pth'))
    name, _ = _zoo_name(scheme, monkeypatch, www, f'{url}/good.pth',
                        'good.pth')
    good = CheckpointLoader.load_checkpoint(name)
    assert torch.equal(good['state_dict'].get('backbone.w', good[
        'state_dict'].get('w')), torch.ones(2))
    if scheme != 'mmcls':  # mmcls:// keeps only the backbone's weights
        assert good['message_hub']['log_scalars']['loss'].current() == 1.5


@pytest.mark.parametrize('where', ['config', 'optimizer', 'lr_scheduler',
                                   'nested'])
@pytest.mark.parametrize('kind', sorted(PAYLOADS))
def test_weight_reader_keeps_plants_inert(tmp_path, marker, kind, where):
    """Anywhere in an official training checkpoint, a plant is never run:
    ``exec``, ``eval``, ``__import__``, ``Popen`` become inert records
    (named in the warning, with the file) and the weights load; what torch
    refuses outright is refused, naming the file and the global."""
    path = planted_official(str(tmp_path / 'ckpt.pth'),
                            PAYLOADS[kind](marker), where)
    if kind in REFUSED_EVEN_INERT:
        with pytest.raises(pickle.UnpicklingError) as info:
            read_weights(path)
        assert str(info.value).startswith(f'{path}: refused to unpickle: ')
        assert REFUSED_EVEN_INERT[kind] in str(info.value)
    else:
        with LoggedMessages() as logged:
            weights = read_weights(path)
        assert weights.format == 'official'
        _assert_named_inert(logged, path, kind)
    assert not ran(marker, kind)


def _assert_named_inert(logged, path, kind):
    assert any(m.startswith(f'{path}: read as data only;')
               and INERT_NAME[kind] in m for m in logged), logged


def _weight_loaders(path, tmp_path):
    """``init_xclip``, ``clip://`` and ``tools/convert_weights.py`` on
    ``path``: each returns a model of the file's weights."""

    def clip_scheme():
        cfg = read_weights(OFFICIAL).model_config(NAMES)
        from mmaction.registry import MODELS
        model = MODELS.build(dict(cfg, init_cfg=dict(
            type='Pretrained', checkpoint=f'clip://{path}')))
        model.init_weights()
        return model.eval()

    def convert():
        out = str(tmp_path / 'converted.pth')
        load_tool('convert_weights.py').main(
            ['--src-format', 'official', path, out, '--class-names',
             'none.txt'])
        return init_xclip(out, NAMES)

    return dict(init_xclip=lambda: init_xclip(path, NAMES),
                clip=clip_scheme, convert_weights=convert)


@pytest.mark.parametrize('loader', ['init_xclip', 'clip', 'convert_weights'])
@pytest.mark.parametrize('kind,force', [(k, False) for k in sorted(PAYLOADS)]
                         + [('exec', True)])
def test_every_weight_loader_keeps_plants_inert(tmp_path, marker, monkeypatch,
                                                kind, force, loader):
    """``init_xclip``, ``clip://`` and ``tools/convert_weights.py`` on a
    planted official checkpoint: the official model's logits and the plant
    named inert, or the refusal naming the file and the global; no code.
    With ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` too (a ``torch.load``
    without ``weights_only=True`` would run the ``exec``)."""
    if force:
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    path = planted_official(str(tmp_path / 'ckpt.pth'),
                            PAYLOADS[kind](marker), 'nested')
    load = _weight_loaders(path, tmp_path)[loader]
    if kind in REFUSED_EVEN_INERT:
        with pytest.raises(pickle.UnpicklingError) as info:
            load()
        assert str(info.value).startswith(f'{path}: refused to unpickle: ')
        assert REFUSED_EVEN_INERT[kind] in str(info.value)
    else:
        with LoggedMessages() as logged:
            model = load()
        _assert_named_inert(logged, path, kind)
        assert_official_logits(model)
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
    with pytest.raises(ValueError, match=f"{path}: meta\\['model_cfg'\\]"
                       r'\.backbone\.init_cfg: expected a config dict, '
                       'got inert builtins.exec'):
        init_xclip(path)
    assert not ran(marker, 'exec')
