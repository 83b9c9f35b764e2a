"""A dataset from the user's own videos and class names
(``tools/data/build_dataset.py``).

The source is a folder with one sub-folder per class (the folder name is
the class name, ``_`` read as a space) or a CSV / TSV with ``path,label``
and an optional ``split`` column. Every file is probed once through the
video gate (:mod:`mmxclip.datasets.video_gate`): its container from its own
bytes, opened with PyAV held to that demuxer, the first frame decoded within
a :class:`~mmxclip.datasets.video_gate.Deadline`, the frame count and the
duration read from the stream. A file that fails is listed with the reason
and left out; files with the same content (SHA-256) are flagged and always
put in the same split. The output folder gets MMAction2 lists, the class
names and a config inheriting a base config; it is written to a temporary
folder next to it and renamed, so it is complete or absent.

Schedule by dataset size (:func:`schedule_for`), for N training videos and
the base config's batch B0, lr L0 and epochs E0:

* batch ``B`` = B0 halved until an epoch has at least 16 iterations
  (``N >= 16 B``) or B is 1;
* lr = L0 x B / B0 (the linear scaling rule, as ``auto_scale_lr``);
* epochs = ``ceil(1000 B / N)`` (about 1000 iterations in all), at least E0
  and at most 50 (X-CLIP's few-shot recipe trains 50).

The lr is for one process; ``tools/train.py --auto-scale-lr`` rescales it
for the world size (``auto_scale_lr.base_batch_size`` = B).
"""
import csv
import hashlib
import math
import os
import os.path as osp
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .broken_video import BrokenVideoError
from .splits import SPLITS, few_shot, stratified_split
from .video_gate import Deadline, open_container

# At least this many iterations per epoch (the batch is halved until so).
MIN_ITERS_PER_EPOCH = 16
# Iterations a schedule aims at in all, and the most epochs.
TARGET_ITERS = 1000
MAX_EPOCHS = 50
# Files the tool writes in OUT (besides the config).
CLASS_FILE = 'class_names.txt'


class DatasetError(ValueError):
    """Bad input: the message names the path, row or class and what was
    expected."""


@dataclass
class Item:
    """One video of the source.

    Attributes:
        path: Path in the lists (relative to the data root, or absolute).
        class_name: Its class.
        split: The split the source gives, or None.
        where: How to name it in messages (path, or CSV file and row).
    """
    path: str
    class_name: str
    split: Optional[str] = None
    where: str = ''


@dataclass
class Probe:
    """What probing one video found.

    Attributes:
        frames: Frames in the video stream (counted from its packets when
            the container does not say).
        seconds: Duration in seconds.
        digest: SHA-256 of the file's bytes.
        error: Why the video is unreadable ('' when it is readable).
    """
    frames: int = 0
    seconds: float = 0.0
    digest: str = ''
    error: str = ''


@dataclass
class Schedule:
    """Batch per process, epochs and lr of :func:`schedule_for`."""
    batch_size: int
    max_epochs: int
    lr: float


@dataclass
class Dataset:
    """A collected, probed and split dataset.

    Attributes:
        data_root: Folder the list paths are relative to.
        class_names: In label order (sorted).
        items: The readable videos.
        probes: Probe of each readable video (same order as ``items``).
        splits: Split of each readable video.
        broken: ``(item, reason)`` of each unreadable file.
        duplicates: Groups (two or more) of ``where`` with equal content.
    """
    data_root: str
    class_names: List[str]
    items: List[Item]
    probes: List[Probe]
    splits: List[str]
    broken: List[Tuple[Item, str]] = field(default_factory=list)
    duplicates: List[List[str]] = field(default_factory=list)

    def lines(self, split: str) -> List[str]:
        """``path label`` lines of a split, by class and path."""
        label = {name: i for i, name in enumerate(self.class_names)}
        return [f'{it.path} {label[it.class_name]}'
                for it, s in zip(self.items, self.splits) if s == split]


