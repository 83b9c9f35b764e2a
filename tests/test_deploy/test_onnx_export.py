"""Export: tools/export.py writes an ONNX graph with the class set baked in;
onnxruntime's outputs equal the recognizer's predict within 1e-4 on random
clips, for several batch sizes and views; the docs' PyTorch-free snippet
ranks a video as recognize() does. ``--precision int8`` writes a quantised
graph (MatMul weights int8, a smaller file) whose logits stay within the
tool's bound of PyTorch's fp32 and differ from them; the file records its
precision, a file from before the record reads as fp32; bf16 and auto are
refused with the reason."""
import contextlib
import io
import json
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch
from helpers import ROOT
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import load_tool, write_video
from mmaction.structures import ActionDataSample

from mmxclip.apis import apply_precision, init_xclip, recognize
from mmxclip.deploy import FixedClassXCLIP, export_onnx, read_onnx_metadata

ort = pytest.importorskip('onnxruntime')
LABELS = ['a square moving right', 'a dog', 'cooking pasta']


# What the tool printed for each precision's export (each export is made
# once, by the tool, and serves every test).
PRINTED = {}


def run_tool(ckpt, out, precision):
    """``tools/export.py`` with ``--benchmark``, its output in PRINTED."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert load_tool('export.py').main([
            ckpt, '--labels', ','.join(LABELS), '--out', out, '--precision',
            precision, '--benchmark', '--runs', '1']) == 0
    PRINTED[precision] = printed.getvalue()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp('export')
    ckpt = save_tiny_xclip(str(folder / 'tiny.pth'))
    out = str(folder / 'xclip.onnx')
    run_tool(ckpt, out, 'fp32')
    return folder, ckpt, out


def predict(model, clips):
    """The recognizer's ``test_step`` on uint8 (B, V, T, H, W, 3) clips:
    fused scores (B, K) and the head's per-view logits (B, V, K)."""
    inputs = [torch.from_numpy(c).permute(0, 4, 1, 2, 3) for c in clips]
    samples = [ActionDataSample() for _ in clips]
    with torch.no_grad():
        fused = torch.stack([r.pred_score for r in model.test_step(
            dict(inputs=inputs, data_samples=samples))])
        data = model.data_preprocessor(dict(inputs=inputs,
                                            data_samples=samples), False)
        logits = model.extract_feat(data['inputs'], stage='head')[0]
    return fused.numpy(), logits.view(*clips.shape[:2], -1).numpy()


@pytest.mark.parametrize('batch,views', [(1, 1), (3, 1), (2, 3)])
def test_onnxruntime_equals_predict(exported, batch, views):
    folder, ckpt, out = exported
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    model = init_xclip(ckpt, LABELS)
    clips = np.random.default_rng(batch * 10 + views).integers(
        0, 256, (batch, views, 8, 32, 32, 3), dtype=np.uint8)
    scores, logits = session.run(None, {'clips': clips})
    ref_scores, ref_logits = predict(model, clips)
    assert scores.shape == (batch, 3) and logits.shape == (batch, views, 3)
    assert ref_logits.std() > 0.1
    err = max(np.abs(scores - ref_scores).max(),
              np.abs(logits - ref_logits).max())
    print(f'B={batch} V={views}: max |d| = {err:.2e}')
    assert err <= 1e-4


def test_class_set_and_input_are_recorded(exported):
    _, _, out = exported
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta['class_names']) == LABELS
    assert (meta['num_frames'], meta['resolution']) == ('8', '32')
    assert meta['average_clips'] == 'prob'
    (clips, ), outputs = session.get_inputs(), session.get_outputs()
    assert clips.type == 'tensor(uint8)'
    assert clips.shape == ['batch', 'views', 8, 32, 32, 3]
    assert [o.name for o in outputs] == ['scores', 'logits']


