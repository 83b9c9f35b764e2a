"""Atomic writes for MMEngine's local file backend.

MMEngine 0.10.7 saves a checkpoint by serialising it into memory and handing
the bytes to the file backend's ``put`` (``mmengine.runner.checkpoint.
save_checkpoint``). The stock :class:`LocalBackend` opens the destination
with ``'wb'`` and writes into it, so a crash (power loss, ``SIGKILL``, full
disk) while writing leaves a truncated file under the final name: a re-saved
checkpoint is lost. :class:`~mmengine.hooks.CheckpointHook` records the
newest checkpoint in ``last_checkpoint`` (what ``--resume`` reads) with a
bare ``open(path, 'w')``, not through the backend: a crash there leaves it
empty.

:class:`AtomicLocalBackend` writes to a temporary file in the same folder,
flushes and ``fsync``\\ s it, and renames it over the destination with
:func:`os.replace` (atomic on POSIX and Windows), then ``fsync``\\ s the
folder. A reader sees either the old file or the complete new one. A crash
can leave a stray ``.NAME.tmp-*`` file, never a corrupt ``NAME``.
:func:`register_atomic_local_backend`, applied by ``import mmxclip``, makes
it MMEngine's backend for local paths, which every checkpoint write goes
through; :func:`atomic_open_in` makes the ``last_checkpoint`` write of
:class:`mmxclip.engine.SafeCheckpointHook` atomic as well.
"""
import builtins
import contextlib
import io
import os
import os.path as osp
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Union

from mmengine.fileio import LocalBackend
from mmengine.fileio import io as mmengine_io
from mmengine.fileio import register_backend


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


class _AtomicTextFile(io.StringIO):
    """A text file for writing that appears complete or not at all: the
    text is written with :func:`atomic_write` when the file is closed
    without an error."""

    def __init__(self, path: str, encoding: str) -> None:
        super().__init__()
        self._path, self._encoding = path, encoding

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            super().close()

    def close(self) -> None:
        if not self.closed:
            data = self.getvalue().encode(self._encoding)
            super().close()
            atomic_write(data, self._path)


@contextlib.contextmanager
def atomic_open_in(module: ModuleType, filepath: str) -> Iterator[None]:
    """Within the block, ``open(filepath, 'w')`` called by code of
    ``module`` writes atomically; every other ``open`` is unchanged.

    For library code that writes a small file with a bare ``open`` (MMEngine's
    ``last_checkpoint``), without copying the code around it.

    Args:
        module: The module whose global ``open`` is replaced meanwhile.
        filepath: The one file made atomic.
    """
    target = osp.abspath(filepath)

    def _open(file: Any, mode: str = 'r', *args: Any, **kwargs: Any) -> Any:
        if mode in ('w', 'wt') and not isinstance(file, int) and \
                osp.abspath(os.fspath(file)) == target:
            return _AtomicTextFile(target, kwargs.get('encoding') or 'utf-8')
        return builtins.open(file, mode, *args, **kwargs)

    had = 'open' in vars(module)
    previous = vars(module).get('open')
    module.open = _open
    try:
        yield
    finally:
        if had:
            module.open = previous
        else:
            del module.open


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


def register_atomic_local_backend() -> bool:
    """Make :class:`AtomicLocalBackend` MMEngine's backend for local paths.

    Also drops cached plain ``LocalBackend`` instances, so that backends
    created before the registration are not reused.

    Returns:
        bool: Whether it was registered now (False: it was already).
    """
    # Private MMEngine API: the backend table of registry_utils and the
    # instance cache fileio.io.backend_instances; why setup.py pins
    # mmengine<0.11.
    from mmengine.fileio.backends.registry_utils import backends
    before = backends.get('local')
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    for key, backend in list(mmengine_io.backend_instances.items()):
        if type(backend) is LocalBackend:
            del mmengine_io.backend_instances[key]
    return before is not AtomicLocalBackend