def folder_items(src: str, keep_underscores: bool = False
                 ) -> Tuple[str, List[Item]]:
    """The files of a class-folder source.

    Args:
        src: Folder with one sub-folder per class (videos may sit in
            deeper folders of a class).
        keep_underscores: Keep ``_`` in class names (default: a space).

    Returns:
        tuple: The data root (``src``) and every file as an :class:`Item`.

    Raises:
        DatasetError: ``src`` missing, holding no class folder, files beside
            the class folders, or an empty class folder.
    """
    if not osp.isdir(src):
        raise DatasetError(f'SRC {src!r} is not a folder (expected one '
                           'sub-folder per class, or a .csv / .tsv file)')
    entries = sorted(os.listdir(src))
    loose = [e for e in entries if not osp.isdir(osp.join(src, e))]
    if loose:
        raise DatasetError(
            f'SRC {src!r} holds files outside class folders: '
            f'{", ".join(loose[:5])}; expected only one sub-folder per '
            'class (SRC/<class name>/<video>)')
    if not entries:
        raise DatasetError(f'SRC {src!r} is empty; expected one sub-folder '
                           'per class (SRC/<class name>/<video>)')
    items = []
    for folder in entries:
        name = folder if keep_underscores else folder.replace('_', ' ')
        files = []
        for root, dirs, names in os.walk(osp.join(src, folder)):
            dirs.sort()
            files += [osp.relpath(osp.join(root, n), src)
                      for n in sorted(names)]
        if not files:
            raise DatasetError(f'class folder {osp.join(src, folder)!r} '
                               'holds no file; add videos or remove it')
        items += [Item(f, name, where=osp.join(src, f)) for f in files]
    return src, items


def table_items(path: str) -> Tuple[str, List[Item]]:
    """The rows of a CSV (``,``) or TSV (``.tsv``: tab) source.

    The header names the columns ``path`` and ``label`` (a class name) and
    optionally ``split`` (``train``, ``val`` or ``test`` on every row).
    Relative paths are relative to the table's folder.

    Returns:
        tuple: The data root (the table's folder) and the rows as items.

    Raises:
        DatasetError: A missing or empty table, missing columns, a row with
            an empty field, a missing file or an unknown split (naming the
            row).
    """
    if not osp.isfile(path):
        raise DatasetError(f'SRC {path!r} does not exist')
    root = osp.dirname(osp.abspath(path))
    delimiter = '\t' if path.lower().endswith('.tsv') else ','
    with open(path, encoding='utf-8', newline='') as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        columns = reader.fieldnames or []
        missing = {'path', 'label'} - set(columns)
        if missing:
            raise DatasetError(
                f'{path}: the header {columns} lacks {sorted(missing)}; '
                'expected the columns path,label and optionally split')
        items = []
        for row in reader:
            where = f'{path}: row {reader.line_num}'
            values = {k: (row.get(k) or '').strip()
                      for k in ('path', 'label', 'split')}
            for key in ('path', 'label'):
                if not values[key]:
                    raise DatasetError(f'{where} has no {key}')
            if not osp.isfile(osp.join(root, values['path'])):
                raise DatasetError(f'{where}: file {values["path"]!r} not '
                                   f'found (relative paths are relative to '
                                   f'{root})')
            split = values['split'] if 'split' in columns else None
            if split is not None and split not in SPLITS:
                raise DatasetError(f'{where}: split {split!r} is not one of '
                                   f'{", ".join(SPLITS)}')
            items.append(Item(values['path'], values['label'], split, where))
    if not items:
        raise DatasetError(f'{path} has a header but no rows')
    return root, items


