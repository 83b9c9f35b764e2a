"""The zero-shot demo page at the HTTP level: the page, answers equal to
``zero_shot``, bad uploads and labels as 4xx JSON naming the problem (the
server goes on serving), concurrent requests on a real uvicorn server,
uploads always removed; and the page in headless Chromium."""
import glob
import os
import os.path as osp
import re
import shutil
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
import uvicorn
from helpers.hf_reference import CLASS_NAMES, random_hf_model
from helpers.weight_files import converted_tiny_xclip, load_tool, write_video
from starlette.testclient import TestClient

from mmxclip.apis import init_xclip, recognize
from mmxclip.apis.demo_app import create_app

LABELS = ['playing guitar', 'riding a bike', 'swimming', 'cooking pasta']


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('demo'))
    hf = random_hf_model(seed=21, patch=16, frames=4, layers=2, image=32)
    return converted_tiny_xclip(hf, folder, CLASS_NAMES)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp('videos')
    return [write_video(str(folder / f'clip_{i}.mp4'), frames=24, seed=i)
            for i in range(3)]


@pytest.fixture(scope='module')
def app(checkpoint):
    return create_app(init_xclip(checkpoint, ['placeholder']),
                      max_upload_mb=0.5)


@pytest.fixture(scope='module')
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture
def uploads(tmp_path, monkeypatch):
    """Where this test's uploads are spooled (checked empty afterwards)."""
    folder = tmp_path / 'tmp'
    folder.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(folder))
    yield folder
    assert os.listdir(folder) == []


def post(client, video, labels, name=None, **fields):
    """POST a video file (a path) or raw bytes with ``labels``."""
    if isinstance(video, str):
        with open(video, 'rb') as f:
            data = f.read()
    else:
        data = video
    return client.post('/api/zero_shot', data=dict(labels=labels, **fields),
                       files=dict(video=(name or osp.basename(video), data)))


def expected(checkpoint, video, labels, **views):
    model = init_xclip(checkpoint, labels, **views)
    return recognize(model, video, topk=len(labels))


def test_page_has_the_form(client):
    page = client.get('/')
    assert page.status_code == 200
    for part in ('type="file"', 'name="labels"', 'name="num_frames"',
                 'value="4"', 'name="num_clips"', '/api/zero_shot'):
        assert part in page.text


def test_answer_is_the_zero_shot_ranking(client, checkpoint, videos,
                                         uploads):
    answer = post(client, videos[0], ', '.join(LABELS)).json()
    ref = expected(checkpoint, videos[0], LABELS)
    assert answer['labels'] == [label for label, _ in ref.ranking]
    assert answer['scores'] == pytest.approx(
        [p for _, p in ref.ranking], rel=1e-6)
    assert sum(answer['scores']) == pytest.approx(1, abs=1e-6)
    assert answer['scores'] == sorted(answer['scores'], reverse=True)
    assert answer['frame_indices'] == ref.frame_inds.tolist()
    assert len(answer['frames']) == 4
    assert all(f.startswith('data:image/jpeg;base64,')
               for f in answer['frames'])


def test_views_topk_and_one_label_per_line(client, checkpoint, videos,
                                           uploads):
    answer = post(client, videos[1], '\n'.join(LABELS), topk='2',
                  num_clips='2', num_crops='3').json()
    ref = expected(checkpoint, videos[1], LABELS, num_clips=2, num_crops=3)
    assert answer['labels'] == [label for label, _ in ref.ranking[:2]]
    assert answer['scores'] == pytest.approx(
        [p for _, p in ref.ranking[:2]], rel=1e-6)
    assert len(answer['frame_indices']) == 2


def test_other_frame_counts(client, checkpoint, videos, uploads):
    """A model built at 4 frames answers for 8: the ranking of
    init_xclip(num_frames=8), MIT's temporal table interpolated."""
    answer = post(client, videos[0], ','.join(LABELS), num_frames='8')
    assert answer.status_code == 200, answer.text
    answer = answer.json()
    ref = expected(checkpoint, videos[0], LABELS, num_frames=8)
    assert answer['labels'] == [label for label, _ in ref.ranking]
    assert answer['scores'] == pytest.approx(
        [p for _, p in ref.ranking], rel=1e-6)
    assert len(answer['frame_indices'][0]) == len(answer['frames']) == 8
    four = post(client, videos[0], ','.join(LABELS)).json()
    assert four['scores'] != answer['scores']


