"""The demo page's timeline view: POST /api/timeline answers what
timeline() answers for the same file, bad fields and videos are 4xx JSON
naming the problem, and the page block in headless Chromium."""
import shutil

import numpy as np
import pytest
from helpers.tiny_model import save_tiny_xclip
from helpers.weight_files import write_video
from starlette.testclient import TestClient

from mmxclip.apis import init_xclip, timeline
from mmxclip.apis.demo_app import create_app

LABELS = ['a square moving right', 'a dog', 'cooking pasta']
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return save_tiny_xclip(str(tmp_path_factory.mktemp('tl') / 'tiny.pth'))


@pytest.fixture(scope='module')
def video(tmp_path_factory):
    return write_video(str(tmp_path_factory.mktemp('tlv') / 'v.mp4'),
                       frames=40)


@pytest.fixture(scope='module')
def client(checkpoint):
    app = create_app(init_xclip(checkpoint, ['placeholder']),
                     max_upload_mb=0.5)
    with TestClient(app, base_url='http://localhost') as c:
        yield c


def post(client, video, **fields):
    with open(video, 'rb') as f:
        return client.post('/api/timeline', data=fields,
                           files=dict(video=('clip.mp4', f.read())))


def test_answer_is_the_timeline(client, checkpoint, video):
    response = post(client, video, labels=', '.join(LABELS), window='1.5',
                    stride='0.5', threshold='0.4')
    assert response.status_code == 200, response.text
    answer = response.json()
    ref = timeline(init_xclip(checkpoint), video, LABELS, window=1.5,
                   stride=0.5, threshold=0.4)
    assert answer['labels'] == LABELS
    assert [(w['start'], w['end']) for w in answer['windows']] == [
        (w.start, w.end) for w in ref.windows]
    np.testing.assert_allclose([w['scores'] for w in answer['windows']],
                               ref.scores, atol=1e-6)
    assert [s['label'] for s in answer['segments']] == [
        s.label for s in ref.segments]


@pytest.mark.parametrize('fields,status,message', [
    (dict(window='0'), 400, 'window must be a number in (0, 3600], got '
     "'0'"),
    (dict(stride='-1'), 400, 'stride must be a number in (0, 3600]'),
    (dict(stride='abc'), 400, "stride must be a number in (0, 3600], got "
     "'abc'"),
    (dict(threshold='2'), 400, 'threshold must be a number in (0, 1]'),
    (dict(stride='0.01'), 400, 'stride 0.01 s is shorter than one frame of '
     "'clip.mp4' (8 fps)"),
    (dict(labels=''), 400, 'labels is empty'),
])
def test_bad_fields(client, video, fields, status, message):
    response = post(client, video, **dict(dict(labels='a, b'), **fields))
    assert response.status_code == status
    assert message in response.json()['error']


def test_bad_videos(client, tmp_path):
    text = tmp_path / 'clip.mp4'
    text.write_text('#EXTM3U\nhttp://example.invalid/a.ts\n')
    response = post(client, str(text), labels='a, b')
    assert response.status_code == 422
    assert response.json()['error'].startswith(
        "'clip.mp4': refused: the file is an HLS/M3U playlist")
    response = client.post('/api/timeline', data=dict(labels='a, b'))
    assert response.status_code == 400
    assert "multipart field 'video'" in response.json()['error']


@pytest.mark.skipif(CHROMIUM is None, reason='needs Chromium (Debian '
                    'package chromium); the README test command installs it')
def test_timeline_block_in_headless_chromium(client, video, tmp_path):
    """Upload in the page's timeline block: curves, segments, table."""
    import threading
    import time

    import uvicorn
    from playwright.sync_api import sync_playwright
    server = uvicorn.Server(uvicorn.Config(client.app, host='127.0.0.1',
                                           port=0, log_level='warning'))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                '--no-sandbox', '--disable-gpu', '--no-first-run'])
            page = browser.new_page(viewport=dict(width=1000, height=1400))
            page.goto(f'http://127.0.0.1:{port}')
            page.set_input_files('#tl-video', video)
            page.fill('#tl-labels', '\n'.join(LABELS))
            page.click('#tl-submit')
            page.wait_for_selector('#tl-result', state='visible',
                                   timeout=60000)
            assert page.locator('#tl-chart polyline').count() == 3
            assert page.locator('#tl-segments tbody tr').count() >= 1
            page.screenshot(path=str(tmp_path / 'timeline.png'),
                            full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert (tmp_path / 'timeline.png').stat().st_size > 10_000
