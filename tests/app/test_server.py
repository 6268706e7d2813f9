"""Server behaviour that does not depend on the model (a stand-in engine, no TensorFlow): the
queue bound, the kept-results bound, the upload size limit, a failing model, the page files."""

from __future__ import annotations

import io
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.app.server import Limits, WebApp, display_name, fit_side
from fashion_mrcnn.app.serving import AppServer, bind
from tests.app.app_helpers import OverlapEngine, StandInEngine


def _png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 200, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _call(url, data=None):
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture()
def serve():
    servers = []

    def start(engine, **limits):
        server = AppServer(WebApp(engine, None, [], Limits(**limits)), bind("127.0.0.1", 0))
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


def test_analyses_run_one_at_a_time_and_a_full_queue_gets_503(serve):
    engine = StandInEngine(delay=0.4)
    server = serve(engine, max_waiting=2)
    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = list(
            pool.map(lambda i: _call(f"{server.url}api/detect?filename=p{i}.png", _png()), range(5))
        )
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200, 200, 503, 503, 503], answers
    busy = [json.loads(body)["error"] for status, body in answers if status == 503]
    assert all("busy" in message for message in busy), busy
    assert engine.most_at_once == 1
    assert _call(f"{server.url}api/detect?filename=later.png", _png())[0] == 200


def test_only_the_last_results_are_kept(serve):
    server = serve(StandInEngine(), kept_results=2)
    ids = [
        json.loads(_call(f"{server.url}api/detect?filename=p{i}.png", _png())[1])["id"]
        for i in range(3)
    ]
    assert list(server.webapp.results) == ids[1:]
    status, body = _call(f"{server.url}api/results/{ids[0]}/record.json")
    assert status == 404 and "no longer kept" in json.loads(body)["error"]
    assert _call(f"{server.url}api/results/{ids[2]}/record.json")[0] == 200


def test_an_upload_over_the_limit_is_refused(serve):
    server = serve(StandInEngine(), max_upload_bytes=1000)
    status, body = _call(f"{server.url}api/detect?filename=big.png", b"x" * 5000)
    assert status == 413 and "big.png: upload larger" in json.loads(body)["error"]
    assert server.webapp.waiting == 0


def test_a_model_failure_is_reported_and_the_server_keeps_serving(serve):
    server = serve(StandInEngine(fail=True))
    status, body = _call(f"{server.url}api/detect?filename=a.png", _png())
    message = json.loads(body)["error"]
    assert status == 500 and "a.png" in message and "the stand-in model broke" in message
    status, body = _call(f"{server.url}api/health")
    assert status == 200 and json.loads(body)["waiting"] == 0


def test_similar_without_a_catalogue_says_so(serve):
    server = serve(StandInEngine())
    rid = json.loads(_call(f"{server.url}api/detect?filename=a.png", _png())[1])["id"]
    status, body = _call(f"{server.url}api/results/{rid}/similar/0")
    assert status == 404 and "no catalogue" in json.loads(body)["error"]


def test_page_and_its_files_are_served(serve):
    server = serve(StandInEngine())
    status, html = _call(server.url)
    assert status == 200 and b"Shop the look" in html and b'src="static/app.js"' in html
    for name in ("app.js", "app.css"):
        assert _call(f"{server.url}static/{name}")[0] == 200
    status, body = _call(f"{server.url}api/nothing-here")
    assert status == 404 and "error" in json.loads(body)


def test_upload_names_lose_folders_and_big_images_are_downscaled():
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\photos\\look.jpg") == "look.jpg"
    assert display_name("") == "upload"
    image = np.zeros((3000, 1500, 3), np.uint8)
    small, notice = fit_side(image, 1280, "tall.jpg")
    assert small.shape == (1280, 640, 3)
    assert "tall.jpg is 1500x3000 px" in notice and "1280" in notice
    same, none = fit_side(small, 1280, "x")
    assert same is small and none is None


