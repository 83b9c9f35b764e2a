"""What ``--resume`` without a path resumes from, when files are damaged.

MMEngine resumes from the path ``WORK_DIR/last_checkpoint`` names and
stops with torch's bare error when that file is damaged, or with
``FileNotFoundError:  can not be found.`` when ``last_checkpoint`` is empty,
while intact older checkpoints sit beside it. :func:`resumable_checkpoint`
checks the named checkpoint (zip structure and every member's CRC, without
unpickling) and falls back, with a warning that names what is wrong, to the
newest intact ``epoch_*.pth`` / ``iter_*.pth`` (MMEngine's names; best
checkpoints hold no optimizer state and are not resumed from).
"""
import os
import os.path as osp
import re
import zipfile
from typing import Any, List, Optional

RESUMABLE = re.compile(r'^(epoch|iter)_\d+\.pth$')


def damage(path: str) -> Optional[str]:
    """What is wrong with checkpoint ``path``, or None when it is intact."""
    if osp.getsize(path) == 0:
        return 'the file is empty'
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'not a complete zip archive as torch.save writes ({err})'
    return None if bad is None else f'{bad} fails its CRC check'


def _candidates(folders: List[str]) -> List[str]:
    """Checkpoints MMEngine's hook names, newest (last written) first."""
    found = {osp.join(d, f) for d in folders if osp.isdir(d)
             for f in os.listdir(d) if RESUMABLE.match(f)}
    return sorted(found, key=lambda p: (osp.getmtime(p), p), reverse=True)


def resumable_checkpoint(work_dir: str, logger: Any) -> Optional[str]:
    """The checkpoint ``--resume`` (no path) should resume from.

    Args:
        work_dir: The run's work directory.
        logger: Where the fallback warning goes.

    Returns:
        str or None: What ``last_checkpoint`` names, when intact; else the
        newest intact checkpoint (warned about); None without a
        ``last_checkpoint`` (MMEngine then starts from scratch).

    Raises:
        FileNotFoundError: ``last_checkpoint`` is empty, dangling or names a
            damaged file, and no intact checkpoint is left; names them.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer, encoding='utf-8') as f:
        named = f.read().strip()
    if not named:
        problem = f'{pointer} is empty'
    elif not osp.isfile(named):
        problem = f'{pointer} names {named}, which does not exist'
    else:
        problem = damage(named)
        if problem is None:
            return named
        problem = f'{named} (named by {pointer}) is damaged: {problem}'
    folders = [work_dir] + ([osp.dirname(named)] if named else [])
    checked = []
    for path in _candidates(folders):
        if path == named:
            continue
        what = damage(path)
        if what is None:
            logger.warning(f'{problem}; resuming from {path}, the newest '
                           f'intact checkpoint in {osp.dirname(path)}')
            return path
        checked.append(f'{osp.basename(path)}: {what}')
    raise FileNotFoundError(
        f'{problem}, and there is no intact checkpoint to resume from in '
        f'{work_dir}' + (f' ({"; ".join(checked)})' if checked else '') +
        '; train without --resume to start from scratch')
