"""Every row of ``hostile_rows.WEB_ROWS``: one request to the app, in this process.

The app (``fashion_mrcnn.app.server.WebApp`` over an untrained checkpoint of the suite's run,
no catalogue, no samples, uploads limited to 300 kB; a row with ``model="diverged"`` meets the
app over a diverged run's checkpoint instead) is driven through ASGI directly
(:func:`asgi_request`): Starlette's TestClient needs httpx, which the project does not install.
Each row checks the status and a fragment of the JSON ``error`` (or of the JSON body), and that
nothing was written outside the temporary upload folder.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest

from tests.hostile import hostile_inputs as inp
from tests.hostile.hostile_rows import WEB_ROWS, WebRow

UPLOAD_LIMIT = 300_000


def asgi_request(app, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """``(status, body)`` of one HTTP request to the ASGI ``app`` (``target``: path?query)."""
    path, _, query = target.partition("?")

    async def exchange():
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
            "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        events = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict] = []
        done = asyncio.Event()

        async def receive():
            if events:
                return events.pop(0)
            await done.wait()  # as a server: the client goes away once the response is sent
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)
        start = next(m for m in sent if m["type"] == "http.response.start")
        return start["status"], b"".join(m.get("body", b"") for m in sent[1:])

    return asyncio.run(exchange())


@pytest.fixture(scope="module")
def webapp(world):
    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.app.server import Limits, WebApp

    app = WebApp(Engine(world.checkpoint()), limits=Limits(max_upload_bytes=UPLOAD_LIMIT))
    yield app
    app.close()


@pytest.fixture(scope="module")
def diverged_webapp(world, tmp_path_factory):
    """The app over :func:`hostile_inputs.diverged_checkpoint` (weights giving NaN / inf)."""
    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.app.server import WebApp

    weights = inp.diverged_checkpoint(tmp_path_factory.mktemp("diverged"), world)["diverged"]
    app = WebApp(Engine(weights))
    yield app
    app.close()


@pytest.fixture(scope="module")
def bodies(world, tmp_path_factory) -> dict[str, bytes]:
    tmp = tmp_path_factory.mktemp("uploads")
    return {
        "": b"",
        "good": inp.jpeg_bytes(world),
        "text": b"shopping list: shoes, a bag\n" * 4,
        "truncated": inp.truncated_jpeg_bytes(world),
        "bomb": inp.png_bomb_bytes(tmp),
        "big": b"\xff\xd8" + b"\0" * (UPLOAD_LIMIT + 1),
    }


@pytest.fixture(scope="module")
def result_id(webapp, bodies) -> str:
    status, body = asgi_request(webapp.starlette, "POST", "/api/detect?filename=a.jpg",
                                bodies["good"])  # fmt: skip
    assert status == 200, body
    return json.loads(body)["id"]


def _files_in_tmp() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("fashion-mrcnn-upload-*")}


@pytest.mark.parametrize("row", WEB_ROWS, ids=lambda row: row.id)
def test_web_row(row: WebRow, webapp, bodies, result_id, tmp_path, monkeypatch, request):
    app = webapp if row.model == "untrained" else request.getfixturevalue(f"{row.model}_webapp")
    monkeypatch.chdir(tmp_path)  # a relative path in an upload name would land here
    before = _files_in_tmp()
    target = row.path.format(rid=result_id)
    status, body = asgi_request(app.starlette, row.method, target, bodies[row.body])
    try:
        text = json.dumps(json.loads(body))
    except ValueError:
        text = body.decode("utf-8", "replace")
    assert status == row.status, text[:2000]
    assert row.fragment in text, text[:2000]
    if status >= 400 and body:
        assert "Traceback" not in text
    if status == 500:  # the model's failure in words, not an exception's name and text
        assert "Error" not in text, text[:2000]
    assert list(tmp_path.iterdir()) == [], "the request wrote into the working directory"
    assert _files_in_tmp() <= before, "an upload's temporary folder was left behind"
