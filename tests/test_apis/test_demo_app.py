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
    with TestClient(app, base_url='http://localhost') as c:
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
        # An answer that is not JSON (a proxy's page) shows by its status.
        page.route('**/api/zero_shot', lambda route: route.fulfill(
            status=502, content_type='text/html', body='<h1>proxy</h1>'))
        page.click('#submit')
        page.wait_for_function(
            "document.getElementById('error').textContent.startsWith('502')",
            timeout=60000)
        browser.close()
    assert glob.glob(str(tmp_path / 'demo.png'))


# ---------------------------------------------------------------------------
# What a stranger's request may not do (docs/demo.md). Bodies are written
# byte for byte where a client library would clean them up.

BOUNDARY = 'mmxclipTestBoundary'
FORM = f'multipart/form-data; boundary={BOUNDARY}'


def part(disposition, content):
    """One multipart part: ``disposition`` (bytes) after ``form-data; ``."""
    return (f'--{BOUNDARY}\r\n'.encode() + b'Content-Disposition: form-data; '
            + disposition + b'\r\n\r\n' + content + b'\r\n')


def body(*parts):
    """A complete multipart body of ``parts``."""
    return b''.join(parts) + f'--{BOUNDARY}--\r\n'.encode()


def video_part(content, filename=b'clip.mp4'):
    return part(b'name="video"; filename="' + filename + b'"', content)


def raw_post(client, content, content_type=FORM):
    return client.post('/api/zero_shot', content=content,
                       headers={'content-type': content_type})


@pytest.fixture
def decoded(monkeypatch):
    """The paths the demo hands to recognize (the real one still runs)."""
    import mmxclip.apis.demo_app as demo_app
    paths = []

    def spy(model, video, *args, **kwargs):
        paths.append(video)
        return recognize(model, video, *args, **kwargs)

    monkeypatch.setattr(demo_app, 'recognize', spy)
    return paths


@pytest.mark.parametrize('filename', [
    b'myclip', b'blob', b'-', b'a\x00b.mp4', b'../../escape.mp4',
    b'/etc/passwd', b'C:\\videos\\clip.mp4', b'.mp4', b'',
    '\u0432\u0438\u0434\u0435\u043e \U0001F3AC.mp4'.encode(),
    b'\xff\xfe not utf-8', b'x' * 2000,
], ids=['no_ext', 'blob', 'dash', 'nul', 'dotdot', 'absolute', 'windows',
        'dot_ext', 'empty', 'unicode', 'not_utf8', 'long'])
def test_any_file_name(client, checkpoint, videos, uploads, decoded, tmp_path,
                       filename):
    """The client's name is never a path: the video is stored as
    ``video.<container>`` in a fresh temporary folder and ranks as
    zero_shot ranks it, whatever the name."""
    with open(videos[0], 'rb') as f:
        data = f.read()
    response = raw_post(client, body(part(b'name="labels"', b'a,b'),
                                     video_part(data, filename)))
    assert response.status_code == 200, response.text
    ref = expected(checkpoint, videos[0], ['a', 'b'])
    assert response.json()['scores'] == pytest.approx(
        [p for _, p in ref.ranking], rel=1e-6)
    folder, stored = osp.split(decoded[0])
    assert stored == 'video.mov'
    assert osp.dirname(folder) == str(uploads)
    assert osp.basename(folder).startswith('mmxclip-demo-')
    assert not glob.glob(str(tmp_path / '**' / 'escape.mp4'), recursive=True)


def test_file_name_in_messages_as_sent(client, uploads):
    name = '\u0432\u0438\u0434\u0435\u043e \U0001F3AC.mp4'
    response = raw_post(client, body(
        part(b'name="labels"', b'a,b'),
        video_part(b'not a video ' * 100, name.encode() + b'\x00x')))
    assert response.status_code == 422
    assert response.json()['error'].startswith(repr(name + '\x00x'))


HLS = b'#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n%s\n#EXT-X-ENDLIST\n'


