"""Atomic writes for MMEngine's local file backend.

MMEngine 0.10.7 saves a checkpoint by serialising it into memory and handing
the bytes to the file backend's ``put`` (``mmengine.runner.checkpoint.
save_checkpoint``), and :class:`~mmengine.hooks.CheckpointHook` records the
newest checkpoint with the backend's ``put_text`` (the ``last_checkpoint``
file that ``--resume`` reads). The stock :class:`LocalBackend` opens the
destination with ``'wb'`` and writes into it, so a crash (power loss,
``SIGKILL``, full disk) while writing leaves a truncated file under the
final name: a re-saved checkpoint is lost, and a truncated
``last_checkpoint`` makes ``--resume`` start from scratch.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder,
flushes and ``fsync``\\ s it, and renames it over the destination with
:func:`os.replace` (atomic on POSIX and Windows), then ``fsync``\\ s the
folder. A reader sees either the old file or the complete new one. A crash
can leave a stray ``.NAME.tmp-*`` file, never a corrupt ``NAME``.
:func:`register_atomic_local_backend`, applied by ``import mmxclip``, makes
it MMEngine's backend for local paths, which is the one place every
checkpoint and ``last_checkpoint`` write goes through.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.fileio import io as mmengine_io


def _default_file_mode() -> int:
    """The mode ``open(path, 'w')`` would give a new file (umask applied)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# mkstemp creates files with mode 0600; give them what open() would.
_FILE_MODE = _default_file_mode()

def atomic_write(data: bytes, filepath: Union[str, Path]) -> None:
    """Write ``data`` to ``filepath`` so that it is never seen half-written.

    Args:
        data: The file's new content.
        filepath: Destination; its folder is created if missing.
    """
    filepath = os.fspath(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(filepath)}.tmp-')
    try:
        with open(fd, 'wb') as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: str) -> None:
    """Persist a rename in ``folder`` (a no-op where folders cannot open)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicLocalBackend(LocalBackend):
    """:class:`LocalBackend` whose ``put`` and ``put_text`` are atomic."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes atomically (see :func:`atomic_write`)."""
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        """Write text atomically (see :func:`atomic_write`)."""
        atomic_write(obj.encode(encoding), filepath)


def register_atomic_local_backend() -> None:
    """Make :class:`AtomicLocalBackend` MMEngine's backend for local paths.

    Also drops cached plain ``LocalBackend`` instances, so that backends
    created before the registration are not reused.
    """
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