def test_the_file_names_nothing_of_the_machine(exported, int8_export):
    """No path of the exporting checkout (the exporter's stack traces on
    every node), in the fp32 file or the int8 one."""
    for path in (exported[2], int8_export):
        blob = open(path, 'rb').read()
        assert ROOT.encode() not in blob and b'stack_trace' not in blob


def test_export_refuses_what_it_cannot_bake(exported, tmp_path, capsys):
    _, ckpt, _ = exported
    model = init_xclip(ckpt, LABELS)
    model.cls_head.average_clips = None
    with pytest.raises(ValueError, match="average_clips must be 'prob' or "
                       "'score'"):
        export_onnx(model, str(tmp_path / 'x.onnx'))
    model = init_xclip(ckpt, LABELS)
    model.data_preprocessor._enable_normalize = False
    with pytest.raises(ValueError, match='does not normalise'):
        FixedClassXCLIP(model)
    model = init_xclip(ckpt, LABELS)
    apply_precision(model, 'int8')
    with pytest.raises(ValueError, match='the model is int8; export the '
                       'fp32 model'):
        export_onnx(model, str(tmp_path / 'x.onnx'))
    tool = load_tool('export.py')
    with pytest.raises(SystemExit):
        tool.parse_args([ckpt, '--labels', 'a,,b', '--out', 'x.onnx'])
    assert '--labels: entry 2 is blank' in capsys.readouterr().err


@pytest.fixture(scope='module')
def int8_export(exported):
    """The checkpoint of ``exported`` exported int8 beside it, by the
    tool."""
    folder, ckpt, _ = exported
    out = str(folder / 'int8.onnx')
    run_tool(ckpt, out, 'int8')
    return out


@pytest.mark.parametrize('precision,check,bound', [
    ('fp32', r'onnxruntime vs PyTorch on random clips: max \|d\| = \S+\n',
     'TOLERANCE'),
    ('int8', r'onnxruntime int8 vs PyTorch fp32 on random clips: logits max '
     r'\|d\| = \S+ of the largest logit, top-1 agrees on [0-3] of 3\n',
     'INT8_TOLERANCE'),
])
def test_tool_checks_its_export_and_times_it(exported, int8_export, tmp_path,
                                             capsys, monkeypatch, precision,
                                             check, bound):
    """The tool's own check fails the run when the export is off (here: a
    bound of 0 that fp32's 1e-6-level float differences and int8's
    quantisation exceed); --benchmark prints both latencies."""
    _, ckpt, _ = exported
    name = dict(fp32='xclip', int8='int8')[precision]
    out = PRINTED[precision]
    assert re.search(rf'{name}.onnx: [\d.]+ MiB, {precision}, 3 classes, 8 '
                     'frames of 32 px', out)
    assert re.search(check, out)
    assert re.search(r'batch 1, \d+ threads: onnxruntime [\d.]+ ms, PyTorch '
                     r'[\d.]+ ms \(median of 1\)', out)
    tool = load_tool('export.py')
    monkeypatch.setattr(tool, bound, 0.0)
    assert tool.main([ckpt, '--labels', 'a,b', '--out',
                      str(tmp_path / 'x.onnx'), '--precision',
                      precision]) == 1
    assert 'error: the export differs from PyTorch by' in \
        capsys.readouterr().err


def test_int8_is_quantised_and_within_the_bound(exported, int8_export):
    _, ckpt, fp32 = exported
    ops = {n.op_type for n in onnx.load(int8_export).graph.node}
    assert {'DynamicQuantizeLinear', 'MatMulInteger'} <= ops
    assert 'MatMulInteger' not in {
        n.op_type for n in onnx.load(fp32).graph.node}
    # 0.64 here: the graph's node records weigh on a model this small
    assert osp.getsize(int8_export) < 0.7 * osp.getsize(fp32)
    clips = np.random.default_rng(3).integers(0, 256, (4, 2, 8, 32, 32, 3),
                                              dtype=np.uint8)
    with torch.no_grad():
        ref = FixedClassXCLIP(init_xclip(ckpt, LABELS))(
            torch.from_numpy(clips))[1].numpy()
    logits = ort.InferenceSession(
        int8_export, providers=['CPUExecutionProvider']).run(
            None, {'clips': clips})[1]
    err = float(np.abs(logits - ref).max() / np.abs(ref).max())
    print(f'int8 logits: {err:.2%} of the largest fp32 logit')
    assert 0 < err < load_tool('export.py').INT8_TOLERANCE