@pytest.mark.parametrize('kind,message', [
    ('hls_local', 'an HLS/M3U playlist'),
    ('hls_url', 'an HLS/M3U playlist'),
    ('concat', 'an FFmpeg concat list'),
    ('image', 'an image'),
    ('text', 'no known video container'),
])
def test_playlists_and_non_videos_never_decoded(client, videos, uploads,
                                                decoded, kind, message):
    """Refused by the video gate's probe with a 422 naming the upload, before
    any decoder sees them (a playlist would make FFmpeg open the files or
    URLs it names)."""
    content = dict(
        hls_local=HLS % videos[1].encode(),
        hls_url=HLS % b'http://127.0.0.1:9/x.ts',
        concat=b'ffconcat version 1.0\nfile ' + videos[1].encode() + b'\n',
        image=b'\x89PNG\r\n\x1a\n' + bytes(200),
        text=b'hello, this is a note\n' * 20)[kind]
    response = post(client, content, 'a,b', name='innocent.mp4')
    assert response.status_code == 422, response.text
    error = response.json()['error']
    assert error.startswith("'innocent.mp4': refused: ")
    assert message in error
    assert decoded == []


def stream_to_app(app, chunks, headers, folder):
    """POST ``chunks`` to the ASGI app as they are asked for.

    Returns:
        tuple: The response's status and body, the body bytes the app read,
        and the most bytes ``folder`` held meanwhile.
    """
    import asyncio
    chunks = iter(chunks)
    pulled, on_disk, sent = 0, 0, []

    async def receive():
        nonlocal pulled, on_disk
        on_disk = max(on_disk, sum(
            osp.getsize(osp.join(d, f))
            for d, _, files in os.walk(folder) for f in files))
        data = next(chunks, None)
        if data is None:
            return dict(type='http.request', body=b'', more_body=False)
        pulled += len(data)
        return dict(type='http.request', body=data, more_body=True)

    async def send(message):
        sent.append(message)

    scope = dict(type='http', asgi=dict(version='3.0'), http_version='1.1',
                 method='POST', scheme='http', path='/api/zero_shot',
                 raw_path=b'/api/zero_shot', root_path='', query_string=b'',
                 headers=[(b'host', b'localhost'),
                          (b'content-type', FORM.encode()), *headers],
                 client=('127.0.0.1', 50000), server=('localhost', 80))
    asyncio.run(app(scope, receive, send))
    return sent[0]['status'], sent[1]['body'].decode(), pulled, on_disk


