"""Benchmark mmxclip against HuggingFace's ``XCLIPModel`` on equal weights:
speed and peak memory.

Both models are built at the size asked and timed side by side in one
process on the same inputs (``tools/analysis/benchmark_pair.py`` builds them
and holds the call of each mode: ``eval``, ``vision``, ``train``,
``train_cp``). One table row per (model, frames, batch, classes, mode,
device, dtype, compile). HF's ``input_ids`` are CLIP's 77-token context, or
with ``--hf-padding longest`` padded to the longest name, as ``padding=True``
in HF's processor does.

Throughput is the median of ``--runs`` timed calls after ``--warmup`` calls
(the implementations alternate, so load from other processes hits them
alike). Peak memory is measured on one extra call after the timed ones: the
bytes allocated at the call's peak above what was live before it (CUDA:
``torch.cuda.max_memory_allocated``; CPU: the running sum of torch.profiler's
memory events, i.e. live tensor bytes, not RSS, which would also count
allocator caches).

On CUDA the notes also give each eval row's share of the bf16 matrix-product
rate measured in the same run, from the GFLOPs per view that
``tools/analysis/get_flops.py`` counts (the FLOPs table is that tool's).
On the CPU there is one row per inference precision (``--precisions``,
:mod:`mmxclip.models.precision`; HF runs the same numerics: bf16 under
autocast, int8 through ``quantize_dynamic`` of its ``nn.Linear``), and the
notes give each eval and vision row's share of that precision's peak: cores
x clock x FLOPs per cycle and core from the CPU's flags (:data:`PER_CYCLE`).
What the benchmark once checked besides speed are tests now: activation
checkpointing's loss and gradients, bf16 autocast's error and the
backbone's graph breaks under dynamo (all in tests/test_models/).

Examples::

    python tools/benchmark.py --quick
    python tools/benchmark.py --models B/16 --batches 1 4 --modes eval vision
"""
import argparse
import contextlib
import copy
import dataclasses
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'analysis'))
from benchmark_pair import (SPECS, ModelSpec, build_pair,  # noqa: E402
                            class_names, compiled, eval_fns, make_inputs,
                            train_fns, vision_fns)
from get_flops import count_flops  # noqa: E402

from mmxclip.engine.atomic_io import atomic_write  # noqa: E402
from mmxclip.models import apply_precision, resolve_precision  # noqa: E402
from mmxclip.models.precision import cpu_flags  # noqa: E402

# Peak FLOPs (2 per multiply-add) per cycle and core, by precision: the
# first flag of each list that /proc/cpuinfo has decides. From the
# instruction throughputs in Intel's Optimization Reference Manual (AMX: a
# TMUL tile product, 16x32 bf16 or 16x64 int8 by 32 or 64 x 16, every 16
# cycles; AVX-512: two 512-bit FMA ports, which most Xeon Gold / Platinum
# have, one on others) and AMD's Zen optimisation guides (two 256-bit FMA
# pipes). Emulated bfloat16 can not beat float32: its peak is float32's.
PER_CYCLE: Dict[str, Sequence] = {
    'fp32': [('avx512f', 64), ('fma', 32), ('', 8)],
    'bf16': [('amx_bf16', 1024), ('avx512_bf16', 128)],
    'int8': [('amx_int8', 2048), ('avx512_vnni', 256), ('avx_vnni', 128),
             ('avx2', 128), ('', 16)],
}


def cpu_peak(precision: str, cpuinfo: str = '/proc/cpuinfo'):
    """(GFLOP/s, how) of the CPU's peak in ``precision`` for the torch
    threads: cores x the fastest clock cpuinfo shows x :data:`PER_CYCLE`."""
    flags = cpu_flags(cpuinfo)
    mhz = 0.0
    with contextlib.suppress(OSError):
        with open(cpuinfo) as f:
            mhz = max((float(line.split(':')[1]) for line in f
                       if line.startswith('cpu MHz')), default=0.0)
    table = PER_CYCLE[precision]
    if precision == 'bf16' and not flags & {f for f, _ in table}:
        precision, table = 'fp32', PER_CYCLE['fp32']  # emulated
    flag, per_cycle = next((f, n) for f, n in table if not f or f in flags)
    cores = torch.get_num_threads()
    return (cores * mhz / 1e3 * per_cycle,
            f'{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} '
            f'({flag or "scalar"} {precision})')