def test_a_taken_port_is_reported():
    from fashion_mrcnn.errors import ConfigError

    taken = bind("127.0.0.1", 0)
    taken.listen()
    try:
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            bind("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_a_result_names_duplicate_guesses_and_the_main_garment(serve):
    server = serve(OverlapEngine())
    status, body = _call(f"{server.url}api/detect?filename=look.png", _png((200, 100)))
    result = json.loads(body)
    assert status == 200, result
    e = OverlapEngine
    expected = [-1] * 4
    expected[e.TOP] = e.DRESS  # the top is another guess for the dress's region
    assert result["duplicate_of"] == expected
    assert result["main"] == e.DRESS


def test_each_instance_has_its_attributes_by_name(serve):
    server = serve(OverlapEngine())
    status, body = _call(f"{server.url}api/detect?filename=look.png", _png((200, 100)))
    result = json.loads(body)
    assert status == 200, result
    named = {"id": 72, "name": "stripe", "score": 0.81}  # a name the model knows
    unnamed = {"id": 999, "name": "attribute 999", "score": 0.64}  # one it does not
    dress = [named, unnamed]
    assert result["attributes"] == [dress, [], [], []]
    assert [i["attributes"] for i in result["record"]["instances"]] == [[72, 999], [], [], []]
    # a model without the attribute head: an empty list for every instance
    plain = serve(StandInEngine())
    result = json.loads(_call(f"{plain.url}api/detect?filename=p.png", _png())[1])
    assert result["attributes"] == [[]] and result["record"]["instances"][0]["attributes"] == []


def test_the_page_answers_while_the_model_loads_and_an_upload_waits_for_it(serve):
    from fashion_mrcnn.app.startup import Startup

    release, catalog_done = threading.Event(), threading.Event()
    indexing = threading.Event()

    def slow_engine():
        assert release.wait(30)
        return StandInEngine()

    def open_catalog(engine, report):
        report(3, 10)
        indexing.set()
        assert catalog_done.wait(30)
        return None

    webapp = WebApp(None, None, [], Limits())
    webapp.startup = Startup(webapp, slow_engine, open_catalog, lambda engine: []).start()
    server = AppServer(webapp, bind("127.0.0.1", 0)).start()
    try:
        started = time.monotonic()
        assert _call(server.url)[0] == 200
        status = json.loads(_call(f"{server.url}api/status")[1])
        assert status["model"]["state"] == "loading" and time.monotonic() - started < 2
        info = json.loads(_call(f"{server.url}api/info")[1])
        assert info["model"] is None and info["status"]["model"]["state"] == "loading"
        with ThreadPoolExecutor(max_workers=1) as pool:
            upload = pool.submit(_call, f"{server.url}api/detect?filename=early.png", _png())
            time.sleep(0.5)
            assert not upload.done()  # it waits for the model
            release.set()
            status_code, body = upload.result(timeout=30)
        assert status_code == 200, body
        assert json.loads(body)["similar"] is True  # a catalogue is coming
        catalog_done.set()
        assert webapp.startup.wait(30)
        assert json.loads(_call(f"{server.url}api/status")[1])["model"]["state"] == "ready"
    finally:
        release.set()
        catalog_done.set()
        server.stop()
    assert indexing.is_set()


def test_catalogue_progress_is_reported_and_similar_items_wait_for_it(serve):
    from fashion_mrcnn.app.startup import Startup

    release = threading.Event()

    def open_catalog(engine, report):
        report(3, 10)
        assert release.wait(30)
        return None

    webapp = WebApp(StandInEngine(), None, [], Limits())
    webapp.startup = Startup(webapp, None, open_catalog, None).start()
    server = AppServer(webapp, bind("127.0.0.1", 0)).start()
    try:
        deadline = time.monotonic() + 10
        while webapp.status["catalog"]["state"] != "indexing" and time.monotonic() < deadline:
            time.sleep(0.05)
        status = json.loads(_call(f"{server.url}api/status")[1])["catalog"]
        assert (status["state"], status["done"], status["total"]) == ("indexing", 3, 10)
        rid = json.loads(_call(f"{server.url}api/detect?filename=a.png", _png())[1])["id"]
        code, body = _call(f"{server.url}api/results/{rid}/similar/0")
        assert code == 503 and "still being prepared (3 of 10 photos)" in json.loads(body)["error"]
        release.set()
        assert webapp.startup.wait(10)
        assert webapp.status["catalog"]["state"] == "none"
    finally:
        release.set()
        server.stop()


def test_a_model_that_cannot_be_loaded_is_reported_on_the_page_and_to_uploads(serve):
    from fashion_mrcnn.app.startup import Startup

    def broken():
        raise FileNotFoundError("weights file not found: gone.h5")

    webapp = WebApp(None, None, [], Limits())
    webapp.startup = Startup(webapp, broken, None, None).start()
    server = AppServer(webapp, bind("127.0.0.1", 0)).start()
    try:
        assert webapp.startup.wait(10)
        status = json.loads(_call(f"{server.url}api/status")[1])["model"]
        assert status == {"state": "failed", "message": "weights file not found: gone.h5"}
        code, body = _call(f"{server.url}api/detect?filename=a.png", _png())
        assert (
            code == 503
            and "could not be loaded: weights file not found" in json.loads(body)["error"]
        )
    finally:
        server.stop()


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "a.jpg: empty upload (0 bytes): choose a photo (JPEG, PNG or WebP)"),
        (b"shopping list\n", "a.jpg: this file is not a photo we can read: use JPEG, PNG or WebP"),
        (_png((300, 300))[:200], "a.jpg: this photo is damaged or incomplete"),
    ],
)
def test_upload_errors_are_said_in_plain_words(data, expected):
    from fashion_mrcnn.app.params import BadRequest
    from fashion_mrcnn.app.server import decode_upload

    with pytest.raises(BadRequest) as refused:
        decode_upload(data, "a.jpg")
    assert refused.value.status == 400 and refused.value.message.startswith(expected)
    assert "PIL" not in refused.value.message and "identify" not in refused.value.message