def test_chunked_upload_stops_at_the_limit(app, uploads):
    """A body without Content-Length (chunked) is read as it arrives and
    refused the moment the video passes --max-upload-mb: the server stops
    reading it, and the disk never holds more than the limit."""
    limit = app.state.demo.max_upload_bytes
    chunk = bytes(64 << 10)
    head = (part(b'name="labels"', b'a,b')
            + f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="video";'
              ' filename="big.mp4"\r\n\r\n'.encode())
    status, answer, pulled, on_disk = stream_to_app(
        app, [head] + [chunk] * (8 * limit // len(chunk)),
        [(b'transfer-encoding', b'chunked')], uploads)
    assert status == 413
    assert "'big.mp4' is larger than the" in answer
    assert pulled <= len(head) + limit + len(chunk)
    assert 0 < on_disk <= limit


def test_announced_oversize_is_not_read(app, uploads):
    status, answer, pulled, on_disk = stream_to_app(
        app, [bytes(64 << 10)] * 4, [(b'content-length', b'10000000000')],
        uploads)
    assert status == 413
    assert 'the request has 10000000000 bytes, more than' in answer
    assert pulled == on_disk == 0


@pytest.mark.parametrize('host,served', [
    ('localhost', True), ('localhost:7860', True), ('LocalHost:7860', True),
    ('127.0.0.1:7860', True), ('[::1]:7860', True), ('[::1]', True),
    ('evil.example', False), ('evil.example:7860', False),
    ('localhost.evil.example', False), ('127.0.0.1.nip.io:7860', False),
    ('localhost@evil.example', False), ('localhost:7860:80', False),
    ('[::1', False), ('', False), ('127.0.0.2', False),
])
def test_host_allowlist(client, host, served):
    """DNS rebinding: a page on another domain pointed at 127.0.0.1 sends
    its own domain as Host; only this server's names are served."""
    response = client.get('/health', headers=dict(host=host))
    assert response.status_code == (200 if served else 400)
    if not served:
        error = response.json()['error']
        assert f'Host {host!r} is not served here' in error
        assert '--allow-host' in error


def test_host_flag_and_allow_host(checkpoint):
    model = init_xclip(checkpoint, ['placeholder'])
    wide = TestClient(create_app(model, host='0.0.0.0',
                                 allow_hosts=['mybox.lan']))
    for host in ('mybox.lan:7860', '0.0.0.0:7860', 'localhost'):
        assert wide.get('/health', headers=dict(host=host)).status_code == 200
    assert wide.get('/health', headers=dict(
        host='other.lan')).status_code == 400
    ipv6 = TestClient(create_app(model, host='::'))
    assert ipv6.get('/health', headers=dict(host='[::]:80')).status_code == 200


LONG_LABEL = 'a ' + 'very ' * 80 + 'long label'


@pytest.mark.parametrize('content,content_type,status,message', [
    (body(part(b'name="labels"; filename="labels.txt"', b'a,b')), FORM, 400,
     'labels must be a text field, not a file'),
    (body(part(b'name="labels"', LONG_LABEL.encode())), FORM, 400,
     "tokens, more than CLIP's context length 77"),
    (b'this is not multipart at all', FORM, 400,
     'malformed multipart body'),
    (body(part(b'name="labels"', b'a,b'))[:-10], FORM, 400,
     'closing boundary'),
    (f'--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--{BOUNDARY}--\r\n'.encode(),
     FORM, 400, 'malformed multipart body'),
    (body(part(b'name="labels"', b'a,b')), 'multipart/form-data', 400,
     'with a boundary'),
    (b'{"labels": "a,b"}', 'application/json', 400,
     "got Content-Type 'application/json'"),
    (body(part(b'name="labels"', b'a,b'), part(b'name="labels"', b'c')),
     FORM, 400, "the field 'labels' is given twice"),
    (body(part(b'name="labels"', b'a,b'), part(b'name="evil"', b'1')), FORM,
     400, "unknown field 'evil'"),
    (body(part(b'name="labels"', b'a,b'), part(b'name="video"', b'x')), FORM,
     400, 'got a text field'),
    (body(part(b'name="labels"', b'a,b'), video_part(b'x'),
          video_part(b'y')), FORM, 400, "'video' is given twice"),
    (body(part(b'name="labels"', b'caf\xe9')), FORM, 400,
     'labels is not UTF-8 text'),
    (body(part(b'filename="x.mp4"', b'x')), FORM, 400, 'has no name'),
    (body(part(b'name="labels"', b'a,b')), FORM, 400,
     "multipart field 'video'"),
], ids=['labels_as_file', 'label_over_77_tokens', 'garbage', 'truncated',
        'bad_part_header', 'no_boundary', 'json', 'field_twice',
        'unknown_field', 'video_as_text', 'video_twice', 'not_utf8',
        'part_without_name', 'no_video'])
def test_bad_requests_are_json(client, videos, uploads, content,
                               content_type, status, message):
    """Every bad request is a 4xx JSON naming the problem, never a
    plain-text 400 or 500; the server goes on serving."""
    if b'very very' in content:  # labels are checked with a real video
        with open(videos[0], 'rb') as f:
            content = content[:-len(f'--{BOUNDARY}--\r\n')] + body(
                video_part(f.read()))
    response = raw_post(client, content, content_type)
    assert response.status_code == status, response.text
    assert message in response.json()['error']


def test_unknown_routes_are_json(client):
    for method, path, status in (('GET', '/nope', 404),
                                 ('GET', '/api/zero_shot', 405)):
        response = client.request(method, path)
        assert response.status_code == status
        assert path in response.json()['error']


def test_over_budget_decode_is_422_while_others_are_served(
        server, app, videos, uploads, monkeypatch):
    """A decode over its time budget is a 422 naming the upload and the
    budget; while it runs, /health and other requests are answered."""
    import threading

    import mmxclip.apis.demo_app as demo_app
    entered, release = threading.Event(), threading.Event()

    def slow(*args, **kwargs):
        entered.set()
        release.wait(60)
        return recognize(*args, **kwargs)

    monkeypatch.setattr(demo_app, 'recognize', slow)
    monkeypatch.setattr(app.state.demo, 'budget',
                        dict(base_s=0.0, per_mb_s=0.0))
    with ThreadPoolExecutor(1) as pool:
        with open(videos[0], 'rb') as f:
            slow_answer = pool.submit(
                httpx.post, f'{server}/api/zero_shot',
                data=dict(labels='a,b'),
                files=dict(video=('slow.mp4', f.read())), timeout=120)
        try:
            assert entered.wait(60)
            start = time.monotonic()
            health = httpx.get(f'{server}/health', timeout=10)
            assert health.json() == dict(status='ok', busy=True)
            other = httpx.post(f'{server}/api/zero_shot',
                               data=dict(labels=''),
                               files=dict(video=('v.mp4', b'x')), timeout=10)
            assert other.status_code == 400
            assert time.monotonic() - start < 5
            assert not slow_answer.done()
        finally:
            release.set()
        response = slow_answer.result()
    assert response.status_code == 422, response.text
    assert response.json()['error'].startswith(
        "'slow.mp4': decoding took longer than its time budget of 0.0 s")
    assert httpx.get(f'{server}/health').json()['busy'] is False


def test_tool_flags():
    tool = load_tool('demo_app.py')
    args = tool.parse_args(['--checkpoint', 'x.pth'])
    assert (args.allow_host, args.decode_budget_s,
            args.decode_budget_per_mb) == ([], None, None)
    args = tool.parse_args(['--checkpoint', 'x.pth', '--allow-host', 'a',
                            '--allow-host', 'b', '--decode-budget-s', '0',
                            '--decode-budget-per-mb', '1.5'])
    assert (args.allow_host, args.decode_budget_s,
            args.decode_budget_per_mb) == (['a', 'b'], 0, 1.5)


@pytest.mark.parametrize('argv,message', [
    (['--max-upload-mb', '0'], "expected a size in MiB above 0, got '0'"),
    (['--max-upload-mb', 'nan'], 'above 0'),
    (['--decode-budget-s', '-1'], "expected seconds >= 0, got '-1'"),
    (['--decode-budget-per-mb', 'x'], 'expected seconds >= 0'),
])
def test_tool_refuses_bad_flags(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        load_tool('demo_app.py').parse_args(['--checkpoint', 'x.pth', *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_tool_missing_checkpoint(tmp_path):
    missing = str(tmp_path / 'missing.pth')
    with pytest.raises(SystemExit) as exit_:
        load_tool('demo_app.py').main(['--checkpoint', missing])
    assert f'cannot load --checkpoint {missing!r}' in str(exit_.value.code)


# The tool, its recognize blocked for good (a decoder loop that never ends).
STUCK_SERVER = '''
import runpy, sys, threading
import mmxclip.apis.demo_app as demo_app
demo_app.recognize = lambda *args, **kwargs: threading.Event().wait()
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def test_sigterm_stops_within_seconds_and_removes_uploads(checkpoint, videos,
                                                          tmp_path):
    """SIGTERM with one upload stalled halfway and one request stuck in a
    decode that never returns: the server is gone within 5 s (3 s of
    grace) and so are the uploads it stored."""
    import signal
    import subprocess
    import sys
    spool = tmp_path / 'spool'
    spool.mkdir()
    port = _free_port()
    url = f'http://127.0.0.1:{port}'
    env = dict(os.environ, TMPDIR=str(spool), OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [osp.dirname(osp.dirname(osp.dirname(__file__))),
                    os.environ.get('PYTHONPATH', '')]))
    tool = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'demo_app.py')
    proc = subprocess.Popen(
        [sys.executable, '-c', STUCK_SERVER, tool, '--checkpoint', checkpoint,
         '--port', str(port), '--max-upload-mb', '1'], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stalled = socket.socket()
    try:
        for _ in range(600):
            try:
                if httpx.get(f'{url}/health').status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert proc.poll() is None, proc.stderr.read().decode()
        with open(videos[0], 'rb') as f:
            data = f.read()

        def stuck():  # never answered: the server stops under it
            try:
                httpx.post(f'{url}/api/zero_shot', data=dict(labels='a,b'),
                           files=dict(video=('stuck.mp4', data)), timeout=60)
            except httpx.TransportError:
                pass

        threading.Thread(target=stuck, daemon=True).start()
        upload = body(part(b'name="labels"', b'a,b'),
                      video_part(bytes(600 << 10)))
        stalled.connect(('127.0.0.1', port))
        stalled.sendall(
            f'POST /api/zero_shot HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n'
            f'Content-Type: {FORM}\r\nContent-Length: {len(upload)}\r\n\r\n'
            .encode() + upload[:300 << 10])
        stored = str(spool / 'mmxclip-demo-*' / 'video*')
        for _ in range(300):
            files = sorted(osp.basename(p) for p in glob.glob(stored))
            if files == ['video', 'video.mov'] and all(
                    osp.getsize(p) for p in glob.glob(stored)):
                break
            time.sleep(0.1)
        assert files == ['video', 'video.mov']  # stalled; in decoding
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        assert time.monotonic() - start < 5
        assert glob.glob(str(spool / 'mmxclip-demo-*')) == []
    finally:
        stalled.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
