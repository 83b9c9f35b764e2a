"""Files that make FFmpeg open more than themselves, and the watchers that
tell whether it did.

* :func:`hls_playlist` and :func:`concat_list`: a few lines of text named
  like a video (``innocent.mp4``) that name other files or URLs.
* :class:`WatchedFifo`: a named pipe standing in for the file a playlist
  names; any process that opens it for reading is recorded (and gets
  ``payload``), so "no file opened" is observed, not assumed.
* :class:`LoopbackServer`: an HTTP server on 127.0.0.1 recording every
  request.
"""
import http.server
import os
import os.path as osp
import threading
from typing import List

from helpers import FIXTURES

# MMAction2's tests/data/test.mp4 remuxed to MPEG-TS without re-encoding
# (tests/fixtures/make_video_fixtures.py): 300 frames of 340x256; decord
# 0.6.0 loops forever on it.
TS_FIXTURE = osp.join(FIXTURES, 'videos', 'test_mpegts.ts')
TS_FRAMES = 300


def hls_playlist(path: str, segment: str) -> str:
    """An HLS playlist at ``path`` (any name) naming ``segment``."""
    with open(path, 'w') as f:
        f.write('#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n'
                f'{segment}\n#EXT-X-ENDLIST\n')
    return path


def concat_list(path: str, segment: str) -> str:
    """An FFmpeg concat list at ``path`` naming ``segment``."""
    with open(path, 'w') as f:
        f.write(f"ffconcat version 1.0\nfile '{segment}'\n")
    return path


class WatchedFifo:
    """A named pipe at ``path`` whose readers are recorded.

    A thread blocks opening it for writing, which returns only once some
    process opens it for reading; it then writes ``payload`` (a real video,
    so a decoder that follows a playlist gets frames). :meth:`close`
    unblocks the thread and says whether anybody else opened the pipe.
    """

    def __init__(self, path: str, payload: bytes = b'') -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = threading.Event()
        self._closing = False
        self._payload = payload
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with open(self.path, 'wb') as f:  # blocks until a reader opens it
            if self._closing:
                return
            self.opened.set()
            try:
                f.write(self._payload)
            except BrokenPipeError:
                pass

    def close(self) -> bool:
        """Stop watching (again: a no-op); True if a reader other than this
        one opened it."""
        if not self._closing and not self.opened.is_set():
            self._closing = True
            with open(self.path, 'rb'):  # let the blocked writer return
                pass
        self._thread.join(timeout=10)
        return self.opened.is_set()


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that records the paths requested and
    answers 404. A context manager."""

    def __init__(self) -> None:
        self.requests: List[str] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                       Handler)
        self.url = f'http://127.0.0.1:{self._server.server_port}'

    def __enter__(self) -> 'LoopbackServer':
        threading.Thread(target=self._server.serve_forever,
                         daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
