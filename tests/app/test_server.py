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

from fashion_mrcnn.app.engine import Analysis
from fashion_mrcnn.app.server import Limits, WebApp, display_name, fit_side
from fashion_mrcnn.app.serving import AppServer, bind
from fashion_mrcnn.predict import detection_to_record


class StandInEngine:
    """One 'shirt' in the middle of every image, after ``delay`` seconds (or an error)."""

    class_names = ["BG", "shirt"]
    category_ids = {1: 5}

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.delay, self.fail = delay, fail
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def analyse(self, image):
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.delay)
            if self.fail:
                raise RuntimeError("the stand-in model broke")
            h, w = image.shape[:2]
            masks = np.zeros((h, w, 1), bool)
            masks[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4, 0] = True
            result = {
                "rois": np.array([[h // 4, w // 4, 3 * h // 4, 3 * w // 4]], np.int32),
                "class_ids": np.array([1], np.int32),
                "scores": np.array([0.9], np.float32),
                "masks": masks,
            }
            return Analysis(result, np.ones((1, 4), np.float32) / 2, np.ones((1, 72), np.float32))
        finally:
            with self._lock:
                self.running -= 1

    def record(self, name, image_shape, result):
        return detection_to_record(name, image_shape, result, self.class_names, self.category_ids)

    def summary(self):
        return {"weights": "stand-in", "backbone": "none", "image_size": 64, "classes": ["shirt"],
                "default_min_score": 0.5}  # fmt: skip


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
