"""Make ``--resume`` continue exactly where the checkpoint was taken.

:class:`ExactResumeHook` stores the random number generators' states in
checkpoints (:func:`get_rng_state`, :func:`set_rng_state`), restores them at
the checkpoint's point of the data stream (the dataloader proxies
:class:`_RestoreAfter` and :class:`_ResumeEpoch`), continues an
``EpochBasedTrainLoop`` from a mid-epoch (iteration-interval) checkpoint
instead of re-running the epoch from its start, and keeps validation from
consuming training randomness.
"""
import random
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop


def get_rng_state() -> Dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators.

    Stored as tensors, ints and lists only, so checkpoints load with
    ``weights_only=True``.
    """
    version, mt_state, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=[version, list(mt_state), gauss],
        numpy=[name, keys.tolist(), pos, has_gauss, cached],
        torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    version, mt_state, gauss = state['python']
    random.setstate((version, tuple(mt_state), gauss))
    name, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((name, np.asarray(keys, np.uint32), pos, has_gauss,
                         cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfter:
    """Iterator proxy that calls ``restore`` before item ``skip`` is fetched.

    Used on ``IterBasedTrainLoop.dataloader_iterator``: MMEngine replays the
    first ``skip`` batches after a resume, and training continues from the
    restored generators exactly as it did when the checkpoint was taken.
    """

    def __init__(self, inner: Iterator, skip: int,
                 restore: Callable[[], None]) -> None:
        self.inner = inner
        self.skip = skip
        self.restore = restore
        self.fetched = 0

    def __iter__(self) -> '_RestoreAfter':
        return self

    def __next__(self) -> Any:
        if self.fetched == self.skip:
            self.restore()
        self.fetched += 1
        return next(self.inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _ResumeEpoch:
    """DataLoader proxy whose first pass skips the batches already trained.

    Used on ``EpochBasedTrainLoop.dataloader`` when resuming from a mid-epoch
    checkpoint. The skipped batches are loaded (not just their indices
    dropped) so that the dataloader workers' random augmentations stay in
    step with the uninterrupted run. ``restore`` is called at the point of
    the data stream where the checkpoint was taken.
    """

    def __init__(self, dataloader: Any, skip: int,
                 restore: Callable[[], None]) -> None:
        self.dataloader = dataloader
        self.skip = skip
        self.restore = restore

    def __len__(self) -> int:
        return len(self.dataloader)

    def __iter__(self) -> Iterator:
        if self.skip == 0:
            self.restore()
        batches = iter(self.dataloader)
        for _ in range(self.skip):
            next(batches)
        if self.skip:
            self.restore()
        return batches

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dataloader, name)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Resume training bit-identically to an uninterrupted run.

    MMEngine restores weights, optimizer, schedulers and the iteration
    counter, but (1) it re-seeds instead of restoring the random generators,
    so dropout, drop path and batch blending (mixup/cutmix) draw different
    numbers after a resume, and (2) an ``EpochBasedTrainLoop`` resumed from
    a checkpoint saved mid-epoch (``CheckpointHook(by_epoch=False)``)
    re-runs that epoch from its first batch, training those batches twice.
    This hook fixes both, and saves/restores the generators around
    validation so that validating does not change training.

    Exactness needs a fixed seed, ``deterministic=True`` and the same
    number of processes; past the first epoch of an ``EpochBasedTrainLoop``
    also ``persistent_workers=False`` (or no workers): persistent dataloader
    workers carry their generators from epoch to epoch, and those states,
    in other processes, are not in the checkpoint (a warning says so; the
    ``IterBasedTrainLoop`` replays every batch, which keeps them in step).
    With ``randomness.diff_rank_seed=True`` only the
    generators of rank 0 are saved, so they are not restored (a warning
    says so); with the default (same seed on every rank) all ranks draw the
    same numbers and rank 0's state serves them all.
    """

    priority = 'VERY_HIGH'
    CHECKPOINT_KEY = 'rng_state'

    def __init__(self) -> None:
        self._loaded: Optional[Dict[str, Any]] = None
        self._val_state: Optional[Dict[str, Any]] = None

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Store the generators' states in the checkpoint."""
        checkpoint[self.CHECKPOINT_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Keep the loaded states until training reaches their point."""
        self._loaded = checkpoint.get(self.CHECKPOINT_KEY)

    def before_train(self, runner: Any) -> None:
        """After a resume, arrange to continue at the checkpoint's point.

        Raises:
            RuntimeError: A mid-epoch checkpoint whose iteration does not
                fit the current dataloader length.
        """
        if runner.iter == 0:
            return
        state = self._state_to_restore(runner)

        def restore() -> None:
            if state is not None:
                set_rng_state(state)

        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop):
            loop.dataloader_iterator = _RestoreAfter(
                loop.dataloader_iterator, loop.iter, restore)
        elif isinstance(loop, EpochBasedTrainLoop):
            per_epoch = len(loop.dataloader)
            skip = loop.iter - loop.epoch * per_epoch
            # skip == per_epoch: saved after the epoch's last iteration,
            # before its end (epoch hooks, validation), which still runs.
            if not 0 <= skip <= per_epoch:
                raise RuntimeError(
                    f'cannot resume iteration {loop.iter} in epoch '
                    f'{loop.epoch + 1}: the dataloader has {per_epoch} '
                    'batches per epoch, so the checkpoint was taken with '
                    'another dataset or batch size; expected '
                    f'{loop.epoch * per_epoch} <= iteration <= '
                    f'{(loop.epoch + 1) * per_epoch}')
            if skip:
                print_log(f'ExactResumeHook: resuming inside epoch '
                          f'{loop.epoch + 1}, skipping its first {skip} '
                          'batches', logger='current')
            if loop.epoch and getattr(loop.dataloader, 'persistent_workers',
                                      False):
                runner.logger.warning(
                    f'ExactResumeHook: resuming in epoch {loop.epoch + 1} '
                    'with persistent dataloader workers, whose random '
                    'generators (augmentation) are not in the checkpoint: '
                    'the run continues, but not bit-identically; set '
                    'train_dataloader.persistent_workers=False for an exact '
                    'resume')
            loop.dataloader = _ResumeEpoch(loop.dataloader, skip, restore)
        else:
            restore()

    def after_train_epoch(self, runner: Any) -> None:
        """Put the plain dataloader back after the resumed epoch."""
        loop = runner.train_loop
        if isinstance(getattr(loop, 'dataloader', None), _ResumeEpoch):
            loop.dataloader = loop.dataloader.dataloader

    def before_val(self, runner: Any) -> None:
        """Save the generators so validation leaves training unchanged."""
        self._val_state = get_rng_state()

    def after_val(self, runner: Any) -> None:
        """Restore the generators saved in :meth:`before_val`."""
        if self._val_state is not None:
            set_rng_state(self._val_state)
            self._val_state = None

    def _state_to_restore(self, runner: Any) -> Optional[Dict[str, Any]]:
        """The loaded states, or None (with a warning) if unusable."""
        if self._loaded is None:
            runner.logger.warning(
                'ExactResumeHook: the checkpoint has no random generator '
                'state (saved without this hook); the resumed run continues '
                'with freshly seeded generators')
        # Private MMEngine API: Runner._randomness_cfg (no public getter);
        # why setup.py pins mmengine<0.11.
        elif (dist.get_world_size() > 1
              and runner._randomness_cfg.get('diff_rank_seed', False)):
            runner.logger.warning(
                'ExactResumeHook: diff_rank_seed=True, but a checkpoint only '
                "holds rank 0's generator state; not restoring it")
            return None
        return self._loaded
