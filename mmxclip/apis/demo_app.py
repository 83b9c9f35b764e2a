"""A zero-shot demo page: upload a video, type labels, see the ranking.

:func:`create_app` serves a small Starlette (ASGI) app over one loaded
model; ``tools/demo_app.py`` runs it with uvicorn. Every answer comes from
:func:`mmxclip.apis.recognize`, the zero-shot path of the tools, so the page
ranks exactly as ``tools/zero_shot.py`` does:

* ``GET /``: the page (``demo_page.html``): a video upload, a labels field
  (comma-separated or one per line), frames and views, a submit button;
  the answer shows the labels ranked with their probabilities as bars and
  the frames the model saw.
* ``POST /api/zero_shot``: multipart form with ``video`` (the file) and
  ``labels``; optional ``topk``, ``num_frames``, ``num_clips``,
  ``num_crops``. JSON ``{"labels": [...], "scores": [...], ...}`` sorted
  best first, the scores summing to 1 over the given labels, plus
  ``frame_indices`` (per clip) and ``frames`` (JPEG data URLs of the first
  clip).
* ``GET /health``: ``{"status": "ok", "busy": ...}``, answered at once
  even while a video is being decoded.

What a stranger's request can do is bounded (docs/demo.md): the body is
parsed as it streams in and the video refused the moment it passes the
upload limit, so no more than the limit ever reaches the disk; the file is
stored under a name of the server's choosing and its container probed from
its bytes by the video gate (playlists and non-videos are refused before
any decoder sees them); decoding runs under the gate's time budget; only
requests whose ``Host`` is this server's are served (DNS rebinding). Every
refusal is a 4xx JSON ``{"error": "..."}`` naming the problem, and the
server goes on serving.
* ``POST /api/timeline``: the same form with ``window``, ``stride`` and
  ``threshold``; labels over sliding windows of a long video
  (:class:`TimelineDemo`, the page's timeline block).

Requests share one model and its text cache, so they run one at a time
behind a lock (on CPU one inference already uses every core), each on a
daemon thread: the event loop stays free, and a decode that never returns
cannot keep the process from stopping. Uploads go to a temporary folder
that is removed whatever happens.
"""
import asyncio
import base64
import concurrent.futures
import copy
import math
import os
import os.path as osp
import re
import tempfile
import threading
from typing import (Any, BinaryIO, Callable, Dict, List, Optional, Sequence,
                    Tuple)

import cv2
import numpy as np
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from torch import nn

from ..datasets import BrokenVideoError
from ..datasets.video_gate import (DEFAULT_BUDGET, decode_budget,
                                   probe_container)
from ..models.heads import load_class_names
from .inference import read_frames, recognize
from .pipeline import test_pipeline
from .timeline import timeline

PAGE = osp.join(osp.dirname(__file__), 'demo_page.html')
# Longest side of the frames sent back to the page, in pixels.
THUMBNAIL = 160
# The form's text fields; ``video`` is its one file part.
TEXT_FIELDS = ('labels', 'topk', 'num_frames', 'num_clips', 'num_crops')
# The text fields of a timeline request (POST /api/timeline).
TIMELINE_FIELDS = ('labels', 'window', 'stride', 'threshold')
# Bytes a request may carry besides the video: text fields, part headers,
# boundaries (1000 labels of CLIP's 77 tokens fit).
FORM_BYTES = 1 << 20
# Host names that reach this machine only.
LOOPBACK_HOSTS = ('localhost', '127.0.0.1', '[::1]')
# A Host header: a name or a bracketed IPv6 literal, then an optional port.
_HOST = re.compile(r'(?P<name>\[[0-9A-Fa-f:.]+\]|[^\s:/@\[\]]+)(:[0-9]+)?')