@pytest.mark.parametrize('fields,status,message', [
    (dict(labels=''), 400, 'labels is empty'),
    (dict(labels='swimming, Swimming'), 400, "'Swimming'"),
    (dict(labels='swimming,  ,riding'), 400, 'blank'),
    (dict(labels='a,b', topk='0'), 400, r'topk must be in \[1, 2\], got 0'),
    (dict(labels='a,b', num_clips='x'), 400,
     "num_clips must be an integer, got 'x'"),
    (dict(labels='a,b', num_crops='2'), 400, 'num_crops must be 1 or 3'),
    (dict(labels='a,b', num_frames='0'), 400, r'num_frames must be in'),
], ids=['empty', 'duplicate', 'blank', 'topk', 'clips', 'crops', 'frames'])
def test_bad_fields(client, videos, uploads, fields, status, message):
    labels = fields.pop('labels')
    response = post(client, videos[0], labels, **fields)
    assert response.status_code == status
    assert re.search(message, response.json()['error'])
    assert post(client, videos[0], 'a,b').status_code == 200


@pytest.mark.parametrize('content,name,status,message', [
    (b'', 'empty.mp4', 400, "'empty.mp4' is empty"),
    (b'this is not a video' * 50, 'notes.mp4', 422, "'notes.mp4': "),
    (None, 'truncated.mp4', 422, "'truncated.mp4': "),
    (b'x' * (600 << 10), 'big.mp4', 413, 'larger than'),
], ids=['empty', 'not_a_video', 'truncated', 'oversized'])
def test_bad_uploads(client, videos, uploads, content, name, status,
                     message):
    if content is None:
        with open(videos[2], 'rb') as f:
            content = f.read()[:2000]
    response = post(client, content, 'a,b', name=name)
    assert response.status_code == status, response.text
    error = response.json()['error']
    assert message in error
    assert str(uploads) not in error  # the upload's name, not the temp path
    assert post(client, videos[0], 'a,b').status_code == 200


def test_request_without_a_file(client, uploads):
    response = client.post('/api/zero_shot', data=dict(labels='a,b'))
    assert response.status_code == 400
    assert "multipart field 'video'" in response.json()['error']


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def server(app):
    """The app on a real uvicorn server on a free local port."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port,
                                        log_level='warning'))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):
        if srv.started:
            break
        time.sleep(0.05)
    yield f'http://127.0.0.1:{port}'
    srv.should_exit = True
    thread.join(timeout=10)


def test_concurrent_requests_get_their_own_answers(server, checkpoint,
                                                   videos, uploads):
    """Different videos and label sets at once: each answer equals the
    one the same request gets alone."""
    jobs = [(videos[i % 3], LABELS[:2 + i % 3]) for i in range(6)]

    def ask(job):
        video, labels = job
        with open(video, 'rb') as f:
            return httpx.post(f'{server}/api/zero_shot',
                              data=dict(labels=','.join(labels)),
                              files=dict(video=('v.mp4', f.read())),
                              timeout=120).json()

    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(ask, jobs))
    for (video, labels), answer in zip(jobs, answers):
        ref = expected(checkpoint, video, labels)
        assert answer['labels'] == [label for label, _ in ref.ranking]
        assert answer['scores'] == pytest.approx(
            [p for _, p in ref.ranking], rel=1e-6)


def test_listens_on_localhost_by_default():
    args = load_tool('demo_app.py').parse_args(['--checkpoint', 'x.pth'])
    assert (args.host, args.port) == ('127.0.0.1', 7860)
    assert args.precision == 'auto'  # passed to init_xclip(dtype=)


CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


@pytest.mark.skipif(CHROMIUM is None, reason='needs Chromium (Debian '
                    'package chromium); the README test command installs it')
def test_page_in_headless_chromium(server, videos, tmp_path, uploads):
    """Upload a video in the real page, type labels, see bars and frames."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run'])
        page = browser.new_page(viewport=dict(width=1000, height=900))
        page.goto(server)
        page.set_input_files('#video', videos[0])
        page.fill('#labels', 'playing guitar\nswimming\ncooking pasta')
        page.click('#submit')
        page.wait_for_selector('#result', state='visible', timeout=60000)
        assert page.locator('.bar-row').count() == 3
        assert page.locator('#frames img').count() == 4
        assert page.locator('#frames img').first.evaluate(
            'img => img.naturalWidth') > 0
        page.screenshot(path=str(tmp_path / 'demo.png'), full_page=True)
        page.fill('#labels', 'same, Same')
        page.click('#submit')
        page.wait_for_selector('#error', state='visible', timeout=60000)
        assert "'Same'" in page.inner_text('#error')
        browser.close()
    assert glob.glob(str(tmp_path / 'demo.png'))
