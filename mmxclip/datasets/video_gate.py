"""The one gate every video passes: its container, probed from its own bytes.

FFmpeg, under every decoder mmxclip or MMAction2 uses, guesses a file's
format from its content and will follow what the file says: an HLS playlist
or a concat list named ``clip.mp4`` makes it open other files on the disk
or fetch URLs. So the container is recognised here from the file's first
bytes against :data:`CONTAINERS`, a short allowlist of video containers,
and FFmpeg is then told to use exactly that demuxer with the ``file``
protocol only. Playlists, concat lists, image sequences, SDP files, network
and other protocols are refused before any decoder sees the file.

:class:`Deadline` is the time budget of one video's decoding: checked
between packets, so a decoder loop that never ends (decord on some MPEG-TS
files) cannot hold a tool, a server or a data loader.
"""
import contextlib
import os
import threading
import time
from typing import BinaryIO, Iterator, Optional, Union

from .broken_video import BrokenVideoError

# FFmpeg demuxer name -> what it is. The only containers the gate accepts.
CONTAINERS = {
    'mov': 'ISO base media (MP4, MOV, M4V, 3GP)',
    'matroska': 'Matroska / WebM',
    'avi': 'AVI',
    'mpegts': 'MPEG transport stream (.ts, .m2ts)',
    'mpeg': 'MPEG program stream (.mpg, .vob)',
    'flv': 'Flash video',
    'ogg': 'Ogg',
    'asf': 'ASF / WMV',
}
# ISO BMFF top-level boxes a file may start with (QuickTime files from old
# cameras start with 'wide', 'mdat' or 'moov' instead of 'ftyp').
_BMFF_BOXES = (b'ftyp', b'moov', b'mdat', b'wide', b'free', b'skip')
_ASF_GUID = bytes.fromhex('3026b2758e66cf11a6d900aa0062ce6c')
_TS_PACKET = 188
PROBE_BYTES = 4096
# FFmpeg's protocols (``ffmpeg -protocols``; PyAV does not list them): a
# path starting 'NAME:' or 'NAME,options:' would select one.
_PROTOCOLS = frozenset(
    'async bluray cache concat concatf crypto data fd ffrtmpcrypt '
    'ffrtmphttp file ftp gopher gophers hls http httpproxy https icecast '
    'ipfs ipns md5 mmsh mmst pipe prompeg rtmp rtmpe rtmps rtmpt rtmpte '
    'rtmpts rtp sctp sftp smb srt srtp subfile tcp tee tls udp udplite '
    'unix zmq'.split())
# The decode budget of videos opened in this thread (see decode_budget).
_BUDGET = threading.local()
# Generous: it stops a decoder that never ends, not a slow machine (a raw
# 10 s 1080p clip took 15 s on 2 cores shared by 8 jobs).
DEFAULT_BUDGET = dict(base_s=60.0, per_mb_s=10.0)


def sniff_container(head: bytes) -> Optional[str]:
    """The FFmpeg demuxer of :data:`CONTAINERS` whose signature ``head``
    (a file's first bytes) carries, or None.

    Args:
        head: At least the first 1 KiB of the file (less for a shorter one).

    Returns:
        str | None: A key of :data:`CONTAINERS`.
    """
    if len(head) >= 8 and head[4:8] in _BMFF_BOXES:
        return 'mov'
    if head.startswith(b'\x1a\x45\xdf\xa3'):
        return 'matroska'
    if head.startswith(b'RIFF') and head[8:12] == b'AVI ':
        return 'avi'
    for offset, size in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):  # TS, M2TS
        syncs = head[offset::size][:3]
        if len(syncs) == 3 and syncs == b'\x47' * 3:
            return 'mpegts'
    if head.startswith(b'\x00\x00\x01\xba'):
        return 'mpeg'
    if head.startswith(b'FLV\x01'):
        return 'flv'
    if head.startswith(b'OggS'):
        return 'ogg'
    if head.startswith(_ASF_GUID):
        return 'asf'
    return None


def _describe(head: bytes) -> str:
    """What a refused file looks like, for the message."""
    text = head.lstrip(b'\xef\xbb\xbf \t\r\n')[:16].lower()
    if text.startswith(b'#extm3u'):
        return 'an HLS/M3U playlist'
    if text.startswith(b'ffconcat') or text.startswith(b'file '):
        return 'an FFmpeg concat list'
    if text.startswith(b'v=0'):
        return 'an SDP session description'
    if head[:4] in (b'\x89PNG', b'GIF8') or head[:3] == b'\xff\xd8\xff':
        return 'an image'
    if not head:
        return 'empty'
    return 'no known video container'


