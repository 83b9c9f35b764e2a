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
  clip). Anything wrong with the request is a 4xx JSON ``{"error": "..."}``
  naming what is wrong, and the server goes on serving.
* ``POST /api/timeline``: the same form with ``window``, ``stride`` and
  ``threshold``; labels over sliding windows of a long video
  (:class:`TimelineDemo`, the page's timeline block).

Requests share one model and its text cache, so they run one at a time
behind a lock (on CPU one inference already uses every core); the event
loop stays free meanwhile. Uploads go to a temporary file that is removed
whatever happens.
"""
import asyncio
import base64
import copy
import math
import os.path as osp
import tempfile
import threading
from typing import Any, Dict, List, Optional

import cv2
import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from torch import nn

from ..datasets import BrokenVideoError
from ..models.heads import load_class_names
from .inference import read_frames, recognize
from .pipeline import test_pipeline
from .timeline import timeline

PAGE = osp.join(osp.dirname(__file__), 'demo_page.html')
# Longest side of the frames sent back to the page, in pixels.
THUMBNAIL = 160


class RequestError(ValueError):
    """A request the demo cannot answer; ``status`` is its HTTP code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _int_field(form: Any, name: str, default: int, low: int,
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


class ZeroShotDemo:
    """One model answering zero-shot requests, one at a time.

    Args:
        model: An :class:`XCLIPRecognizer` from :func:`init_xclip`.
        max_upload_bytes: Largest accepted video file.
        max_labels: Most labels per request.
    """

    def __init__(self, model: nn.Module, max_upload_bytes: int,
                 max_labels: int = 1000, max_models: int = 3) -> None:
        self.models = {model.neck.num_frames: model}
        self.max_upload_bytes = max_upload_bytes
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

    def answer(self, video: str, name: str, labels: List[str],
               options: Dict[str, int]) -> Dict[str, Any]:
        """The ranking of ``labels`` for the file ``video`` (uploaded as
        ``name``), as the JSON answer."""
        with self.lock:
            model = self.model_for(options['num_frames'])
            return self._answer(model, video, name, labels, options)

    def _answer(self, model: nn.Module, video: str, name: str,
                labels: List[str], options: Dict[str, int]) -> Dict[str, Any]:
        """:meth:`answer` with ``model``, the lock held."""
        pipeline = test_pipeline(model.neck.num_frames,
                                 model.backbone.input_resolution,
                                 options['num_clips'], options['num_crops'])
        model.cfg.test_pipeline = pipeline
        try:
            result = recognize(model, video, labels,
                               topk=min(options['topk'], len(labels)))
        except BrokenVideoError as err:
            raise RequestError(422, f'{name!r}: '
                               f'{err.reason.replace(video, name)}')
        frames = read_frames(video, result.frame_inds[:1])[0]
        return dict(
            labels=[label for label, _ in result.ranking],
            scores=[score for _, score in result.ranking],
            frame_indices=result.frame_inds.tolist(),
            frames=[_data_url(f) for f in frames])

    async def save_upload(self, upload: UploadFile, name: str,
                          folder: str) -> str:
        """Copy the uploaded file ``name`` into ``folder``, refusing
        oversized ones.

        Returns:
            str: The file's path (its original extension kept, for the
            decoders' sake).
        """
        path = osp.join(folder, 'video' + osp.splitext(name)[1][:16])
        size = 0
        with open(path, 'wb') as f:
            while chunk := await upload.read(1 << 20):
                size += len(chunk)
                if size > self.max_upload_bytes:
                    raise RequestError(
                        413, f'{name!r} is larger than the '
                        f'{self.max_upload_bytes} bytes this server '
                        'accepts (--max-upload-mb)')
                f.write(chunk)
        if size == 0:
            raise RequestError(400, f'{name!r} is empty (0 bytes); expected '
                               'a video file')
        return path

    async def zero_shot(self, request: Request) -> JSONResponse:
        """``POST /api/zero_shot``."""
        try:
            length = int(request.headers.get('content-length') or 0)
            if length > self.max_upload_bytes + (1 << 20):
                raise RequestError(
                    413, f'the request has {length} bytes, more than the '
                    f'{self.max_upload_bytes} bytes this server accepts '
                    '(--max-upload-mb)')
            async with request.form(max_files=1, max_fields=10) as form:
                labels = parse_labels(form.get('labels'))
                if len(labels) > self.max_labels:
                    raise RequestError(400, f'{len(labels)} labels, at most '
                                       f'{self.max_labels} are accepted')
                options = dict(
                    topk=_int_field(form, 'topk', len(labels), 1,
                                    len(labels)),
                    num_clips=_int_field(form, 'num_clips', 1, 1, 10),
                    num_crops=_int_field(form, 'num_crops', 1, 1, 3),
                    num_frames=_int_field(form, 'num_frames',
                                          self.num_frames, 1, 64))
                if options['num_crops'] == 2:
                    raise RequestError(400, 'num_crops must be 1 or 3, got 2')
                upload = form.get('video')
                if not isinstance(upload, UploadFile):
                    raise RequestError(400, 'expected the video as a file in '
                                       "the multipart field 'video'")
                name = osp.basename(upload.filename or 'upload')
                with tempfile.TemporaryDirectory(prefix='mmxclip-demo-') as d:
                    video = await self.save_upload(upload, name, d)
                    answer = await asyncio.to_thread(self.answer, video, name,
                                                     labels, options)
        except RequestError as err:
            return JSONResponse({'error': str(err)}, status_code=err.status)
        except MultiPartException as err:
            return JSONResponse({'error': f'bad multipart form: {err}'},
                                status_code=400)
        return JSONResponse(answer)


# ---------------------------------------------------------------------------
# Timeline view (issue 24): POST /api/timeline, the page's "Timeline" block.
# Labels scored over sliding windows of an uploaded video
# (mmxclip.apis.timeline), with the zero-shot demo's model, lock and upload
# rules.


def _float_field(form: Any, name: str, default: Optional[float], low: float,
                 high: float) -> Optional[float]:
    """An optional number form field in ``(low, high]``."""
    text = form.get(name)
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
    scores, segments, notes); bad requests are 4xx JSON ``{"error": ...}``
    as for ``/api/zero_shot``.

    Args:
        demo: The zero-shot demo whose model, lock and limits are used.
    """

    def __init__(self, demo: ZeroShotDemo) -> None:
        self.demo = demo

    def answer(self, video: str, name: str, labels: List[str],
               options: Dict[str, Any]) -> Dict[str, Any]:
        """The timeline of the file ``video`` (uploaded as ``name``)."""
        with self.demo.lock:
            model = self.demo.models[self.demo.num_frames]
            model.cfg.test_pipeline = test_pipeline(
                model.neck.num_frames, model.backbone.input_resolution)
            try:
                result = timeline(model, video, labels, name=name, **options)
            except BrokenVideoError as err:
                raise RequestError(422, f'{name!r}: {err.reason}')
            except ValueError as err:
                raise RequestError(400, str(err))
        return result.to_json()

    async def handle(self, request: Request) -> JSONResponse:
        """``POST /api/timeline``."""
        demo = self.demo
        try:
            length = int(request.headers.get('content-length') or 0)
            if length > demo.max_upload_bytes + (1 << 20):
                raise RequestError(
                    413, f'the request has {length} bytes, more than the '
                    f'{demo.max_upload_bytes} bytes this server accepts '
                    '(--max-upload-mb)')
            async with request.form(max_files=1, max_fields=10) as form:
                labels = parse_labels(form.get('labels'))
                if len(labels) > demo.max_labels:
                    raise RequestError(400, f'{len(labels)} labels, at most '
                                       f'{demo.max_labels} are accepted')
                options = dict(
                    window=_float_field(form, 'window', 2.0, 0, 3600),
                    stride=_float_field(form, 'stride', 1.0, 0, 3600),
                    threshold=_float_field(form, 'threshold', None, 0, 1))
                upload = form.get('video')
                if not isinstance(upload, UploadFile):
                    raise RequestError(400, 'expected the video as a file in '
                                       "the multipart field 'video'")
                name = osp.basename(upload.filename or 'upload')
                with tempfile.TemporaryDirectory(prefix='mmxclip-demo-') as d:
                    video = await demo.save_upload(upload, name, d)
                    answer = await asyncio.to_thread(self.answer, video, name,
                                                     labels, options)
        except RequestError as err:
            return JSONResponse({'error': str(err)}, status_code=err.status)
        except MultiPartException as err:
            return JSONResponse({'error': f'bad multipart form: {err}'},
                                status_code=400)
        return JSONResponse(answer)


# ---------------------------------------------------------------------------


def create_app(model: nn.Module, max_upload_mb: float = 100) -> Starlette:
    """The demo app over ``model``.

    Args:
        model: An :class:`XCLIPRecognizer` with ``cfg``, from
            :func:`mmxclip.apis.init_xclip`.
        max_upload_mb: Largest accepted upload, in MiB.

    Returns:
        Starlette: The ASGI app.
    """
    model.cfg = copy.deepcopy(model.cfg)
    demo = ZeroShotDemo(model, int(max_upload_mb * (1 << 20)))
    with open(PAGE, encoding='utf-8') as f:
        page = f.read().replace('{{NUM_FRAMES}}',
                                str(model.neck.num_frames))

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    app = Starlette(routes=[
        Route('/', index),
        Route('/api/zero_shot', demo.zero_shot, methods=['POST']),
        Route('/api/timeline', TimelineDemo(demo).handle, methods=['POST']),
    ])
    app.state.demo = demo
    return app
