"""One output file per input video, under one folder, names that cannot
collide."""
import os.path as osp
from typing import List, Sequence


def mirrored_paths(videos: Sequence[str], out_dir: str,
                   suffix: str) -> List[str]:
    """``out_dir/<path below the videos' common folder><suffix>`` per video.

    The video's whole name is kept and the suffix appended, so
    ``test.mp4`` and ``test.avi`` (or ``a/x.mp4`` and ``b/x.mp4``) get
    different outputs; distinct videos always map to distinct paths.

    Args:
        videos: Video files.
        out_dir: The output folder.
        suffix: Appended to each name, e.g. ``'.png'``.

    Returns:
        list[str]: One path per video, in order.
    """
    full = [osp.abspath(v) for v in videos]
    if not full:
        return []
    root = osp.commonpath([osp.dirname(p) for p in full])
    return [osp.join(out_dir, osp.relpath(p, root) + suffix) for p in full]
