"""Count and log the broken videos that ``RobustVideoDataset(skip_broken=
True)`` replaced, over all dataloader workers and ranks."""
from typing import Any, List

import torch
from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import Hook

from ..datasets.video_dataset import SKIPPED_KEY


@HOOKS.register_module()
class SkippedSamplesHook(Hook):
    """Count and log the broken videos skipped by ``skip_broken=True``.

    Each replacement sample carries ``metainfo['skipped_broken']`` (a list
    of ``dict(index, path, reason)``: the requested sample first, then any
    broken replacements tried before a good one), which reaches the main
    process with the batch whatever the number of dataloader workers. The
    number of replaced samples (requested samples that were broken), summed
    over all ranks, is logged after every epoch and at the end of training.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self) -> None:
        self.epoch_skipped: List[List[dict]] = []
        self.total = 0

    def after_train_iter(self,
                         runner: Any,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Any = None) -> None:
        """Collect the skips recorded in this batch's data samples."""
        samples = (data_batch or {}).get('data_samples') or []
        for sample in samples:
            if SKIPPED_KEY in sample.metainfo:
                self.epoch_skipped.append(sample.metainfo[SKIPPED_KEY])

    def after_train_epoch(self, runner: Any) -> None:
        """Log this epoch's skips (all ranks) and add them to the total."""
        count = self._reduce(len(self.epoch_skipped))
        self.total += count
        if count:
            paths = sorted({s['path'] for chain in self.epoch_skipped
                            for s in chain})
            runner.logger.warning(
                f'skip_broken: {count} broken training samples were '
                f'replaced in epoch {runner.epoch + 1}; on this rank: '
                f'{paths}')
        self.epoch_skipped = []

    def after_train(self, runner: Any) -> None:
        """Log the number of skips over the whole run."""
        runner.logger.info(
            f'skip_broken: {self.total} broken training samples were '
            'skipped and replaced in this run')

    @staticmethod
    def _reduce(count: int) -> int:
        """Sum a count over all ranks."""
        total = torch.tensor(count, dtype=torch.int64)
        dist.all_reduce(total, op='sum')
        return int(total.item())