# ----------------------------------------------------------------- measuring
def _sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def peak_memory(fn: Callable[[], object], device: str) -> int:
    """Bytes allocated at the peak of ``fn()`` above what was live before.

    CUDA: the caching allocator's statistics. CPU: torch.profiler's memory
    events (every CPU tensor allocation and free, in order), whose running
    sum is the live tensor bytes; RSS would also count allocator caching and
    freed pages glibc keeps.
    """
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as p:
        fn()
    events = sorted((e.start_ns(), e.nbytes())
                    for e in p.profiler.kineto_results.events()
                    if e.name() == '[memory]'
                    and str(e.device_type()).endswith('CPU'))
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


@dataclasses.dataclass
class Measure:
    """Timings (s) and peak memory (bytes) of one implementation."""
    times: List[float]
    peak: int

    @property
    def latency(self) -> float:
        """Median seconds per call."""
        return statistics.median(self.times)


def measure(fns: Dict[str, Callable[[], object]], device: str, runs: int,
            warmup: int) -> Dict[str, Measure]:
    """Time implementations interleaved (A, B, A, B, ...), so that load
    from other processes hits all of them alike, then take each one's peak
    memory on one more call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {k: Measure(times[k], peak_memory(fns[k], device)) for k in fns}


def matmul_tflops(device: str, dtype: torch.dtype, n: int = 8192) -> float:
    """Rate of one large random matrix product, TFLOP/s (2 per MAC)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    _sync(device)
    return 2 * n**3 * 10 / (time.perf_counter() - t0) / 1e12


# -------------------------------------------------------------------- table
@dataclasses.dataclass
class Row:
    """One line of the table."""
    model: str
    frames: int
    batch: int
    classes: int
    mode: str
    device: str
    dtype: str
    compile: bool
    results: Dict[str, Measure]

    def cells(self) -> List[str]:
        """The row's printed cells, in :data:`COLUMNS` order."""
        m, h = self.results['mmxclip'], self.results.get('hf')

        def side(r: Optional[Measure]) -> List[str]:
            if r is None:
                return ['-', '-', '-']
            return [f'{self.batch / r.latency:.3g}',
                    f'{1e3 * r.latency:.1f}', f'{r.peak / 2**20:.0f}']

        ratio = f'{h.latency / m.latency:.2f}' if h else '-'
        mem = f'{m.peak / h.peak:.2f}' if h and h.peak else '-'
        return [self.model, str(self.frames), str(self.batch),
                str(self.classes), self.mode, self.device, self.dtype,
                'yes' if self.compile else 'no', *side(m), *side(h), ratio,
                mem]