def test_the_file_records_its_precision(exported, int8_export, tmp_path):
    files = dict(fp32=exported[2], int8=int8_export)
    for precision, path in files.items():
        assert read_onnx_metadata(path)['precision'] == precision
        session = ort.InferenceSession(path,
                                       providers=['CPUExecutionProvider'])
        assert session.get_modelmeta().custom_metadata_map['precision'] == \
            precision
    # A file written before the precision was recorded: fp32.
    proto = onnx.load(files['fp32'])
    kept = [p for p in proto.metadata_props if p.key != 'precision']
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    old = str(tmp_path / 'old.onnx')
    onnx.save(proto, old)
    assert read_onnx_metadata(old)['precision'] == 'fp32'


@pytest.mark.parametrize('precision,why', [
    ('bf16', "onnxruntime's CPU provider has no bfloat16 MatMul or Gemm "
     'kernel .*; use int8 .* or fp32'),
    ('auto', 'an export runs on other machines, so its precision is not '
     "chosen from this one's CPU; name fp32 or int8"),
])
def test_bf16_and_auto_are_refused_with_the_reason(exported, tmp_path,
                                                   monkeypatch, capsys,
                                                   precision, why):
    _, ckpt, _ = exported
    tool = load_tool('export.py')

    def built(*args, **kwargs):
        raise AssertionError('the model was built')

    monkeypatch.setattr(tool, 'init_xclip', built)
    with pytest.raises(SystemExit) as exit_:
        tool.main([ckpt, '--labels', 'a,b', '--out',
                   str(tmp_path / 'x.onnx'), '--precision', precision])
    assert exit_.value.code == 2
    assert re.search(f'error: --precision {precision}: {why}',
                     capsys.readouterr().err)
    with pytest.raises(ValueError, match=f'precision {precision!r}: {why}'):
        export_onnx(init_xclip(ckpt, LABELS), str(tmp_path / 'x.onnx'),
                    precision=precision)
    assert not (tmp_path / 'x.onnx').exists()


def readme_snippet() -> str:
    """The python block after ``<!-- onnx-snippet -->`` in
    docs/embeddings_search_export.md."""
    with open(osp.join(ROOT, 'docs', 'embeddings_search_export.md'),
              encoding='utf-8') as f:
        text = f.read()
    match = re.search(r'<!-- onnx-snippet -->\s*```python\n(.*?)```', text,
                      re.S)
    assert match, 'docs/embeddings_search_export.md has no onnx snippet'
    return match.group(1)


def test_readme_snippet_runs_without_pytorch(exported, tmp_path):
    """The docs' decode + resize + onnxruntime lines, with ``import
    torch`` made impossible, print the ranking recognize() gives."""
    folder, ckpt, out = exported
    video = write_video(str(tmp_path / 'demo.mp4'), frames=37)
    os.symlink(out, tmp_path / 'xclip.onnx')
    (tmp_path / 'snippet.py').write_text(readme_snippet())
    guard = ("import sys; sys.modules['torch'] = None; "
             "exec(compile(open('snippet.py').read(), 'snippet.py', 'exec'))")
    result = subprocess.run([sys.executable, '-c', guard], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [line.rsplit(': ', 1) for line in
               result.stdout.strip().splitlines()]
    ranking = recognize(init_xclip(ckpt, LABELS), video, topk=3).ranking
    assert [name for name, _ in printed] == [name for name, _ in ranking]
    np.testing.assert_allclose([float(p) for _, p in printed],
                               [p for _, p in ranking], atol=1e-4)
