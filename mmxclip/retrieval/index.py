"""A folder of X-CLIP video features for text-to-video search.

X-CLIP's prompts are video-specific: a text's score for a video needs the
video's embedding and the prompt generator's visual tokens, so both are
kept. Layout (nothing in it can run: JSON and ``.npy`` read with
``allow_pickle=False``)::

    IDX/index.json              format, version, the model (checkpoint,
                                frames, views, float32 state-dict sha256,
                                precision, test pipeline), sizes V, N,
                                E, the token dtype, the committed shards
                                and their counts
    IDX/shard-000000/video.npy  (M, V, E) float32, view embeddings
    IDX/shard-000000/visual.npy (M, V, N, E) float16 (or float32), visual
                                tokens, memory-mapped when searched
    IDX/shard-000000/paths.json the M videos' absolute paths
    ...

Bytes per video: ``V * (2 N E + 4 E)`` plus its path, for a B/16 at 224 px
(N = 196, E = 512) and one view 202,752 bytes: 100,000 videos take 20.3 GB
of disk, and a search reads them in chunks, never all at once. Adding
videos writes new shards (``shard_size`` videos each) into a temporary
folder, renames it and then rewrites ``index.json`` atomically: a stopped run
loses at most its unfinished shard, and a folder ``index.json`` does not
list is never read. One process adds at a time (a lock file in ``IDX``).
"""
import json
import os
import os.path as osp
import re
import shutil
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from torch import nn

from ..apis.features import VideoFeatures, run_videos
from ..apis.identity import (check_model_record, identity_mismatch,
                             model_identity, recorded)
from ..engine.atomic_io import atomic_write
from ..engine.work_dir_lock import WorkDirLock

FORMAT = 'mmxclip-video-index'
VERSION = 1
SHARD = re.compile(r'shard-\d{6}')
TMP = re.compile(r'\.shard-\d{6}\.tmp-\d+')
DTYPES = ('float16', 'float32')


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and \
        value > 0


def _check_info(info: Any, path: str) -> None:
    """Refuse an ``index.json`` whose fields are missing or of the wrong
    kind, naming the file and the field.

    Raises:
        ValueError: The first field that is wrong.
    """
    if not isinstance(info, dict) or info.get('format') != FORMAT or \
            info.get('version') != VERSION:
        raise ValueError(f'{path}: not a {FORMAT} version {VERSION} '
                         'index.json')
    if info.get('visual_dtype') not in DTYPES:
        raise ValueError(f'{path}: visual_dtype must be one of {DTYPES}')
    if not _positive_int(info.get('embed_dim')):
        raise ValueError(f'{path}: embed_dim must be a positive integer, '
                         f'got {info.get("embed_dim")!r}')
    model = info.get('model')
    if not isinstance(model, dict):
        raise ValueError(f'{path}: model must be the record of the model '
                         f'that made the index, got {model!r}')
    check_model_record(model, f'{path}: model', rebuild=True)
    shards = info.get('shards')
    if not isinstance(shards, list):
        raise ValueError(f'{path}: shards must be a list')
    for key in ('num_views', 'num_tokens'):
        if not (_positive_int(info.get(key)) or
                info.get(key) is None and not shards):
            raise ValueError(f'{path}: {key} must be a positive integer, '
                             f'got {info.get(key)!r}')
    seen = set()
    for shard in shards:
        name = shard.get('name') if isinstance(shard, dict) else None
        if not isinstance(name, str) or not SHARD.fullmatch(name):
            raise ValueError(f'{path}: shard name {name!r} is not '
                             "'shard-' and 6 digits")
        if name in seen:
            raise ValueError(f'{path}: {name} is listed twice')
        seen.add(name)
        if not _positive_int(shard.get('count')):
            raise ValueError(f'{path}: {name} count must be a positive '
                             f'integer, got {shard.get("count")!r}')