COLUMNS = ['model', 'T', 'batch', 'K', 'mode', 'device', 'dtype', 'compile',
           'mmx vid/s', 'mmx ms', 'mmx MiB', 'hf vid/s', 'hf ms', 'hf MiB',
           'speed x', 'mem x']


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table."""
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)


# --------------------------------------------------------------------- main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--quick', action='store_true',
                   help='tiny model, a few seconds (what the test runs)')
    p.add_argument('--models', nargs='+', default=['B/16'], choices=SPECS)
    p.add_argument('--frames', nargs='+', type=int, default=[8])
    p.add_argument('--batches', nargs='+', type=int, default=[1, 4])
    p.add_argument('--classes', type=int, default=400)
    p.add_argument('--modes', nargs='*', default=['eval', 'vision'],
                   choices=['eval', 'vision', 'train', 'train_cp'])
    p.add_argument('--train-batch', type=int, default=None,
                   help='batch of the training rows (default: the first '
                   'of --batches)')
    p.add_argument('--devices', nargs='+', default=None,
                   help='default: cpu, and cuda when available')
    p.add_argument('--dtypes', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'], help='bf16 autocast runs on '
                   'CUDA only')
    p.add_argument('--precisions', nargs='+', default=None,
                   choices=['fp32', 'bf16', 'int8'],
                   help='CPU inference precisions (default: fp32, int8, and '
                   'bf16 where the CPU has it natively); training rows are '
                   'fp32')
    p.add_argument('--compile', choices=['off', 'on', 'both'], default='off',
                   help='torch.compile rows (CUDA only)')
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--hf-padding', choices=['max_length', 'longest'],
                   default='max_length',
                   help="HF's input_ids: CLIP's 77-token context, or padded "
                   'to the longest class name')
    p.add_argument('--no-hf', action='store_true', help='mmxclip alone')
    p.add_argument('--no-hf-train', action='store_true',
                   help='leave HF out of the training rows')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads')
    p.add_argument('--json', default=None, help='also write rows here')
    args = p.parse_args(argv)
    if args.quick:
        args.models, args.frames, args.batches = ['tiny'], [4, 8], [1]
        args.classes, args.modes = 8, ['eval', 'vision', 'train', 'train_cp']
        args.runs, args.warmup, args.devices = 5, 1, ['cpu']
        args.precisions = args.precisions or ['fp32', 'int8']
    if args.precisions is None:
        args.precisions = ['fp32', 'int8'] + (
            ['bf16'] if resolve_precision('auto') == 'bf16' else [])
    if args.devices is None:
        args.devices = ['cpu'] + (['cuda'] if torch.cuda.is_available()
                                  else [])
    return args


def _settings(device: str, args: argparse.Namespace):
    """(dtype, compile) pairs run on a device."""
    if not device.startswith('cuda'):
        return [(p, False) for p in args.precisions]
    compiles = {'off': [False], 'on': [True], 'both': [False, True]}
    return [(d, c) for c in compiles[args.compile] for d in args.dtypes]


@dataclasses.dataclass(frozen=True)
class Case:
    """What one model build is measured at (the rows differ in mode and
    batch)."""
    model: str
    spec: ModelSpec
    frames: int
    names: Sequence[str]
    device: str
    dtype: str
    compile: bool


@dataclasses.dataclass
class Notes:
    """What the table's footer says.

    Attributes:
        matmul_tflops: Measured matrix-product rate per dtype (CUDA).
        gflops_per_view: ``tools/analysis/get_flops.py``'s count per
            ``'MODEL Tf'`` (and ``'MODEL Tf vision'``), for the
            utilisation.
        frame_scaling: time(2T) / time(T) of matching rows.
        cpu_peak: Each CPU precision's peak GFLOP/s and how it was
            computed (:func:`cpu_peak`).
        utilisation: CUDA eval rows' share of the bf16 matmul rate, CPU
            eval and vision rows' share of their precision's peak.
    """
    matmul_tflops: Dict[str, float] = dataclasses.field(default_factory=dict)
    gflops_per_view: Dict[str, float] = dataclasses.field(
        default_factory=dict)
    frame_scaling: Dict[str, str] = dataclasses.field(default_factory=dict)
    cpu_peak: Dict[str, str] = dataclasses.field(default_factory=dict)
    utilisation: Dict[str, str] = dataclasses.field(default_factory=dict)

    def lines(self) -> List[str]:
        """``key: value`` lines, in field order."""
        out = []
        if self.matmul_tflops:
            out.append(f'matmul_tflops: {self.matmul_tflops}')
        out += [f'GFLOPs/view {k}: {v}'
                for k, v in self.gflops_per_view.items()]
        out += [f'CPU peak {k}: {v}' for k, v in self.cpu_peak.items()]
        for table in (self.frame_scaling, self.utilisation):
            out += [f'{k}: {v}' for k, v in table.items()]
        return out


def run_rows(args: argparse.Namespace, notes: Notes,
             out=sys.stdout) -> Dict[str, object]:
    """Measure every row asked for, print the table and the notes."""
    names = class_names(args.classes)
    rows: List[Row] = []
    for device in args.devices:
        for model in args.models:
            spec = SPECS[model]
            for frames in args.frames:
                mmx, hf = build_pair(spec, frames, names, device,
                                     with_hf=not args.no_hf)
                flops = count_flops(mmx, frames, spec.image)
                for key, part in (('', 'total'), (' vision', 'vision')):
                    notes.gflops_per_view[f'{model} {frames}f{key}'] = float(
                        f'{flops[part]:.4g}')
                for dtype, comp in _settings(device, args):
                    case = Case(model, spec, frames, names, device, dtype,
                                comp)
                    ctx = (compiled(mmx, hf) if comp else
                           contextlib.nullcontext())
                    with ctx:
                        rows += _rows_for(args, case,
                                          *_at_precision(case, mmx, hf), out)
                del mmx, hf
    print(markdown(COLUMNS, [r.cells() for r in rows]), file=out)
    notes.frame_scaling.update(_frame_scaling(rows))
    notes.utilisation.update(_utilization(rows, notes))
    for line in notes.lines():
        print(line, file=out)
    return dict(rows=[dataclasses.asdict(r) for r in rows],
                notes=dataclasses.asdict(notes))


def _at_precision(case: Case, mmx: nn.Module, hf: Optional[nn.Module]):
    """Copies of both models in a CPU row's precision (int8: HF's
    ``nn.Linear`` through ``quantize_dynamic``; bf16: HF under autocast,
    see :func:`_fns`)."""
    if case.device.startswith('cuda') or case.dtype == 'fp32':
        return mmx, hf
    mine = copy.deepcopy(mmx)
    apply_precision(mine, case.dtype)
    if hf is not None and case.dtype == 'int8':
        hf = torch.ao.quantization.quantize_dynamic(copy.deepcopy(hf),
                                                    {nn.Linear})
    return mine, hf


def _fns(make: Callable, mmx: nn.Module, hf: Optional[nn.Module],
         x, case: Case) -> Dict[str, Callable]:
    """``eval_fns`` / ``vision_fns`` of a row: on the CPU mmxclip's
    precision is in its weights (no autocast), HF's bf16 is autocast."""
    if case.device.startswith('cuda'):
        return make(mmx, hf, x, case.dtype)
    fns = make(mmx, None, x, 'fp32')
    if hf is not None:
        fns['hf'] = make(mmx, hf, x, 'bf16' if case.dtype == 'bf16' else
                         'fp32')['hf']
    return fns


