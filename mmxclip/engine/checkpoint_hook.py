"""MMEngine's checkpoint hook, with nothing deleted or half-written first."""
from collections import deque
from typing import Any, Dict, Optional

from mmaction.registry import HOOKS
from mmengine import dist
from mmengine.hooks import CheckpointHook
from mmengine.hooks import checkpoint_hook as mmengine_checkpoint_hook

from .atomic_io import atomic_open_in


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never loses the last good checkpoint.

    MMEngine 0.10.7's hook

    * removes the oldest kept checkpoint *before* writing the new one, so
      with ``max_keep_ckpts=1`` a crash while saving leaves no checkpoint;
    * removes the previous best checkpoint (``save_best``) before writing
      the new best, so a crash there leaves no best checkpoint;
    * writes ``last_checkpoint`` with a bare ``open(path, 'w')``, so a crash
      there leaves it empty.

    This hook writes first and removes after (checkpoints are written
    atomically by :class:`mmxclip.engine.AtomicLocalBackend`), and writes
    ``last_checkpoint`` atomically. Arguments as for ``CheckpointHook``.
    """

    def before_train(self, runner: Any) -> None:
        """As ``CheckpointHook``, with room for the checkpoint being saved."""
        super().before_train(runner)
        if self.max_keep_ckpts > 0:
            self.keep_ckpt_ids = deque(self.keep_ckpt_ids,
                                       self.max_keep_ckpts + 1)

    # Private MMEngine API: CheckpointHook._save_checkpoint_with_step (and
    # _save_best_checkpoint below) are overridden; why setup.py pins
    # mmengine<0.11.
    def _save_checkpoint_with_step(self, runner: Any, step: int,
                                   meta: dict) -> None:
        """Save first, then drop the checkpoints beyond ``max_keep_ckpts``;
        ``last_checkpoint`` is replaced atomically."""
        keep = self.max_keep_ckpts
        pointer = self.file_backend.join_path(runner.work_dir,
                                              'last_checkpoint')
        self.max_keep_ckpts = keep + 1 if keep > 0 else keep
        try:
            with atomic_open_in(mmengine_checkpoint_hook, pointer):
                super()._save_checkpoint_with_step(runner, step, meta)
        finally:
            self.max_keep_ckpts = keep
        if keep <= 0:
            return
        while len(self.keep_ckpt_ids) > keep:
            old = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(
                    self.keep_ckpt_ids.popleft()))
            if not dist.is_main_process():
                continue
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
            elif self.file_backend.isdir(old):  # FSDP / DeepSpeed shards
                self.file_backend.rmtree(old)
        runner.message_hub.update_info('keep_ckpt_ids',
                                       list(self.keep_ckpt_ids))

    def _best_paths(self) -> Dict[str, Optional[str]]:
        """The current best checkpoint per key indicator."""
        if len(self.key_indicators) == 1:
            return {'': getattr(self, 'best_ckpt_path', None)}
        return dict(self.best_ckpt_path_dict)

    def _set_best_paths(self, paths: Dict[str, Optional[str]]) -> None:
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = paths['']
        else:
            self.best_ckpt_path_dict.update(paths)

    def _save_best_checkpoint(self, runner: Any, metrics: dict) -> None:
        """Save a new best first, then remove the previous one.

        ``CheckpointHook`` removes what ``best_ckpt_path`` names before it
        saves; hiding the paths meanwhile keeps the old file until the new
        one is on disk.
        """
        if not self.save_best:
            return
        before = self._best_paths()
        self._set_best_paths({k: None for k in before})
        try:
            super()._save_best_checkpoint(runner, metrics)
        except BaseException:
            self._set_best_paths(before)  # the new best is not on disk
            raise
        after = self._best_paths()
        now = {k: after.get(k) or before.get(k) for k in after}
        self._set_best_paths(now)
        if not dist.is_main_process():
            return
        for key, old in before.items():
            if old and now.get(key) != old and self.file_backend.isfile(old):
                self.file_backend.remove(old)
                runner.logger.info(
                    f'The previous best checkpoint {old} is removed')
