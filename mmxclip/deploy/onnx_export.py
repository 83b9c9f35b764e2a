"""The recognizer with its class set baked in, exported to ONNX.

The ONNX graph takes decoded frames and returns class scores: CLIP's text
encoder does not run at all (the class names' text embeddings are a
constant of the graph), and the data preprocessor's normalisation is part
of it, so a runtime needs only a decoder and a resize (the test pipeline's
``Resize`` + ``CenterCrop``, or ``ThreeCrop`` for three views).

Input ``clips``: uint8 (B, V, T, H, W, 3) RGB, as decoders return frames,
V views of T frames each at H = W = the model's resolution; B and V are
dynamic. Outputs: ``scores`` (B, K), the views fused as the head's
``average_clips`` says (``'prob'``: the mean of the views' softmax,
``'score'``: the mean of their logits: ``predict``'s ``pred_score``), and
``logits`` (B, V, K).

Precision (metadata ``precision``): ``fp32``, the float32 graph, or ``int8``,
that graph with its MatMul and Gemm weights quantised by onnxruntime's
dynamic quantisation (activations quantised per call, as PyTorch's int8 of
:mod:`mmxclip.models.precision`).
"""
import json
import logging
import os.path as osp
import tempfile
from typing import Any, Dict, Tuple

import torch
from torch import Tensor, nn

from ..engine.atomic_io import atomic_write
from ..models.precision import model_precision
from ..weights import ModelConfigError, check_pipeline

# What :func:`onnx_metadata` writes. Files written before ``precision``
# was recorded lack it; they are fp32.
METADATA_KEYS = ('class_names', 'num_frames', 'resolution', 'test_pipeline',
                 'average_clips', 'precision')
ONNX_PRECISIONS = ('fp32', 'int8')
# Why the other inference precisions have no export.
NO_EXPORT = dict(
    bf16="onnxruntime's CPU provider has no bfloat16 MatMul or Gemm kernel "
    '(1.32), so a bf16 graph would not load; use int8 (smaller and faster '
    'on CPUs) or fp32',
    auto='an export runs on other machines, so its precision is not chosen '
    "from this one's CPU; name fp32 or int8")


class FixedClassXCLIP(nn.Module):
    """Frames -> scores of a fixed class set (see the module docstring).

    Args:
        model: An :class:`XCLIPRecognizer` with the class set to bake in,
            its data preprocessor normalising (``mean`` / ``std``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        head = model.cls_head
        if head.average_clips not in ('prob', 'score'):
            raise ValueError("cls_head.average_clips must be 'prob' or "
                             f"'score' to fuse views, not "
                             f'{head.average_clips!r}')
        prep = model.data_preprocessor
        if not getattr(prep, '_enable_normalize', False):
            raise ValueError('the data preprocessor does not normalise; '
                             'expected ActionDataPreprocessor(mean=..., '
                             'std=...)')
        self.model = model
        self.average = head.average_clips
        self.to_rgb = prep.to_rgb
        with torch.no_grad():
            self.register_buffer('text', head.class_embeddings().clone())
        # (3, 1, 1, 1) for NCTHW clips, as ActionDataPreprocessor keeps them.
        self.register_buffer('mean', prep.mean.clone())
        self.register_buffer('std', prep.std.clone())

    def forward(self, clips: Tensor) -> Tuple[Tensor, Tensor]:
        """uint8 (B, V, T, H, W, 3) -> scores (B, K), logits (B, V, K)."""
        b, v = clips.shape[:2]
        x = clips.flatten(0, 1).permute(0, 4, 1, 2, 3).float()
        if self.to_rgb:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        video, tokens = self.model.encode_video(x)
        head = self.model.cls_head
        logits = head.logits(video, head.visual_tokens(tokens), self.text)
        logits = logits.view(b, v, -1)
        if self.average == 'prob':
            return logits.softmax(dim=-1).mean(dim=1), logits
        return logits.mean(dim=1), logits


def onnx_metadata(model: nn.Module,
                  precision: str = 'fp32') -> Dict[str, str]:
    """What a runtime needs to feed the graph and name its outputs, as the
    ONNX file's metadata (strings): ``class_names`` (JSON list),
    ``num_frames``, ``resolution``, ``test_pipeline`` (JSON),
    ``average_clips`` and the file's ``precision``."""
    head = model.cls_head
    return dict(
        class_names=json.dumps(head.class_names),
        num_frames=str(model.neck.num_frames),
        resolution=str(model.backbone.input_resolution),
        test_pipeline=json.dumps(list(model.cfg.test_pipeline)),
        average_clips=head.average_clips,
        precision=precision)