def _rows_for(args: argparse.Namespace, case: Case, mmx: nn.Module,
              hf: Optional[nn.Module], out) -> List[Row]:
    """The rows of every mode and batch asked for, at one :class:`Case`."""
    rows = []
    for mode in args.modes:
        training = mode.startswith('train')
        if training and (case.compile or case.dtype != 'fp32'
                         and not case.device.startswith('cuda')):
            continue
        batches = ([args.train_batch or args.batches[0]]
                   if training else args.batches)
        for batch in batches:
            x = make_inputs(case.spec, case.frames, batch, case.names,
                            case.device, args.hf_padding)
            other = hf
            if training:
                other = None if args.no_hf_train else hf
                fns = train_fns(mmx, other, x, case.dtype,
                                mode == 'train_cp')
            else:
                fns = _fns(eval_fns if mode == 'eval' else vision_fns, mmx,
                           hf, x, case)
            results = measure(fns, case.device, args.runs, args.warmup)
            mmx.eval()
            if other is not None:
                other.eval()
            row = Row(case.model, case.frames, batch, len(case.names), mode,
                      case.device, case.dtype, case.compile, results)
            print('  ' + ' | '.join(row.cells()), file=out, flush=True)
            rows.append(row)
    return rows


def _utilization(rows: Sequence[Row], notes: Notes) -> Dict[str, str]:
    """Achieved TFLOP/s of CUDA eval rows against the measured bf16 matmul
    rate, and GFLOP/s of CPU eval and vision rows against their precision's
    peak (:func:`cpu_peak`); 2 FLOPs per multiply-add of MMEngine's
    count."""
    rate = notes.matmul_tflops.get('bf16')
    out = {}
    for r in rows:
        if r.device == 'cpu' and r.mode in ('eval', 'vision'):
            peak, how = cpu_peak(r.dtype)
            notes.cpu_peak[r.dtype] = f'{peak:.0f} GFLOP/s = {how}'
            gflops = notes.gflops_per_view[
                f'{r.model} {r.frames}f' +
                (' vision' if r.mode == 'vision' else '')]
            done = 2 * gflops * r.batch / r.results['mmxclip'].latency
            out[f'utilisation {r.model} {r.frames}f b{r.batch} {r.mode} '
                f'cpu {r.dtype}'] = (
                    f'{done:.1f} GFLOP/s = {100 * done / peak:.1f}% of the '
                    f'{r.dtype} peak' if peak else
                    f'{done:.1f} GFLOP/s (no clock in /proc/cpuinfo)')
            continue
        gflops = notes.gflops_per_view.get(f'{r.model} {r.frames}f')
        if not (rate and gflops and r.mode == 'eval'
                and r.device.startswith('cuda')):
            continue
        vps = r.batch / r.results['mmxclip'].latency
        tflops = 2 * gflops * vps / 1e3
        key = (f'utilisation {r.model} {r.frames}f b{r.batch} {r.dtype}'
               f'{" compiled" if r.compile else ""}')
        out[key] = (f'{tflops:.0f} TFLOP/s = {100 * tflops / rate:.0f}% of '
                    f'the bf16 matmul rate {rate:.0f}')
    return out