def probe_container(video: Union[str, BinaryIO],
                    name: Optional[str] = None) -> str:
    """The container of a local file or a readable binary stream.

    Args:
        video: A path, or a seekable binary file object (its position is
            restored).
        name: How to name the video in errors (default: the path).

    Returns:
        str: The FFmpeg demuxer name, a key of :data:`CONTAINERS`.

    Raises:
        BrokenVideoError: A URL or other protocol, a missing, empty or
            unreadable file, or content that is not an allowed container.
    """
    if isinstance(video, str):
        name = name or video
        if '://' in video or _protocol(video):
            raise BrokenVideoError(
                None, name, 'only local files are read; URLs and FFmpeg '
                'protocols are refused')
        if not os.path.isfile(video):
            raise BrokenVideoError(None, name, 'video file not found')
        try:
            with open(video, 'rb') as f:
                head = f.read(PROBE_BYTES)
        except OSError as err:
            raise BrokenVideoError(None, name,
                                   f'cannot read the file ({err})') from err
    else:
        name = name or getattr(video, 'name', '<stream>')
        pos = video.tell()
        head = video.read(PROBE_BYTES)
        video.seek(pos)
    kind = sniff_container(head)
    if kind is None:
        allowed = ', '.join(CONTAINERS.values())
        raise BrokenVideoError(
            None, name, f'refused: the file is {_describe(head)}, not one '
            f'of the allowed video containers ({allowed})')
    return kind


def _protocol(path: str) -> Optional[str]:
    """The FFmpeg protocol a path would select (``concat:``, ``subfile,,
    start,0,end,0,,:``, ``pipe:`` ...), or None."""
    scheme = path.split(':', 1)[0].split(',', 1)[0].lower()
    if ':' in path and scheme in _PROTOCOLS:
        return scheme
    return None


def open_container(video: Union[str, BinaryIO],
                   name: Optional[str] = None):
    """Open a video with PyAV after :func:`probe_container`, with FFmpeg
    held to the probed demuxer and the ``file`` protocol.

    Args:
        video: A path, or a seekable binary file object.
        name: How to name the video in errors.

    Returns:
        av.container.InputContainer: The opened container.

    Raises:
        BrokenVideoError: Refused by the probe, or FFmpeg cannot open it.
    """
    import av
    kind = probe_container(video, name)
    name = name or (video if isinstance(video, str) else getattr(
        video, 'name', '<stream>'))
    try:
        # 'file:' + the absolute path: FFmpeg takes no protocol from a
        # local name that merely looks like one ('a:b.mp4').
        source = ('file:' + os.path.abspath(video)
                  if isinstance(video, str) else video)
        return av.open(source, format=kind,
                       options=dict(protocol_whitelist='file'))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise BrokenVideoError(
            None, name, f'FFmpeg cannot open it as {CONTAINERS[kind]}: '
            'truncated, corrupt or an unsupported codec '
            f'({type(err).__name__}: {getattr(err, "strerror", None) or err})'
        ) from err


class Deadline:
    """The time budget of one video's decoding.

    ``seconds = base_s + per_mb_s * size in MiB``: a budget that grows with
    the file, so a long legitimate video is not cut while a decoder that
    loops on a small file is stopped early.

    Args:
        name: The video, for the message.
        size_bytes: The file's size (0 for a stream of unknown size).
        base_s: Budget of any video (default: :func:`current_budget`).
        per_mb_s: Added per MiB of file (default: :func:`current_budget`).
    """

    def __init__(self,
                 name: str,
                 size_bytes: int = 0,
                 base_s: Optional[float] = None,
                 per_mb_s: Optional[float] = None) -> None:
        budget = current_budget()
        base_s = budget['base_s'] if base_s is None else base_s
        per_mb_s = budget['per_mb_s'] if per_mb_s is None else per_mb_s
        self.name = name
        self.per_mb_s = per_mb_s
        self.seconds = base_s + per_mb_s * size_bytes / 2**20
        self._end = time.monotonic() + self.seconds

    def check(self) -> None:
        """Raise once the budget is spent.

        Raises:
            BrokenVideoError: Naming the video and the budget.
        """
        if time.monotonic() > self._end:
            raise BrokenVideoError(
                None, self.name, f'decoding took longer than its time budget '
                f'of {self.seconds:.1f} s (a decoder loop that does not end, '
                'or a file far slower to decode than its size suggests)')

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop the clock inside the block: time that is not decoding (a
        model run between a long video's frames, waiting for a stream's
        writer) is not charged to the budget."""
        start = time.monotonic()
        try:
            yield
        finally:
            self._end += time.monotonic() - start

    def grow(self, size_bytes: int) -> None:
        """Add ``per_mb_s`` for ``size_bytes`` more bytes: the budget of a
        stream of unknown size, grown as it is read."""
        extra = self.per_mb_s * size_bytes / 2**20
        self.seconds += extra
        self._end += extra


def current_budget() -> dict:
    """The decode budget in force in this thread: ``base_s`` and
    ``per_mb_s`` of :class:`Deadline` (:data:`DEFAULT_BUDGET` unless inside
    :func:`decode_budget`)."""
    return getattr(_BUDGET, 'value', DEFAULT_BUDGET)


@contextlib.contextmanager
def decode_budget(base_s: float, per_mb_s: float) -> Iterator[None]:
    """Decode budget of the videos this thread opens inside the block (a
    server's per-request budget; a tool's ``--decode-budget``).

    Args:
        base_s: Seconds any video may take.
        per_mb_s: Seconds added per MiB of file.
    """
    if base_s < 0 or per_mb_s < 0:
        raise ValueError('decode budget must be >= 0, got '
                         f'base_s={base_s}, per_mb_s={per_mb_s}')
    old = current_budget()
    _BUDGET.value = dict(base_s=base_s, per_mb_s=per_mb_s)
    try:
        yield
    finally:
        _BUDGET.value = old
