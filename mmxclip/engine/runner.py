"""MMEngine's ``Runner``, holding its work directory and resuming from the
newest intact checkpoint.

Selected by ``runner_type = 'SafeRunner'`` (``configs/_base_/
default_runtime.py``), so it serves ``tools/train.py`` / ``tools/test.py``
and MMAction2's own tools on mmxclip's configs alike.
"""
import logging
from typing import Any, Dict, Optional

from mmaction.registry import RUNNERS
from mmengine.dist import broadcast_object_list
from mmengine.runner import Runner

from .resume import resumable_checkpoint
from .work_dir_lock import WorkDirBusyError, WorkDirLock


@RUNNERS.register_module()
class SafeRunner(Runner):
    """``Runner`` that refuses a work dir another live run holds, and
    resumes past a damaged latest checkpoint.

    * The work dir is locked (:class:`WorkDirLock`) in :meth:`setup_env`:
      after the processes of a distributed run have met (the lock is rank
      0's, for the whole run, and every rank learns the outcome) and before
      the runner creates its timestamp folder and log, so a refused run
      leaves nothing behind.
    * ``resume=True`` without ``load_from`` resumes from
      :func:`resumable_checkpoint`: ``last_checkpoint``'s file when intact,
      else the newest intact one, with a warning.

    Arguments as for ``Runner``.
    """

    def setup_env(self, env_cfg: Dict) -> None:
        """MMEngine's environment setup, then the work-dir lock.

        Raises:
            WorkDirBusyError: On every rank, when another live run holds
                the work dir.
        """
        super().setup_env(env_cfg)
        outcome: list = [None, None]  # [refusal, warning]
        if self.rank == 0:
            try:
                outcome[1] = WorkDirLock(self.work_dir).acquire()
            except WorkDirBusyError as err:
                outcome[0] = str(err)
        if self.world_size > 1:
            broadcast_object_list(outcome, src=0)
        if outcome[0]:
            raise WorkDirBusyError(outcome[0])
        self._lock_warning: Optional[str] = outcome[1]

    def build_logger(self, *args: Any, **kwargs: Any) -> Any:
        """MMEngine's logger; logs a stale lock taken over in
        :meth:`setup_env` (which runs before there is a logger)."""
        logger = super().build_logger(*args, **kwargs)
        if getattr(self, '_lock_warning', None):
            logger.log(logging.WARNING, self._lock_warning)
        return logger

    def load_or_resume(self) -> None:
        """As ``Runner``, with :func:`resumable_checkpoint` choosing what
        ``resume=True`` resumes from."""
        # Private MMEngine API: Runner._resume, _load_from, _has_loaded;
        # why setup.py pins mmengine<0.11.
        if self._resume and self._load_from is None and not self._has_loaded:
            found = resumable_checkpoint(self.work_dir, self.logger)
            if found is not None:
                self.logger.info(f'Auto resuming from {found}')
                self._load_from = found
        super().load_or_resume()
