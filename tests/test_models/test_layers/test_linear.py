"""mmxclip.models.layers.linear: oneDNN's GEMM for float32 CPU inference on
the CPUs where it is faster (AMD), F.linear everywhere else, the same
values either way."""
import importlib

import pytest
import torch
import torch.nn.functional as F

from mmxclip.models.layers import Linear

# The module, not the function the package's namespace would give.
linear_module = importlib.import_module('mmxclip.models.layers.linear')
linear = linear_module.linear

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(),
                                reason='this PyTorch build has no oneDNN')


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls that reach oneDNN, with oneDNN chosen as on an AMD
    CPU whatever this machine's vendor."""
    monkeypatch.setattr(linear_module, '_ONEDNN', True)
    seen, real = [], linear_module._onednn_linear

    def counted(*args):
        seen.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(linear_module, '_onednn_linear', counted)
    return seen


def _inputs(dtype=torch.float32):
    torch.manual_seed(0)
    x = torch.randn(2, 197, 64, dtype=dtype)
    return x, torch.randn(96, 64, dtype=dtype) / 8, torch.randn(96,
                                                                dtype=dtype)


def test_inference_runs_onednn_with_f_linear_values(calls):
    x, w, b = _inputs()
    with torch.no_grad():
        out, ref = linear(x, w, b), F.linear(x, w, b)
        no_bias = linear(x, w)
    assert calls == [x.shape, x.shape]
    assert out.shape == (2, 197, 96) and out.dtype == torch.float32
    rel = (out - ref).abs().max() / ref.abs().max()
    assert rel < 1e-6, rel
    torch.testing.assert_close(no_bias, F.linear(x, w), rtol=1e-6, atol=0)


@pytest.mark.parametrize('case', ['grad', 'float64', 'autocast', 'trace'])
def test_everything_else_keeps_f_linear(calls, case):
    """Training keeps autograd, float64 stays exact, autocast computes in
    bfloat16 as F.linear does, a trace records aten::linear."""
    x, w, b = _inputs(torch.float64 if case == 'float64' else torch.float32)
    if case == 'grad':
        w, ref = w.clone().requires_grad_(), w.clone().requires_grad_()
        linear(x, w, b).sum().backward()
        F.linear(x, ref, b).sum().backward()
        assert torch.equal(w.grad, ref.grad)
    with torch.no_grad():
        if case == 'float64':
            assert torch.equal(linear(x, w, b), F.linear(x, w, b))
        if case == 'autocast':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                out = linear(x, w, b)
                assert out.dtype == torch.bfloat16
                assert torch.equal(out, F.linear(x, w, b))
        if case == 'trace':
            traced = torch.jit.trace(Linear(64, 96), x, check_trace=False)
            assert 'aten::linear' in str(traced.inlined_graph)
    assert calls == []


CPUINFO = 'processor\t: 0\nvendor_id\t: {}\ncpu family\t: 25\n'


@pytest.mark.parametrize('content,vendor,chosen', [
    (CPUINFO.format('AuthenticAMD'), 'AuthenticAMD', True),
    (CPUINFO.format('GenuineIntel'), 'GenuineIntel', False),
    ('processor\t: 0\nCPU implementer\t: 0x41\n', None, False),  # Arm
    (None, None, False),  # no /proc/cpuinfo (macOS, Windows)
], ids=['amd', 'intel', 'arm', 'no_cpuinfo'])
def test_onednn_chosen_on_amd_only(tmp_path, content, vendor, chosen):
    """MKL is on its fast path on Intel (oneDNN measured 0.91-0.93x there)
    and slow on AMD (oneDNN 1.13-1.75x); unmeasured CPUs keep F.linear."""
    path = tmp_path / 'cpuinfo'
    if content is not None:
        path.write_text(content)
    assert linear_module.cpu_vendor(str(path)) == vendor
    assert linear_module.onednn_pays_off(vendor) is (
        chosen and torch.backends.mkl.is_available())


def test_import_applies_the_choice_for_this_cpu():
    assert linear_module._ONEDNN is linear_module.onednn_pays_off(
        linear_module.cpu_vendor())


def test_where_onednn_does_not_pay_off_inference_keeps_f_linear(
        calls, monkeypatch):
    monkeypatch.setattr(linear_module, '_ONEDNN', False)
    x, w, b = _inputs()
    with torch.no_grad():
        assert torch.equal(linear(x, w, b), F.linear(x, w, b))
    assert calls == []


def test_linear_module_keeps_nn_linear_keys():
    layer = Linear(64, 96)
    assert list(layer.state_dict()) == ['weight', 'bias']
    x, _, _ = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight,
                                                      layer.bias),
                                   rtol=1e-6, atol=1e-6)