def read_onnx_metadata(path: str) -> Dict[str, Any]:
    """The metadata of an exported file, read back as data and checked: the
    keys :func:`onnx_metadata` writes and no others, ``class_names`` a JSON
    list of names, ``num_frames`` and ``resolution`` positive ints,
    ``test_pipeline`` registered transforms
    (:func:`~mmxclip.weights.check_pipeline`; never built), ``average_clips``
    ``'prob'`` or ``'score'``, ``precision`` ``'fp32'`` or ``'int8'``
    (``'fp32'`` where a file from before it was recorded lacks it).

    Returns:
        dict: The values parsed (lists and ints).

    Raises:
        ModelConfigError: Naming the file and the key.
    """
    import onnx
    props = {p.key: p.value for p in onnx.load(
        path, load_external_data=False).metadata_props}
    if set(props) | {'precision'} != set(METADATA_KEYS):
        raise ModelConfigError(f'{path}: metadata keys {sorted(props)}; '
                               f'expected exactly {sorted(METADATA_KEYS)} '
                               '(precision may be missing: fp32)')
    props.setdefault('precision', 'fp32')
    meta: Dict[str, Any] = dict(props)
    for key in ('class_names', 'test_pipeline'):
        try:
            meta[key] = json.loads(props[key])
        except ValueError as err:
            raise ModelConfigError(f'{path}: metadata {key}: not JSON '
                                   f'({err})') from err
    names = meta['class_names']
    if not (isinstance(names, list) and names
            and all(isinstance(n, str) for n in names)):
        raise ModelConfigError(f'{path}: metadata class_names: expected a '
                               'JSON list of names')
    for key in ('num_frames', 'resolution'):
        if not (props[key].isdigit() and int(props[key]) >= 1):
            raise ModelConfigError(f'{path}: metadata {key}: '
                                   f'{props[key]!r}; expected a positive int')
        meta[key] = int(props[key])
    check_pipeline(meta['test_pipeline'], f'{path}: metadata test_pipeline')
    if meta['average_clips'] not in ('prob', 'score'):
        raise ModelConfigError(f'{path}: metadata average_clips: '
                               f"{meta['average_clips']!r}; expected 'prob' "
                               "or 'score'")
    if meta['precision'] not in ONNX_PRECISIONS:
        raise ModelConfigError(f'{path}: metadata precision: '
                               f"{meta['precision']!r}; expected 'fp32' or "
                               "'int8'")
    return meta


def quantize_int8(proto: Any) -> Any:
    """``proto`` with the weights of its MatMul and Gemm nodes int8, by
    onnxruntime's dynamic quantisation (activations quantised per call).

    Args:
        proto: An ``onnx.ModelProto``, float32.

    Returns:
        onnx.ModelProto: The quantised model, without metadata.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def quiet(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR

    # quantize_dynamic warns on the root logger about every tensor it
    # leaves float (the uint8 input's) and recommends a pre-processing that
    # did not help (below): neither says anything about the result.
    root = logging.getLogger()
    root.addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory() as folder:
            out = osp.join(folder, 'int8.onnx')
            # Measured over per_channel, reduce_range, int8 / uint8 weights
            # and op types (docs/performance.md, "Embeddings, search and
            # export"; AMD EPYC, avx2, no VNNI): int8 weights per channel
            # with reduce_range were the closest to fp32 on a B/16-wide
            # model (0.8 % of the largest logit; the other int8-weight
            # settings 4.8-7.7 %: per channel without reduce_range meets
            # the u8s8 saturation that onnxruntime documents for CPUs
            # without VNNI) and among the fastest (uint8 weights: 20 %
            # slower). An export runs on unknown CPUs, so the setting safe
            # without VNNI is the one written. The patch convolution stays
            # float, as in PyTorch's int8 (ConvInteger, in the default op
            # types, was slower at about the same error); onnxruntime's
            # quant_pre_process changed neither.
            quantize_dynamic(proto, out, op_types_to_quantize=['MatMul',
                                                               'Gemm'],
                             per_channel=True, reduce_range=True,
                             weight_type=QuantType.QInt8)
            quantized = onnx.load(out)
    finally:
        root.removeFilter(quiet)
    # It records itself ('onnx.infer'); the file's keys are a closed set.
    del quantized.metadata_props[:]
    return quantized


def export_onnx(model: nn.Module,
                path: str,
                num_views: int = 1,
                precision: str = 'fp32') -> Dict[str, Any]:
    """Export :class:`FixedClassXCLIP` of ``model`` to ``path``.

    torch.onnx's dynamo exporter, batch and views dynamic, the weights
    inside the file, int8 by :func:`quantize_int8` if asked;
    :func:`onnx_metadata` in its metadata. The file is written once,
    atomically (:func:`mmxclip.engine.atomic_io.atomic_write`).

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg`` (:func:`init_xclip`)
            and the class set to bake in, on the CPU, float32.
        path: The ``.onnx`` file.
        num_views: Views of the example input (any number runs).
        precision: ``'fp32'`` or ``'int8'`` (:data:`NO_EXPORT` says why not
            the others).

    Returns:
        dict: The metadata written.

    Raises:
        ValueError: Another precision, or a model not float32.
    """
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f'precision {precision!r}: ' + NO_EXPORT.get(
            precision, f'expected one of {ONNX_PRECISIONS}'))
    if model_precision(model) != 'fp32':
        raise ValueError(f'the model is {model_precision(model)}; export '
                         'the fp32 model (precision= sets the file\'s)')
    module = FixedClassXCLIP(model.eval()).eval()
    size = model.backbone.input_resolution
    example = torch.randint(0, 256, (2, num_views, model.neck.num_frames,
                                     size, size, 3), dtype=torch.uint8)
    batch, views = torch.export.Dim('batch'), torch.export.Dim('views')
    with torch.no_grad():
        program = torch.onnx.export(
            module, (example, ), dynamo=True, input_names=['clips'],
            output_names=['scores', 'logits'],
            dynamic_shapes={'clips': {0: batch, 1: views}})
    proto = program.model_proto
    # The exporter's debugging record on every node (the Python stack, with
    # this checkout's absolute paths, and FX names) is dropped: a file that
    # is shared names nothing of the machine that wrote it.
    for node in [*proto.graph.node,
                 *(n for f in proto.functions for n in f.node)]:
        del node.metadata_props[:]
    if precision == 'int8':
        proto = quantize_int8(proto)
    meta = onnx_metadata(model, precision)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    # Written once, graph and metadata together: a kill leaves the old
    # file or the new one, never a graph without its class names.
    atomic_write(proto.SerializeToString(), path)
    return meta
