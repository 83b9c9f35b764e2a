"""One live run per work directory.

Two runs into one work dir interleave their logs (one timestamp folder when
they start in the same second) and overwrite each other's checkpoints and
``last_checkpoint``. :class:`WorkDirLock` holds ``WORK_DIR/.mmxclip.lock``
for as long as its process lives, with an OS lock (``fcntl.flock``: the
kernel, or the NFS server, releases it when the holder dies, however it
dies) and, in the file, who holds it (PID, host, start time, torchrun run
id). A live holder is named in the refusal; a lock file whose holder is gone
(crash, ``SIGKILL``) is taken over with a warning naming that holder.
"""
import atexit
import datetime
import fcntl
import json
import os
import os.path as osp
import socket
from typing import Any, Dict, Optional

LOCK_NAME = '.mmxclip.lock'
# Locks this process holds, by lock file: runners built one after another
# in one process (one run) share it.
_HELD: Dict[str, 'WorkDirLock'] = {}


class WorkDirBusyError(RuntimeError):
    """Another live run holds the work directory."""


class WorkDirLock:
    """An exclusive lock on a work directory, held until released or exit.

    Args:
        work_dir: The directory (created if missing).
        option: The command-line option that names it, for the refusal.
    """

    def __init__(self, work_dir: str, option: str = '--work-dir') -> None:
        self.work_dir = osp.abspath(work_dir)
        self.option = option
        self.path = osp.join(self.work_dir, LOCK_NAME)
        self._fd: Optional[int] = None
        self.pid: Optional[int] = None

    @staticmethod
    def holder() -> Dict[str, Any]:
        """This process, as the lock file records it."""
        return dict(pid=os.getpid(), host=socket.gethostname(),
                    started=datetime.datetime.now().isoformat(
                        timespec='seconds'),
                    run_id=os.environ.get('TORCHELASTIC_RUN_ID'))

    def _recorded(self) -> Dict[str, Any]:
        """Who the lock file says holds (held) it."""
        try:
            with open(self.path, encoding='utf-8') as f:
                return json.loads(f.read() or '{}')
        except (OSError, ValueError):
            return {}

    @staticmethod
    def describe(holder: Dict[str, Any]) -> str:
        """``PID 123 on host-a (started 2024-01-01T10:00:00)``."""
        if not holder:
            return 'an unknown process'
        return (f"PID {holder.get('pid')} on {holder.get('host')} (started "
                f"{holder.get('started')})")

    def acquire(self) -> Optional[str]:
        """Take the lock.

        Returns:
            str or None: A warning to log when a stale lock was taken over.

        Raises:
            WorkDirBusyError: A live run holds it; the message names it.
        """
        held = _HELD.get(self.path)
        if held is not None and held.pid == os.getpid():
            return None
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkDirBusyError(
                f'{self.work_dir} is in use by another run: '
                f'{self.describe(self._recorded())} holds {self.path}. Wait '
                f'for it to finish, or pass another {self.option}') from None
        except OSError as err:  # a filesystem without locks
            os.close(fd)
            return (f'{self.path}: cannot lock on this filesystem ({err}); '
                    'nothing stops a second run into this work dir')
        previous = self._recorded()
        me = self.holder()
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        os.fsync(fd)
        self._fd, self.pid = fd, os.getpid()
        _HELD[self.path] = self
        atexit.register(self.release)
        if not previous:
            return None
        same_job = previous.get('run_id') and \
            previous.get('run_id') == me['run_id']
        return (f'{self.path}: took over the lock of '
                f'{self.describe(previous)}, which ended without releasing '
                'it (crash or kill)' +
                ('; a restart of the same torchrun job' if same_job else ''))

    @property
    def held(self) -> bool:
        """Whether this process holds the OS lock on the work directory
        (False on a filesystem without locks)."""
        held = _HELD.get(self.path)
        return held is not None and held.pid == os.getpid()

    def release(self) -> None:
        """Empty the lock file and unlock it (the file stays: deleting it
        would race with a run opening it)."""
        if self._fd is None or self.pid != os.getpid():
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
        _HELD.pop(self.path, None)