class VideoIndex:
    """An index folder, opened (its shards memory-mapped).

    Args:
        root: The folder, with ``index.json``.

    Raises:
        ValueError: A file that is not what the format says, named.
        FileNotFoundError: No ``index.json``.
    """

    def __init__(self, root: str) -> None:
        self.root = osp.abspath(root)
        if not osp.isfile(osp.join(self.root, 'index.json')):
            raise FileNotFoundError(f'{root}: no index.json; not an index '
                                    '(make one with search_videos.py index)')
        self.refresh()

    def refresh(self) -> None:
        """Re-read ``index.json`` and open the shards it lists now (what
        another process or another :class:`VideoIndex` added since is
        seen; until then this one keeps its consistent older view)."""
        path = osp.join(self.root, 'index.json')
        with open(path, encoding='utf-8') as f:
            try:
                info = json.load(f)
            except ValueError as err:
                raise ValueError(f'{path}: not JSON ({err})') from err
        _check_info(info, path)
        video, visual, paths, where = [], [], [], {}
        for shard in info['shards']:
            arrays = self._open_shard(info, shard)
            for p in arrays[2]:
                if p in where:
                    raise ValueError(f'{path}: {p} is in {where[p]} and in '
                                     f'{shard["name"]}; a video is indexed '
                                     'once')
                where[p] = shard['name']
            video.append(arrays[0])
            visual.append(arrays[1])
            paths += arrays[2]
        self.info, self.video, self.visual, self.paths = (info, video,
                                                          visual, paths)

    def _open_shard(self, info: Dict[str, Any], shard: Dict[str, Any]
                    ) -> Tuple[np.ndarray, np.ndarray, List[str]]:
        """One committed shard, memory-mapped, names and shapes checked:
        (video, visual, paths)."""
        folder = osp.join(self.root, shard['name'])
        v, n, e = (info[k] for k in ('num_views', 'num_tokens', 'embed_dim'))
        count = shard['count']
        arrays = {}
        for key, shape, dtype in (
                ('video', (count, v, e), 'float32'),
                ('visual', (count, v, n, e), info['visual_dtype'])):
            path = osp.join(folder, f'{key}.npy')
            try:
                arrays[key] = np.load(path, mmap_mode='r', allow_pickle=False)
            except (OSError, ValueError) as err:
                raise ValueError(f'{path}: cannot be read ({err})') from err
            if arrays[key].shape != shape or arrays[key].dtype != dtype:
                raise ValueError(
                    f'{path}: {arrays[key].dtype} {arrays[key].shape}, '
                    f'expected {dtype} {shape}')
        path = osp.join(folder, 'paths.json')
        try:
            with open(path, encoding='utf-8') as f:
                paths = json.load(f)
        except (OSError, ValueError) as err:
            raise ValueError(f'{path}: cannot be read ({err})') from err
        if not isinstance(paths, list) or len(paths) != count or \
                not all(isinstance(p, str) for p in paths):
            raise ValueError(f'{path}: expected a list of {count} paths')
        return arrays['video'], arrays['visual'], paths

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def model(self) -> Dict[str, Any]:
        """What made the index: ``checkpoint``, ``num_frames``,
        ``num_clips``, ``num_crops`` and :func:`model_identity`."""
        return self.info['model']

    @property
    def precision(self) -> str:
        """The precision the videos were encoded in: queries run in it."""
        return recorded(self.model, 'precision')

    def check_model(self, model: nn.Module) -> None:
        """Refuse a model other than the one that made the index, or the
        same weights at another precision (the texts' side of a score is
        computed in the precision the videos' side was).

        Raises:
            ValueError: Another state dict, precision or test pipeline,
                both named.
        """
        mine = model_identity(model)
        key = identity_mismatch(self.model, mine)
        if key is not None:
            raise ValueError(
                f'{self.root} was made by {self.model["checkpoint"]} '
                f'({key} {json.dumps(recorded(self.model, key))[:80]}); '
                f'this model has {json.dumps(mine[key])[:80]}. Query it '
                'with the model that made it')

    @classmethod
    def create(cls, root: str, model: nn.Module, checkpoint: str,
               init_args: Dict[str, Any],
               visual_dtype: str = 'float16') -> 'VideoIndex':
        """Start an empty index for ``model`` (V and N are set by the first
        shard).

        Args:
            root: A folder without ``index.json``.
            model: The model (from :func:`init_xclip`).
            checkpoint: Its weights, recorded to rebuild it for queries.
            init_args: ``num_frames``, ``num_clips``, ``num_crops`` it was
                built with.
            visual_dtype: ``'float16'`` (half the disk) or ``'float32'``.
        """
        if visual_dtype not in DTYPES:
            raise ValueError(f'visual_dtype must be one of {DTYPES}, got '
                             f'{visual_dtype!r}')
        path = osp.join(root, 'index.json')
        if osp.exists(path):
            raise FileExistsError(f'{path} exists')
        info = dict(format=FORMAT, version=VERSION,
                    model=dict(model_identity(model),
                               checkpoint=osp.abspath(checkpoint),
                               **init_args),
                    num_views=None, num_tokens=None,
                    embed_dim=model.backbone.output_dim,
                    visual_dtype=visual_dtype, shards=[])
        atomic_write(json.dumps(info, indent=1).encode(), path)
        return cls(root)

    def add(self,
            model: nn.Module,
            videos: Sequence[str],
            batch_size: int = 8,
            shard_size: int = 1024,
            file: Optional[TextIO] = None) -> List[str]:
        """Add the videos the index does not hold yet.

        Args:
            model: The model that made the index (checked).
            videos: Video files; known ones (same absolute path) and
                repeats skipped.
            batch_size: Videos encoded together.
            shard_size: Videos per shard written.
            file: Progress bar and failures; ``sys.stderr`` when None.

        Returns:
            list[str]: The videos that could not be read (not added).
        """
        self.check_model(model)
        lock = WorkDirLock(self.root, '--index')
        warning = lock.acquire()
        if warning:
            MMLogger.get_current_instance().warning(warning)
        failed: List[str] = []
        try:
            # What another process or VideoIndex added since this one was
            # opened: work from index.json as it is under the lock.
            self.refresh()
            if lock.held:
                self._clean()
            known, todo = set(self.paths), []
            for video in videos:  # new ones, each once
                if osp.abspath(video) not in known:
                    known.add(osp.abspath(video))
                    todo.append(video)
            pending: List[tuple] = []

            def done(video: str, feats: VideoFeatures) -> None:
                if not all(torch.isfinite(x).all() for x in feats[:4]):
                    failed.append(video)
                    print(f'\nfailed: {video!r}: its features hold NaN or '
                          'inf; not added', file=file or sys.stderr)
                    return
                pending.append((osp.abspath(video), feats))
                if len(pending) == shard_size:
                    self._commit(pending)
                    pending.clear()

            failed += run_videos(model, todo, done, batch_size, file=file)
            if pending:
                self._commit(pending)
        finally:
            lock.release()
        return failed

    def _clean(self) -> None:
        """Remove what a stopped run left: temporary shard folders and
        shards ``index.json`` does not list. Only under the OS lock, after
        :meth:`refresh`: every writer holds the lock, so these are a dead
        writer's, never a live one's."""
        listed = {shard['name'] for shard in self.info['shards']}
        for entry in os.listdir(self.root):
            stray = (TMP.fullmatch(entry) or SHARD.fullmatch(entry)
                     and entry not in listed)
            if stray and osp.isdir(osp.join(self.root, entry)):
                shutil.rmtree(osp.join(self.root, entry))

    def _commit(self, items: List[tuple]) -> None:
        """Write a shard under a name no folder has, then list it in
        ``index.json``."""
        numbers = [int(entry[6:]) for entry in os.listdir(self.root)
                   if SHARD.fullmatch(entry)]
        numbers += [int(shard['name'][6:]) for shard in self.info['shards']]
        name = f'shard-{max(numbers, default=-1) + 1:06d}'
        final = osp.join(self.root, name)
        tmp = osp.join(self.root, f'.{name}.tmp-{os.getpid()}')
        os.makedirs(tmp)
        try:
            video = np.stack([f.view_embeddings.float().numpy()
                              for _, f in items])
            visual = np.stack([f.visual_tokens.numpy() for _, f in items])
            np.save(osp.join(tmp, 'video.npy'), video.astype(np.float32))
            np.save(osp.join(tmp, 'visual.npy'),
                    visual.astype(self.info['visual_dtype']))
            with open(osp.join(tmp, 'paths.json'), 'w',
                      encoding='utf-8') as f:
                json.dump([p for p, _ in items], f)
            for entry in os.listdir(tmp):
                with open(osp.join(tmp, entry), 'rb') as f:
                    os.fsync(f.fileno())
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # this writer's own
            raise
        info = dict(self.info,
                    shards=[*self.info['shards'],
                            dict(name=name, count=len(items))])
        if info['num_views'] is None:  # the first shard
            info.update(num_views=visual.shape[1], num_tokens=visual.shape[2])
        atomic_write(json.dumps(info, indent=1).encode(),
                     osp.join(self.root, 'index.json'))
        video, visual, paths = self._open_shard(info, info['shards'][-1])
        self.info = info
        self.video.append(video)
        self.visual.append(visual)
        self.paths += paths