def probe_video(path: str, name: Optional[str] = None) -> Probe:
    """Probe one video through the video gate; never raises for a bad
    file (its :class:`Probe` carries the reason).

    Args:
        path: The file.
        name: How to name it in the reason.
    """
    digest = hashlib.sha256()
    try:
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                digest.update(block)
        deadline = Deadline(name or path, osp.getsize(path))
        with open_container(path, name) as container:
            if not container.streams.video:
                return Probe(error='no video stream')
            stream = container.streams.video[0]
            frame = next(container.decode(stream), None)
            deadline.check()
            if frame is None:
                return Probe(error='no decodable video frame')
            frames = stream.frames
            if not frames:  # the container does not say: count packets
                container.seek(0)
                for packet in container.demux(stream):
                    frames += packet.size > 0
                    deadline.check()
            seconds = _duration(container, stream, frames)
    except BrokenVideoError as err:
        return Probe(error=err.reason)
    except Exception as err:  # any FFmpeg / OS error: reported, not raised
        return Probe(error=f'{type(err).__name__}: {err}')
    return Probe(frames, seconds, digest.hexdigest())


def _duration(container, stream, frames: int) -> float:
    """Seconds of the stream (its own duration, the container's, or frames
    over the frame rate)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1e6
    rate = stream.average_rate or stream.guessed_rate
    return float(frames / rate) if rate else 0.0


def collect(src: str, keep_underscores: bool = False,
            progress: bool = True) -> Tuple[str, List[Item], List[Probe]]:
    """Read the source and probe every file once (with MMEngine's progress
    bar on stderr).

    Returns:
        tuple: Data root, items, and the probe of each item.
    """
    from mmengine.utils import ProgressBar
    is_table = osp.isfile(src) and src.lower().endswith(('.csv', '.tsv'))
    if osp.isfile(src) and not is_table:
        raise DatasetError(f'SRC {src!r} is a file but not a .csv / .tsv '
                           'table; expected a class-folder tree or a table')
    root, items = (table_items(src) if is_table else
                   folder_items(src, keep_underscores))
    for it in items:
        if it.path != it.path.strip() or '\n' in it.path or '\r' in it.path:
            raise DatasetError(f'{it.where}: the path {it.path!r} starts or '
                               'ends with white space or holds a line break, '
                               'which an annotation list cannot carry')
    bar = ProgressBar(len(items), file=sys.stderr) if progress else None
    probes = []
    for it in items:
        probes.append(probe_video(osp.join(root, it.path), it.where))
        if bar:
            bar.update()
    if bar:
        sys.stderr.write('\n')
    return root, items, probes


def split_dataset(root: str, items: Sequence[Item], probes: Sequence[Probe],
                  val_ratio: float, test_ratio: float = 0.0,
                  seed: int = 0) -> Dataset:
    """Leave out unreadable videos, flag duplicates and split.

    Videos are ordered by class and path. The source's splits are used
    when it gives them; otherwise a stratified split
    (:func:`~mmxclip.datasets.splits.stratified_split`) in which equal files
    share a split.

    Raises:
        DatasetError: Class names CLIP reads as one, a class without a
            readable video, classes too small for the split.
    """
    from ..models.heads import load_class_names
    broken = [(it, p.error) for it, p in zip(items, probes) if p.error]
    # By class and path: the lists and the split do not depend on the
    # order of a table's rows.
    good = sorted(((it, p) for it, p in zip(items, probes) if not p.error),
                  key=lambda pair: (pair[0].class_name, pair[0].path))
    names = sorted({it.class_name for it in items})
    try:
        load_class_names(names, name='the class names')
    except ValueError as err:
        raise DatasetError(str(err)) from err
    have = Counter(it.class_name for it, _ in good)
    empty = [n for n in names if not have[n]]
    if empty:
        raise DatasetError(f'{len(empty)} classes have no readable video: '
                           f'{", ".join(map(repr, empty))} (see the '
                           'unreadable files above)')
    same: Dict[str, List[str]] = defaultdict(list)
    for it, p in good:
        same[p.digest].append(it.where)
    duplicates = [group for group in same.values() if len(group) > 1]
    label = {n: i for i, n in enumerate(names)}
    given = [it.split for it, _ in good]
    if all(s is not None for s in given):
        splits = given
    else:
        try:
            splits = stratified_split(
                [label[it.class_name] for it, _ in good], val_ratio,
                test_ratio, seed, [p.digest for _, p in good], names)
        except ValueError as err:
            raise DatasetError(str(err)) from err
    return Dataset(root, names, [it for it, _ in good],
                   [p for _, p in good], splits, broken, duplicates)


def schedule_for(num_train: int, base_batch: int, base_lr: float,
                 base_epochs: int) -> Schedule:
    """Batch, epochs and lr for ``num_train`` videos (the rule in this
    module's docstring)."""
    batch = base_batch
    while batch > 1 and num_train < MIN_ITERS_PER_EPOCH * batch:
        batch //= 2
    epochs = math.ceil(TARGET_ITERS * batch / max(num_train, 1))
    epochs = min(MAX_EPOCHS, max(base_epochs, epochs))
    return Schedule(batch, epochs, base_lr * batch / base_batch)


def class_table(data: Dataset) -> str:
    """Per class: videos in each split, total duration, broken files."""
    count = Counter((it.class_name, s)
                    for it, s in zip(data.items, data.splits))
    seconds = Counter()
    for it, p in zip(data.items, data.probes):
        seconds[it.class_name] += p.seconds
    broken_of = Counter(it.class_name for it, _ in data.broken)
    width = max(len(n) for n in data.class_names + ['class'])
    used = [s for s in SPLITS if any(s == x for x in data.splits)]
    head = f'{"label":>5}  {"class":<{width}}' + ''.join(
        f'  {s:>6}' for s in used) + f'  {"duration":>10}  {"broken":>6}'
    rows = [head]
    for i, name in enumerate(data.class_names):
        rows.append(f'{i:>5}  {name:<{width}}' + ''.join(
            f'  {count[name, s]:>6}' for s in used) +
            f'  {_hms(seconds[name]):>10}  {broken_of[name]:>6}')
    rows.append(f'{"":>5}  {"total":<{width}}' + ''.join(
        f'  {sum(count[n, s] for n in data.class_names):>6}' for s in used) +
        f'  {_hms(sum(seconds.values())):>10}  {len(data.broken):>6}')
    return '\n'.join(rows)


def _hms(seconds: float) -> str:
    """``h:mm:ss``."""
    s = int(round(seconds))
    return f'{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}'


def prepare_out(out: str, src: str) -> str:
    """Check OUT before anything is written; its absolute path.

    Raises:
        DatasetError: OUT exists with content, is a file, or lies inside a
            class-folder SRC (a later run would read it as a class).
    """
    out = osp.abspath(out)
    if osp.exists(out) and (not osp.isdir(out) or os.listdir(out)):
        raise DatasetError(f'OUT {out!r} exists and is not an empty folder; '
                           'choose a new OUT or remove it (nothing was '
                           'written)')
    if osp.isdir(src):
        src_abs = osp.realpath(src)
        if osp.commonpath([src_abs, osp.realpath(out)]) == src_abs:
            raise DatasetError(f'OUT {out!r} lies inside SRC {src!r}, where '
                               'it would be read as a class folder')
    return out


def write_atomic(out: str, files: Dict[str, str]) -> None:
    """Write ``files`` (name -> text) into a temporary folder beside
    ``out`` and rename it to ``out``: OUT is complete or absent."""
    parent = osp.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.', dir=parent)
    try:
        for name, text in files.items():
            with open(osp.join(tmp, name), 'w', encoding='utf-8') as f:
                f.write(text)
        if osp.isdir(out):
            os.rmdir(out)  # empty (prepare_out): replaced by the new one
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def list_text(lines: Sequence[str]) -> str:
    """An annotation list's file content."""
    return ''.join(line + '\n' for line in lines)


def train_lines(data: Dataset, shots: Optional[int], seed: int
                ) -> List[str]:
    """The training list: all training videos, or K per class
    (:func:`~mmxclip.datasets.splits.few_shot`, as
    ``tools/data/make_few_shot_split.py``).

    Raises:
        DatasetError: Classes with fewer than K training videos, named.
    """
    lines = data.lines('train')
    if shots is None:
        return lines
    have = Counter(int(line.rsplit(maxsplit=1)[1]) for line in lines)
    short = [f'{name!r} ({have[i]})' for i, name in
             enumerate(data.class_names) if have[i] < shots]
    if short:
        raise DatasetError(f'--shots {shots}: {len(short)} classes have '
                           f'fewer training videos: {", ".join(short)}')
    return few_shot(lines, shots, seed, 'the training split')


@dataclass
class Built:
    """What :func:`build_dataset` wrote.

    Attributes:
        out: The output folder.
        config: The config's path.
        data: The split dataset.
        schedule: The schedule the config holds.
        lists: List file name -> number of videos.
    """
    out: str
    config: str
    data: Dataset
    schedule: Schedule
    lists: Dict[str, int]


def build_dataset(src: str,
                  out: str,
                  base: str,
                  name: Optional[str] = None,
                  checkpoint: Optional[str] = None,
                  class_texts: Optional[str] = None,
                  val_ratio: float = 0.2,
                  test_ratio: float = 0.0,
                  shots: Optional[int] = None,
                  seed: int = 0,
                  keep_underscores: bool = False,
                  progress: bool = True) -> Built:
    """Probe, split and write a dataset with its config
    (``tools/data/build_dataset.py``).

    Everything is checked before OUT is written; OUT is written whole.

    Args:
        src: Class-folder tree, or a CSV / TSV table.
        out: Output folder (new or empty).
        base: Config the written one inherits (any mmxclip config).
        name: The config is ``OUT/xclip_<name>.py`` (default: OUT's name).
        checkpoint: Weights to start from (``load_from``): an mmxclip
            checkpoint, or any format :func:`~mmxclip.apis.init_xclip`
            reads (then loaded through ``clip://``).
        class_texts: YAML / JSON file ``{class name: [text, ...]}``.
        val_ratio: Fraction of each class for val (when the source gives
            no split).
        test_ratio: Fraction of each class for a test list.
        shots: Train on K videos per class.
        seed: Seed of the split and the K-shot draw.
        keep_underscores: Keep ``_`` in folder names.
        progress: Show the probing progress bar.

    Returns:
        Built: What was written.

    Raises:
        DatasetError: Bad input, naming the path, row or class.
        FileNotFoundError: The base config or the checkpoint is missing.
    """
    from mmengine.config import Config
    if shots is not None and shots < 1:
        raise DatasetError(f'--shots must be >= 1, got {shots}')
    if not osp.isfile(base):
        raise FileNotFoundError(f'--base config not found: {base!r}')
    out = prepare_out(out, src)
    base = osp.abspath(base)
    base_cfg = Config.fromfile(base)
    head = base_cfg.model.cls_head
    texts = _class_texts(class_texts)
    root, items, probes = collect(src, keep_underscores, progress)
    data = split_dataset(root, items, probes, val_ratio, test_ratio, seed)
    from ..models.heads import load_class_texts
    try:
        load_class_texts(texts, data.class_names,
                         head.get('prompt_template', '{}'),
                         head.get('text_cfg', {}).get('context_length', 77))
    except ValueError as err:
        raise DatasetError(f'{class_texts or "class names"}: {err}') from err
    train = train_lines(data, shots, seed)
    schedule = schedule_for(
        len(train), base_cfg.train_dataloader.batch_size,
        base_cfg.optim_wrapper.optimizer.lr, base_cfg.train_cfg.max_epochs)
    lists = {'train.txt': data.lines('train'), 'val.txt': data.lines('val')}
    if test_ratio > 0 or 'test' in data.splits:
        lists['test.txt'] = data.lines('test')
    train_name = 'train.txt'
    if shots is not None:
        train_name = f'train_{shots}shot_seed{seed}.txt'
        lists[train_name] = train
    empty = [k for k, v in lists.items() if not v]
    if empty:
        raise DatasetError(f'no videos for {", ".join(empty)}: with a split '
                           'column every split the config uses needs rows; '
                           'with ratios, raise --val-ratio / --test-ratio')
    name = _config_name(name or osp.basename(out))
    config = osp.join(out, f'xclip_{name}.py')
    load = _load_from(checkpoint, base_cfg) if checkpoint else None
    text = config_text(base, out, data, schedule, base_cfg, train_name,
                       'test.txt' if 'test.txt' in lists else 'val.txt',
                       load, texts, src=src, seed=seed, shots=shots)
    cfg = Config.fromstring(text, '.py')  # it parses and inherits
    if checkpoint:
        _check_fits(cfg, checkpoint, data.class_names)
    files = {k: list_text(v) for k, v in lists.items()}
    files[CLASS_FILE] = list_text(data.class_names)
    files[osp.basename(config)] = text
    write_atomic(out, files)
    return Built(out, config, data, schedule,
                 {k: len(v) for k, v in lists.items()})


def _class_texts(path: Optional[str]) -> Optional[dict]:
    """The class-texts file as data (checked against the classes later)."""
    if path is None:
        return None
    from ..models.heads.class_names import _read_texts
    try:
        return _read_texts(path)
    except (ValueError, FileNotFoundError) as err:
        raise DatasetError(f'--class-texts: {err}') from err


def _config_name(name: str) -> str:
    """A file-name-safe config name: letters, digits and ``_``."""
    safe = ''.join(c if c.isalnum() else '_' for c in name.lower()).strip('_')
    return safe or 'dataset'


@dataclass
class LoadFrom:
    """How the config loads ``--checkpoint``.

    Attributes:
        load_from: The config's ``load_from``.
        quick_gelu: The activation the model is built with.
        format: The weights' format.
    """
    load_from: str
    quick_gelu: bool
    format: str


def _load_from(checkpoint: str, base_cfg) -> LoadFrom:
    """``load_from`` of a checkpoint and the activation to build with.

    An mmxclip checkpoint file loads as it is; any other format goes
    through ``clip://`` (:func:`mmxclip.weights.load_from_clip`), which
    reads every format ``init_xclip`` does. The base's CLIP ``init_cfg`` is
    dropped (the checkpoint replaces it, and nothing is downloaded), so the
    activation it implied is written explicitly.

    Raises:
        DatasetError: The weights' activation contradicts the base's.
    """
    from ..models.layers import resolve_quick_gelu
    from ..weights import read_weights
    path = osp.abspath(checkpoint)
    try:
        weights = read_weights(path)
    except ValueError as err:
        raise DatasetError(f'--checkpoint: {err}') from err
    backbone = base_cfg.model.backbone
    gelu = resolve_quick_gelu(backbone.get('quick_gelu'),
                              backbone.get('init_cfg'), 'backbone')
    if weights.quick_gelu not in (None, gelu):
        raise DatasetError(
            f'--checkpoint {checkpoint} ({weights.format}) uses '
            f'{"QuickGELU" if weights.quick_gelu else "nn.GELU"}, the base '
            'config the other; pick a --base of its architecture')
    plain = weights.format == 'mmxclip' and osp.isfile(path)
    return LoadFrom(path if plain else 'clip://' + path, gelu,
                    weights.format)


def _check_fits(cfg, checkpoint: str, class_names: Sequence[str]) -> None:
    """Build the config's model and check the checkpoint's tensors fit it
    (names and shapes), so a wrong ``--base`` fails here, not in training.

    Raises:
        DatasetError: Naming the keys and shapes that do not fit.
    """
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from ..weights import XCLIP_ONLY, check_state_dict, read_weights
    init_default_scope('mmaction')
    model_cfg = cfg.model.to_dict()
    model_cfg['cls_head']['class_names'] = list(class_names)
    weights = read_weights(checkpoint)
    try:
        check_state_dict(MODELS.build(model_cfg), weights.state_dict,
                         checkpoint, None if weights.is_xclip else XCLIP_ONLY)
    except ValueError as err:
        raise DatasetError(f'--checkpoint does not fit the --base model: '
                           f'{err}') from err


def config_text(base: str, out: str, data: Dataset, schedule: Schedule,
                base_cfg, train_list: str, test_list: str,
                load: Optional[LoadFrom], class_texts: Optional[dict],
                src: str, seed: int, shots: Optional[int]) -> str:
    """The config: the base with this dataset's classes, lists, data root,
    schedule, start weights and test metrics."""
    k = len(data.class_names)
    head = dict(class_names=osp.join(out, CLASS_FILE), num_classes=k)
    if class_texts:
        head['class_texts'] = class_texts
    model = dict(cls_head=head)
    if load:
        head.update(init_cfg=None, text_cfg=dict(quick_gelu=load.quick_gelu))
        model['backbone'] = dict(init_cfg=None, quick_gelu=load.quick_gelu)
        if base_cfg.model.get('init_cfg'):
            model['init_cfg'] = None
    blending = base_cfg.model.get('data_preprocessor', {}).get('blending')
    if blending and 'augments' in blending:
        model['data_preprocessor'] = dict(blending=dict(augments=[
            dict(a, num_classes=k) if 'num_classes' in a else dict(a)
            for a in blending['augments']]))
    counts = Counter(data.splits)
    base_train = base_cfg.train_dataloader.batch_size
    split = ("the source's split column" if all(
        it.split for it in data.items) else f'stratified, seed {seed}')
    lines = [
        '# Generated by tools/data/build_dataset.py from '
        + ('the class folders' if osp.isdir(src) else 'the table')
        + f' {osp.abspath(src)}:',
        f'# {k} classes; {counts["train"]} train / {counts["val"]} val / '
        f'{counts["test"]} test videos ({split})'
        + (f'; training on {shots} per class' if shots else '') + '.',
        '# Schedule by the dataset-size rule of mmxclip.datasets.build from '
        f'the base batch {base_train},',
        f'# lr {base_cfg.optim_wrapper.optimizer.lr:g} and '
        f'{base_cfg.train_cfg.max_epochs} epochs: batch '
        f'{schedule.batch_size} per process, {schedule.max_epochs} epochs, '
        f'lr {schedule.lr:g}',
        '# (tools/train.py --auto-scale-lr rescales it for more processes).',
        f'_base_ = [{base!r}]',
        '',
        _assign('data_root', data.data_root),
        _assign('model', model),
    ]
    for loader, ann in (('train', train_list), ('val', 'val.txt'),
                        ('test', test_list)):
        cfg = dict(dataset=dict(ann_file=osp.join(out, ann),
                                data_prefix=dict(video=data.data_root)))
        if loader == 'train':
            cfg = dict(batch_size=schedule.batch_size, **cfg)
        lines.append(_assign(f'{loader}_dataloader', cfg))
    lines += [
        _assign('train_cfg', dict(max_epochs=schedule.max_epochs)),
        _assign('optim_wrapper', dict(optimizer=dict(lr=schedule.lr))),
        _assign('auto_scale_lr', dict(enable=False,
                                      base_batch_size=schedule.batch_size)),
        '# Top-1 / top-5 / mean class accuracy (AccMetric) and the confusion',
        '# matrix, which ClassAccuracyHook prints per class and draws.',
        _assign('test_evaluator', [
            dict(type='AccMetric',
                 metric_list=('top_k_accuracy', 'mean_class_accuracy')),
            dict(type='ConfusionMatrix')]),
        'custom_hooks = _base_.custom_hooks + '
        "[dict(type='ClassAccuracyHook')]",
        (f'# {load.format} weights\n' if load else '')
        + _assign('load_from', load.load_from if load else None),
    ]
    return '\n'.join(lines) + '\n'


def _assign(name: str, value) -> str:
    """``name = value`` as Python literal text."""
    from pprint import pformat
    text = pformat(value, width=79 - len(name) - 3, sort_dicts=False)
    return f'{name} = ' + text.replace('\n', '\n' + ' ' * (len(name) + 3))