def _frame_scaling(rows: Sequence[Row]) -> Dict[str, str]:
    """time(2T) / time(T) of matching rows, per implementation."""
    out = {}
    for r in rows:
        for r2 in rows:
            same = (r2.model, r2.batch, r2.mode, r2.device, r2.dtype,
                    r2.compile) == (r.model, r.batch, r.mode, r.device,
                                    r.dtype, r.compile)
            if same and r2.frames == 2 * r.frames:
                key = (f'time({r2.frames}f)/time({r.frames}f) {r.model} '
                       f'{r.mode} b{r.batch} {r.device} {r.dtype}'
                       f'{" compiled" if r.compile else ""}')
                out[key] = ', '.join(
                    f'{k} {r2.results[k].latency / m.latency:.2f}'
                    for k, m in r.results.items() if k in r2.results)
    return out


def run_matmul(out=sys.stdout) -> Dict[str, float]:
    """Matrix-product rates of the CUDA device."""
    rates = {'bf16': matmul_tflops('cuda', torch.bfloat16),
             'fp32': matmul_tflops('cuda', torch.float32)}
    print('matmul 8192^3 TFLOP/s: ' + ', '.join(
        f'{k} {v:.0f}' for k, v in rates.items()), file=out)
    return rates


def main(argv: Optional[Sequence[str]] = None, out=sys.stdout) -> Dict:
    """Entry point; returns what it printed, as data."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU '
          f'threads' + (f', {torch.cuda.get_device_name()}'
                        if torch.cuda.is_available() else ''), file=out)
    result: Dict[str, object] = {}
    notes = Notes()
    if any(d.startswith('cuda') for d in args.devices):
        notes.matmul_tflops = run_matmul(out)
    if args.modes and args.batches:
        result.update(run_rows(args, notes, out))
    result.setdefault('notes', dataclasses.asdict(notes))
    if args.json:
        import json
        atomic_write(json.dumps(result, indent=1, default=str).encode(),
                     args.json)
    return result


if __name__ == '__main__':
    main()