class RequestError(ValueError):
    """A request the demo cannot answer; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int_field(form: Dict[str, str], name: str, default: int, low: int,
               high: int) -> int:
    """An optional integer form field in ``[low, high]``."""
    text = form.get(name)
    if text is None or str(text).strip() == '':
        return default
    try:
        value = int(str(text))
    except ValueError:
        raise RequestError(400, f'{name} must be an integer, got {text!r}')
    if not low <= value <= high:
        raise RequestError(400, f'{name} must be in [{low}, {high}], got '
                           f'{value}')
    return value


def parse_labels(text: Optional[str]) -> List[str]:
    """Labels from one per line, or comma-separated on one line.

    Raises:
        RequestError: None given, a blank one, or two equal after CLIP's
            text normalisation (case, white space).
    """
    if text is None or not text.strip():
        raise RequestError(400, 'labels is empty; expected labels separated '
                           'by commas or one per line, e.g. "swimming, '
                           'riding a bike"')
    lines = [line for line in text.strip().splitlines()]
    items = lines if len(lines) > 1 else lines[0].split(',')
    try:
        return load_class_names(items, name='labels')
    except ValueError as err:
        raise RequestError(400, str(err))


def _data_url(frame: np.ndarray) -> str:
    """An RGB frame as a JPEG data URL, longest side :data:`THUMBNAIL`."""
    scale = THUMBNAIL / max(frame.shape[:2])
    if scale < 1:
        frame = cv2.resize(frame, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode('.jpg', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return 'data:image/jpeg;base64,' + base64.b64encode(jpeg).decode()


class UploadForm:
    """A multipart form read as it streams in (python-multipart's parser).

    The text fields ``text_fields`` are kept in memory; the file part
    ``video`` is written to ``path`` as it arrives and refused (413) the
    moment it passes ``max_bytes``, so an upload without Content-Length
    (chunked) never puts more than the limit on disk. The client's file
    name is kept for messages only, never used for a path.

    Args:
        path: Where the video goes (a name of the server's choosing).
        max_bytes: Largest accepted video.
        text_fields: The text fields a request may send.
    """

    def __init__(self, path: str, max_bytes: int,
                 text_fields: Sequence[str] = TEXT_FIELDS) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.text_fields = tuple(text_fields)
        self.fields: Dict[str, str] = {}
        self.filename: Optional[str] = None  # None: no video part
        self.size = 0
        self._header = [b'', b'']  # the part header being read
        self._disposition = b''
        self._field: Optional[str] = None  # the text field being read
        self._text = bytearray()
        self._file: Optional[BinaryIO] = None
        self._ended = False

    @property
    def name(self) -> str:
        """The video's name for messages (as the client sent it)."""
        return self.filename or '<unnamed upload>'

    async def read(self, request: Request) -> None:
        """Parse the request's body; the video ends up at :attr:`path`.

        Raises:
            RequestError: Not a multipart body, a malformed or truncated
                one, a field that is not in the form, twice or of the wrong
                kind, text that is not UTF-8 (400); too large (413).
        """
        ctype, params = parse_options_header(
            request.headers.get('content-type'))
        if ctype != b'multipart/form-data' or b'boundary' not in params:
            raise RequestError(
                400, 'expected a multipart/form-data body (with a boundary) '
                "holding the video as a file in the multipart field 'video' "
                'and the labels, got Content-Type '
                f'{request.headers.get("content-type")!r}')
        limit = self.max_bytes + FORM_BYTES
        received = 0
        try:
            parser = MultipartParser(params[b'boundary'], dict(
                on_part_begin=self._part_begin,
                on_header_field=self._header_field,
                on_header_value=self._header_value,
                on_header_end=self._header_end,
                on_headers_finished=self._headers_finished,
                on_part_data=self._part_data,
                on_part_end=self._part_end,
                on_end=self._end))
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise RequestError(
                        413, f'the request body passed {limit} bytes, more '
                        f'than a video of {self.max_bytes} bytes (the limit, '
                        '--max-upload-mb) and the form fields need')
                parser.write(chunk)
        except FormParserError as err:
            raise RequestError(400, f'malformed multipart body: {err}')
        except ClientDisconnect:
            raise RequestError(400, 'the client closed the connection '
                               'before the body ended')
        finally:
            if self._file is not None:
                self._file.close()
        if not self._ended:
            raise RequestError(400, 'the multipart body ends before its '
                               'closing boundary (a truncated request?)')

    def _part_begin(self) -> None:
        self._disposition = b''

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        if self._header[0].strip().lower() == b'content-disposition':
            self._disposition = self._header[1]
        self._header = [b'', b'']

    def _headers_finished(self) -> None:
        """Decide what the part is: the video, a text field, or refused."""
        _, options = parse_options_header(self._disposition)
        if b'name' not in options:
            raise RequestError(400, 'a part of the multipart body has no '
                               'name (Content-Disposition: form-data; '
                               'name="...")')
        name = options[b'name'].decode('utf-8', 'replace')
        is_file = b'filename' in options
        if name == 'video':
            if not is_file:
                raise RequestError(400, 'expected the video as a file in the '
                                   "multipart field 'video', got a text "
                                   'field')
            if self.filename is not None:
                raise RequestError(400, "the field 'video' is given twice; "
                                   'send one video per request')
            # Header bytes as sent: browsers write file names in UTF-8.
            self.filename = options[b'filename'].decode('utf-8', 'replace')
            self._field = None
            self._file = open(self.path, 'wb')
        elif name in self.text_fields:
            if is_file:
                raise RequestError(400, f'{name} must be a text field, not a '
                                   'file')
            if name in self.fields:
                raise RequestError(400, f'the field {name!r} is given twice')
            self._field = name
            self._text = bytearray()
        else:
            raise RequestError(
                400, f'unknown field {name!r}; expected video (a file) and '
                f'the text fields {", ".join(self.text_fields)}')

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._field is not None:
            self._text += data[start:end]
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise RequestError(
                413, f'{self.name!r} is larger than the {self.max_bytes} '
                'bytes this server accepts (--max-upload-mb)')
        self._file.write(data[start:end])

    def _part_end(self) -> None:
        if self._field is None:
            self._file.close()
            return
        try:
            self.fields[self._field] = self._text.decode('utf-8')
        except UnicodeDecodeError as err:
            raise RequestError(400, f'{self._field} is not UTF-8 text '
                               f'({err})')
        self._field = None

    def _end(self) -> None:
        self._ended = True

    def video_name(self) -> str:
        """The video's name for messages, once the body is read.

        Raises:
            RequestError: No video part, or an empty one (400).
        """
        if self.filename is None:
            raise RequestError(400, 'expected the video as a file in the '
                               "multipart field 'video'")
        if self.size == 0:
            raise RequestError(400, f'{self.name!r} is empty (0 bytes); '
                               'expected a video file')
        return self.name


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a daemon thread, awaited.

    The event loop stays free meanwhile. Not ``asyncio.to_thread``: the
    interpreter joins its pool threads at exit, so one decode that never
    returns would keep the server from stopping on SIGTERM.
    """
    future = concurrent.futures.Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # handed to the awaiting request
                future.set_exception(err)

    threading.Thread(target=run, name='mmxclip-demo', daemon=True).start()
    return await asyncio.wrap_future(future)


class HostAllowlist:
    """Serve only requests whose ``Host`` header names this server.

    A web page on another site can point its own domain at 127.0.0.1 (DNS
    rebinding) and then read this server's answers as same-origin; its
    requests still carry that domain as ``Host``, so they are refused with
    a 400 JSON naming the ``Host`` and the flag that admits it. (Starlette's
    ``TrustedHostMiddleware`` makes the same check with a plain-text
    answer.)

    Args:
        app: The ASGI app behind it.
        hosts: The allowed host names, without ports (IPv6 literals in
            brackets).
    """

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app = app
        self.hosts = {host.lower() for host in hosts}

    async def __call__(self, scope: Scope, receive: Receive,
                       send: Send) -> None:
        if scope['type'] in ('http', 'websocket'):
            host = Headers(scope=scope).get('host', '')
            match = _HOST.fullmatch(host)
            if match is None or match['name'].lower() not in self.hosts:
                response = JSONResponse({'error': (
                    f'Host {host!r} is not served here; allowed: '
                    f'{", ".join(sorted(self.hosts))} (add names with '
                    '--allow-host)')}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def allowed_hosts(host: str, extra: Sequence[str] = ()) -> List[str]:
    """The ``Host`` names a server listening on ``host`` serves: the
    loopback names, ``host`` itself (an IPv6 address in brackets) and
    ``extra``."""
    own = f'[{host}]' if ':' in host else host
    return [*LOOPBACK_HOSTS, own, *extra]


class ZeroShotDemo:
    """One model answering zero-shot requests, one at a time.

    Args:
        model: An :class:`XCLIPRecognizer` from :func:`init_xclip`.
        max_upload_bytes: Largest accepted video file.
        budget: Decode budget of each request's video, ``base_s`` and
            ``per_mb_s`` of :func:`~mmxclip.datasets.video_gate.
            decode_budget`.
        max_labels: Most labels per request.
        max_models: Most models kept for other frame counts.
    """

    def __init__(self, model: nn.Module, max_upload_bytes: int,
                 budget: Dict[str, float], max_labels: int = 1000,
                 max_models: int = 3) -> None:
        self.models = {model.neck.num_frames: model}
        self.max_upload_bytes = max_upload_bytes
        self.budget = dict(budget)
        self.max_labels = max_labels
        self.max_models = max_models
        self.lock = threading.Lock()

    @property
    def num_frames(self) -> int:
        """The loaded model's frame count T."""
        return next(iter(self.models))

    def model_for(self, num_frames: int) -> nn.Module:
        """The model for ``num_frames`` frames (call with the lock held).

        Other frame counts than the loaded model's get a copy built for
        them, the weights loaded through the neck's own load hook (which
        interpolates MIT's temporal position table); the most recent
        ``max_models`` copies are kept.
        """
        if num_frames in self.models:
            return self.models[num_frames]
        base = self.models[self.num_frames]
        cfg = copy.deepcopy(base.cfg)
        cfg.model.neck.num_frames = num_frames
        from mmaction.registry import MODELS
        model = MODELS.build(cfg.model)
        try:
            model.load_state_dict(base.state_dict())
        except ValueError as err:
            raise RequestError(400, f'num_frames={num_frames}: {err}')
        model.cfg = cfg
        model = model.to(next(base.parameters()).device).eval()
        if len(self.models) > self.max_models:
            del self.models[next(k for k in self.models
                                 if k != self.num_frames)]
        self.models[num_frames] = model
        return model

    def parse_labels(self, fields: Dict[str, str]) -> List[str]:
        """The ``labels`` field, at most :attr:`max_labels` of them.

        Raises:
            RequestError: Missing, empty or too many labels (400).
        """
        labels = parse_labels(fields.get('labels'))
        if len(labels) > self.max_labels:
            raise RequestError(400, f'{len(labels)} labels, at most '
                               f'{self.max_labels} are accepted')
        return labels

    def parse_fields(self, fields: Dict[str, str]
                     ) -> Tuple[List[str], Dict[str, int]]:
        """The labels and the options (``topk``, ``num_clips``,
        ``num_crops``, ``num_frames``) of a request's text fields.

        Raises:
            RequestError: A field missing or out of range (400).
        """
        labels = self.parse_labels(fields)
        options = dict(
            topk=_int_field(fields, 'topk', len(labels), 1, len(labels)),
            num_clips=_int_field(fields, 'num_clips', 1, 1, 10),
            num_crops=_int_field(fields, 'num_crops', 1, 1, 3),
            num_frames=_int_field(fields, 'num_frames', self.num_frames, 1,
                                  64))
        if options['num_crops'] == 2:
            raise RequestError(400, 'num_crops must be 1 or 3, got 2')
        return labels, options

    def answer(self, upload: str, name: str, labels: List[str],
               options: Dict[str, Any],
               run: Optional[Callable[..., Dict[str, Any]]] = None
               ) -> Dict[str, Any]:
        """``run(model, video, name, labels, options)`` (default: the
        ranking of ``labels``) on the file ``upload`` (sent as ``name``),
        the lock held, under the decode budget, as the JSON answer; run on
        a worker thread.

        Raises:
            RequestError: Labels the model cannot read (400); a video the
                gate refuses, that does not decode, or that overruns its
                decode budget (422).
        """
        video = upload
        try:
            # Before the lock: a playlist is refused without waiting. The
            # suffix names the probed container (MMAction2's DecordInit
            # appends '.mp4' to a name without one).
            video = f'{upload}.{probe_container(upload, name)}'
            os.replace(upload, video)
            with self.lock, decode_budget(**self.budget):
                model = self.model_for(options.pop('num_frames',
                                                   self.num_frames))
                return (run or self._answer)(model, video, name, labels,
                                             options)
        except BrokenVideoError as err:
            raise RequestError(422, f'{name!r}: '
                               f'{err.reason.replace(video, name)}')

    def _answer(self, model: nn.Module, video: str, name: str,
                labels: List[str], options: Dict[str, int]) -> Dict[str, Any]:
        """:meth:`answer` with ``model``, the lock held."""
        try:
            model.set_class_names(labels)
        except ValueError as err:  # e.g. a label over CLIP's 77 tokens
            raise RequestError(400, f'labels: {err}')
        model.cfg.test_pipeline = test_pipeline(
            model.neck.num_frames, model.backbone.input_resolution,
            options['num_clips'], options['num_crops'])
        result = recognize(model, video,
                           topk=min(options['topk'], len(labels)))
        # read_frames decodes through the gate, which checks the budget
        # between packets, as recognize's pipeline does.
        frames = read_frames(video, result.frame_inds[:1])[0]
        return dict(
            labels=[label for label, _ in result.ranking],
            scores=[score for _, score in result.ranking],
            frame_indices=result.frame_inds.tolist(),
            frames=[_data_url(f) for f in frames])

    def _check_length(self, header: Optional[str]) -> None:
        """Refuse a body whose announced length is already too large."""
        limit = self.max_upload_bytes + FORM_BYTES
        try:
            announced = int(header or 0)
        except ValueError:  # the count of the streamed bytes still holds
            announced = 0
        if announced > limit:
            raise RequestError(
                413, f'the request has {header} bytes, more than a video of '
                f'{self.max_upload_bytes} bytes (the limit, --max-upload-mb) '
                'and the form fields need')

    async def serve(self, request: Request,
                    parse_fields: Callable[[Dict[str, str]], Tuple[
                        List[str], Dict[str, Any]]],
                    run: Optional[Callable[..., Dict[str, Any]]] = None,
                    text_fields: Sequence[str] = TEXT_FIELDS
                    ) -> JSONResponse:
        """A form request: the upload streamed to disk within the limit,
        its ``text_fields`` read by ``parse_fields``, :meth:`answer` with
        ``run`` off the event loop; every refusal a 4xx JSON."""
        try:
            self._check_length(request.headers.get('content-length'))
            with tempfile.TemporaryDirectory(prefix='mmxclip-demo-') as d:
                form = UploadForm(osp.join(d, 'video'), self.max_upload_bytes,
                                  text_fields)
                await form.read(request)
                labels, options = parse_fields(form.fields)
                answer = await _off_loop(self.answer, form.path,
                                         form.video_name(), labels, options,
                                         run)
        except RequestError as err:
            return JSONResponse({'error': str(err)}, status_code=err.status)
        return JSONResponse(answer)

    async def zero_shot(self, request: Request) -> JSONResponse:
        """``POST /api/zero_shot``."""
        return await self.serve(request, self.parse_fields)

    async def health(self, request: Request) -> JSONResponse:
        """``GET /health``: up, and whether a request holds the model."""
        return JSONResponse({'status': 'ok', 'busy': self.lock.locked()})


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Starlette's own refusals (unknown path, wrong method) as JSON."""
    return JSONResponse(
        {'error': f'{request.method} {request.url.path}: {exc.detail}'},
        status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug rather than the request: JSON too, the traceback in the
    server's log."""
    return JSONResponse({'error': f'internal error ({type(exc).__name__}); '
                         "see the server's log"}, status_code=500)


# Timeline view (issue 24): POST /api/timeline, the page's "Timeline" block.
# Labels scored over sliding windows of an uploaded video
# (mmxclip.apis.timeline), with the zero-shot demo's model, lock, upload
# rules and decode budget.


def _float_field(fields: Dict[str, str], name: str, default: Optional[float],
                 low: float, high: float) -> Optional[float]:
    """An optional number form field in ``(low, high]``."""
    text = fields.get(name)
    if text is None or str(text).strip() == '':
        return default
    try:
        value = float(str(text))
    except ValueError:
        value = math.nan
    if not low < value <= high:
        raise RequestError(400, f'{name} must be a number in ({low:g}, '
                           f'{high:g}], got {text!r}')
    return value


class TimelineDemo:
    """Timelines of uploaded videos (``POST /api/timeline``).

    Multipart form: ``video``, ``labels``; optional ``window`` and
    ``stride`` (seconds, default 2 and 1) and ``threshold``. The answer is
    :meth:`mmxclip.apis.Timeline.to_json` (labels, windows with their
    scores, segments, notes); the upload, its checks and every refusal are
    :class:`ZeroShotDemo`'s.

    Args:
        demo: The zero-shot demo whose model, lock, limits and budget are
            used.
    """

    def __init__(self, demo: ZeroShotDemo) -> None:
        self.demo = demo

    def parse_fields(self, fields: Dict[str, str]
                     ) -> Tuple[List[str], Dict[str, Any]]:
        """The labels and ``window``, ``stride``, ``threshold``.

        Raises:
            RequestError: A field missing or out of range (400).
        """
        return self.demo.parse_labels(fields), dict(
            window=_float_field(fields, 'window', 2.0, 0, 3600),
            stride=_float_field(fields, 'stride', 1.0, 0, 3600),
            threshold=_float_field(fields, 'threshold', None, 0, 1))

    def run(self, model: nn.Module, video: str, name: str,
            labels: List[str], options: Dict[str, Any]) -> Dict[str, Any]:
        """The timeline of ``video`` (uploaded as ``name``), the lock held.

        Raises:
            RequestError: Windows the video cannot have (400).
        """
        model.cfg.test_pipeline = test_pipeline(
            model.neck.num_frames, model.backbone.input_resolution)
        try:
            result = timeline(model, video, labels, name=name, **options)
        except ValueError as err:  # labels, window or stride
            raise RequestError(400, str(err))
        return result.to_json()

    async def handle(self, request: Request) -> JSONResponse:
        """``POST /api/timeline``."""
        return await self.demo.serve(request, self.parse_fields, self.run,
                                     TIMELINE_FIELDS)


def create_app(model: nn.Module,
               max_upload_mb: float = 100,
               host: str = '127.0.0.1',
               allow_hosts: Sequence[str] = (),
               budget: Optional[Dict[str, float]] = None) -> Starlette:
    """The demo app over ``model``.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg``, from
            :func:`mmxclip.apis.init_xclip`.
        max_upload_mb: Largest accepted upload, in MiB.
        host: The address the server listens on; a ``Host`` naming it is
            served, as are the loopback names.
        allow_hosts: More ``Host`` names to serve (e.g. the machine's name
            when listening on 0.0.0.0).
        budget: Decode budget of each video: ``base_s`` and ``per_mb_s``
            as given, the others the gate's :data:`~mmxclip.datasets.
            video_gate.DEFAULT_BUDGET`.

    Returns:
        Starlette: The ASGI app.

    Raises:
        ValueError: A limit or a budget below 0.
    """
    if max_upload_mb <= 0:
        raise ValueError(f'max_upload_mb must be > 0, got {max_upload_mb}')
    budget = {**DEFAULT_BUDGET, **(budget or {})}
    with decode_budget(**budget):  # the gate's check of it, now
        pass
    model.cfg = copy.deepcopy(model.cfg)
    demo = ZeroShotDemo(model, int(max_upload_mb * (1 << 20)), budget)
    with open(PAGE, encoding='utf-8') as f:
        page = f.read().replace('{{NUM_FRAMES}}',
                                str(model.neck.num_frames))

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    app = Starlette(
        routes=[
            Route('/', index),
            Route('/health', demo.health),
            Route('/api/zero_shot', demo.zero_shot, methods=['POST']),
            Route('/api/timeline', TimelineDemo(demo).handle,
                  methods=['POST']),
        ],
        middleware=[Middleware(HostAllowlist,
                               hosts=allowed_hosts(host, allow_hosts))],
        exception_handlers={HTTPException: _http_error,
                            Exception: _server_error})
    app.state.demo = demo
    return app
