"""The web app: one page over the model and the JSON endpoints it calls (Starlette).

Endpoints (all paths relative, so the page also works behind a notebook proxy):

==========================================  ===================================================
``GET  /``                                  the page (``static/index.html``)
``GET  /api/info``                          model, classes and colours, samples, catalogue, limits
``POST /api/detect?filename=NAME``          body = the image file's bytes -> a result (below)
``POST /api/samples/{i}/detect``            the same for sample ``i``
``GET  /api/samples/{i}.png``               a sample photo
``GET  /api/results/{id}/image.jpg``        the analysed image (downscaled when it was too big)
``GET  /api/results/{id}/record.json``      the ``predict`` JSONL record (``?min_score=``)
``GET  /api/results/{id}/overlay.png``      ``visualize.draw_overlay`` (``?min_score=&masks=
                                            &boxes=&scores=``)
``GET  /api/results/{id}/similar/{k}``      catalogue items like instance ``k`` (``photo``:
                                            like the whole photo), and
``GET  /api/catalog/...``                   more like a catalogue item, crops: ``shop_api``
``GET  /api/status``                        what is loaded yet (``startup``), ``waiting``
``GET  /api/health``                        ``{"ok": true, "waiting", "analyses", "kept"}``
==========================================  ===================================================

A result is ``{"id", "record" (every detection down to the graph's score floor, in the
``predict`` JSONL schema), "colors" (one "#rrggbb" per instance, the overlay's class colours),
"attributes" (per instance, its attributes by name: ``[{"id", "name", "score"}]``, empty without
the attribute head; ``engine.instance_attributes``), "notice" (e.g. the image was downscaled) or null, "seconds" (model time), "image_url",
"default_min_score", "similar" (a catalogue is or will be there), "duplicate_of" and "main"
(which garment the page selects: :mod:`fashion_mrcnn.app.selection`)}``. Errors are
``{"error": message}`` with status 400 (bad input: the message names the file and says in
plain words what to do), 404, 413 (upload too large), 503 (queue full, model not loaded) or 500
(the model failed; weights that give NaN / inf, a diverged run's, are named in one line).

The app can be served before its model is loaded (``status``; :mod:`fashion_mrcnn.app.startup`
loads it on the model thread, so uploads made meanwhile wait for it).

One model instance serves every request: analyses run one at a time on a single worker thread,
while the event loop keeps answering the page; at most ``Limits.max_waiting`` analyses wait,
further ones get 503. Memory is bounded by ``max_waiting`` uploads of at most
``max_upload_bytes``, images of at most ``max_side`` px a side, and the last ``kept_results``
results (a JPEG, the record and the descriptors each).

Over 400 lines: one job, the HTTP contract above; its handlers share the queue, the kept
results and the limits, and splitting them would scatter that contract over several files.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import re
import tempfile
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fashion_mrcnn.app.engine import instance_attributes
from fashion_mrcnn.app.params import BadRequest
from fashion_mrcnn.app.params import flag as _flag
from fashion_mrcnn.app.params import number as _number
from fashion_mrcnn.app.project import (
    FashionDataError,
    NonFiniteOutputError,
    class_color,
    draw_overlay,
    load_rgb,
    rle_decode,
    to_uint8_color,
)
from fashion_mrcnn.app.selection import overlap_groups
from fashion_mrcnn.app.shop_api import ShopApi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one request may cost."""

    max_upload_bytes: int = 25 * 2**20
    max_side: int = 1280
    max_waiting: int = 16
    kept_results: int = 16
    similar_top: int = 6


@dataclass
class Kept:
    """One analysed image, kept for downloads and similarity queries."""

    id: str
    name: str
    record: dict
    jpeg: bytes
    rois: np.ndarray  # int32 [N, (y1, x1, y2, x2)] px
    class_ids: np.ndarray  # int32 [N], the model's internal ids
    scores: np.ndarray  # float32 [N]
    roi: np.ndarray  # float32 [N, C]
    colour: np.ndarray  # float32 [N, 72]
    shape: np.ndarray | None  # float32 [N, 65]
    notice: str | None
    seconds: float
    groups: dict  # selection.overlap_groups: "duplicate_of" [N], "main"
    photo: dict | None = None  # the whole photo's "roi" [C] and "colour" [72]
    attributes: list = field(default_factory=list)  # [N] lists of {"id", "name", "score"}


def diverged_message(name: str, exc: NonFiniteOutputError) -> str:
    """What the page shows when the model's weights gave NaN / inf on photo ``name`` (the
    weights file by name only: the page does not show server paths)."""
    weights = Path(exc.weights).name if exc.weights else "(loaded from no file)"
    return (
        f"the model cannot analyse {name}: its weights {weights} give non-finite outputs "
        f"(NaN / inf in {exc.where}); they are likely from a training run that diverged: "
        "serve an earlier checkpoint"
    )


def hex_color(class_id: int) -> str:
    r, g, b = to_uint8_color(class_color(class_id))
    return f"#{r:02x}{g:02x}{b:02x}"


def display_name(filename: str | None) -> str:
    """The upload's file name without any folder part (``upload`` when none was sent)."""
    name = Path(str(filename or "").replace("\\", "/")).name.strip()
    return name[:200] or "upload"


#: Plain words for what ``load_rgb`` reports about an upload: (fragment of its message, words).
PLAIN_ERRORS = (
    ("cannot read image", "this file is not a photo we can read: use JPEG, PNG or WebP"),
    ("cannot decode image", "this photo is damaged or incomplete (was it fully downloaded?): "
     "try it again, or another copy, as JPEG, PNG or WebP"),
    ("pixel limit", "this photo is too large to analyse (over the app's 100 million pixel "
     "limit): make it smaller, e.g. 4000 px a side, and try again"),
)  # fmt: skip


def decode_upload(data: bytes, name: str) -> np.ndarray:
    """Bytes of an image file -> uint8 [H, W, 3] RGB via ``data.images.load_rgb``. Raises
    BadRequest(400) with a plain message naming the file (:data:`PLAIN_ERRORS`); the
    technical reason goes to the log."""
    if not data:
        raise BadRequest(400, f"{name}: empty upload (0 bytes): choose a photo (JPEG, PNG or WebP)")
    with tempfile.TemporaryDirectory(prefix="fashion-mrcnn-upload-") as tmp:
        path = Path(tmp) / (re.sub(r"[^\w.\-]+", "_", name) or "upload")
        path.write_bytes(data)
        try:
            return load_rgb(path)
        except FashionDataError as exc:
            detail = str(exc).replace(str(path), name)
            log.info("upload refused: %s", detail)
            words = next((plain for key, plain in PLAIN_ERRORS if key in detail), None)
            raise BadRequest(400, f"{name}: {words}" if words else detail) from None


def fit_side(image: np.ndarray, max_side: int, name: str) -> tuple[np.ndarray, str | None]:
    """Downscale (area interpolation) so the longer side is at most ``max_side`` px; returns
    the image and a notice saying so (None when it already fits)."""
    import cv2

    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image, None
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return small, (
        f"{name} is {w}x{h} px, larger than the app's {max_side} px limit: it was analysed at "
        f"{size[0]}x{size[1]} px, and boxes and masks refer to that size"
    )


def _encode(image: np.ndarray, fmt: str, **kwargs) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"))


class WebApp:
    """State of one served app: the engine, the catalogue, the samples, the queue, the results.

    Args:
        engine: an :class:`fashion_mrcnn.app.engine.Engine` (anything with ``analyse``,
            ``record``, ``summary``, ``class_names``, ``attribute_names``).
        catalog: a :class:`fashion_mrcnn.app.catalog.Catalog` or None (no shop-the-look).
        samples: list of :class:`fashion_mrcnn.app.samples.Sample`.
    """

    def __init__(self, engine, catalog=None, samples=(), limits: Limits = Limits()):
        self.engine = engine
        self.catalog = catalog
        self.samples = list(samples)
        self.limits = limits
        self.waiting = 0
        self.analyses = 0  # model runs so far
        self.results: OrderedDict[str, Kept] = OrderedDict()
        self._ids = itertools.count(1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fashion-mrcnn")
        # what is loaded; app.startup.Startup updates it while it loads in the background
        self.status = {
            "model": {"state": "ready" if engine is not None else "loading", "message": None},
            "catalog": {"state": "ready" if catalog is not None else "none", "done": 0,
                        "total": 0, "items": len(catalog) if catalog is not None else 0,
                        "message": None},
        }  # fmt: skip
        self.shop = ShopApi(self)
        self.starlette = self._build()

    def on_model_thread(self, work, *args, **kwargs):
        """Run ``work(*args, **kwargs)`` on the model thread, after the analyses already
        waiting; returns its Future."""
        return self._executor.submit(work, *args, **kwargs)

    # ------------------------------------------------------------------ model work (worker)
    def _analyse(self, image: np.ndarray, name: str, rid: str) -> Kept:
        if self.engine is None:  # its loading failed (it runs on this thread, before)
            raise BadRequest(
                503, f"the model could not be loaded: {self.status['model']['message']}"
            )
        image, notice = fit_side(image, self.limits.max_side, name)
        start = time.perf_counter()
        analysis = self.engine.analyse(image)
        seconds = time.perf_counter() - start
        self.analyses += 1
        result = analysis.result
        groups = overlap_groups(
            result["masks"], result["scores"], self.engine.summary()["default_min_score"]
        )
        return Kept(
            id=rid,
            name=name,
            record=self.engine.record(name, image.shape, result),
            jpeg=_encode(image, "JPEG", quality=92),
            rois=np.asarray(result["rois"]),
            class_ids=np.asarray(result["class_ids"]),
            scores=np.asarray(result["scores"]),
            roi=analysis.roi,
            colour=analysis.colour,
            shape=analysis.shape,
            notice=notice,
            seconds=round(seconds, 3),
            groups=groups,
            photo=analysis.photo,
            attributes=instance_attributes(result, self.engine.attribute_names),
        )

    def _analyse_bytes(self, data: bytes, name: str, rid: str) -> Kept:
        return self._analyse(decode_upload(data, name), name, rid)

    def _reserve(self) -> None:
        if self.waiting >= self.limits.max_waiting:
            raise BadRequest(
                503,
                f"the server is busy: {self.waiting} photos are waiting for the model; "
                "try again in a moment",
            )
        self.waiting += 1

    def _keep(self, kept: Kept) -> dict:
        self.results[kept.id] = kept
        while len(self.results) > self.limits.kept_results:
            self.results.popitem(last=False)
        return {
            "id": kept.id,
            "record": kept.record,
            "colors": [hex_color(c) for c in kept.class_ids],
            "attributes": kept.attributes,
            "notice": kept.notice,
            "seconds": kept.seconds,
            "image_url": f"api/results/{kept.id}/image.jpg",
            "default_min_score": self.engine.summary()["default_min_score"],
            "similar": self.status["catalog"]["state"] != "none",
            **kept.groups,
        }

    async def _run(self, work, source, name: str) -> dict:
        """``work(source, name, result id)`` on the model thread (the caller has reserved a
        waiting slot); the kept result's JSON."""
        rid = f"r{next(self._ids)}"
        loop = asyncio.get_running_loop()
        try:
            kept = await loop.run_in_executor(self._executor, work, source, name, rid)
        except BadRequest:
            raise
        except NonFiniteOutputError as exc:  # the weights, not this photo: one line, no trace
            log.error("analysing %s failed: %s", name, exc)
            raise BadRequest(500, diverged_message(name, exc)) from exc
        except Exception as exc:  # the model failed on this input: say so, keep serving
            log.exception("analysing %s failed", name)
            raise BadRequest(
                500, f"internal error while analysing {name}: {type(exc).__name__}: {exc}"
            ) from exc
        return self._keep(kept)

    # ------------------------------------------------------------------ endpoints
    async def detect(self, request):
        from starlette.responses import JSONResponse

        name = display_name(request.query_params.get("filename"))
        self._reserve()
        try:
            data = await self._read_body(request, name)
            return JSONResponse(await self._run(self._analyse_bytes, data, name))
        finally:
            self.waiting -= 1

    async def _read_body(self, request, name: str) -> bytes:
        limit = self.limits.max_upload_bytes
        too_big = BadRequest(
            413, f"{name}: upload larger than the app's limit of {limit / 2**20:.0f} MB"
        )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def detect_sample(self, request):
        from starlette.responses import JSONResponse

        sample = self._sample(request)
        self._reserve()
        try:
            return JSONResponse(await self._run(self._analyse, sample.image, sample.name))
        finally:
            self.waiting -= 1

    def _sample(self, request):
        index = int(request.path_params["index"])
        if not 0 <= index < len(self.samples):
            raise BadRequest(404, f"no sample {index} (there are {len(self.samples)})")
        return self.samples[index]

    async def sample_png(self, request):
        from starlette.responses import Response

        return Response(_encode(self._sample(request).image, "PNG"), media_type="image/png")

    def _result(self, request) -> Kept:
        rid = request.path_params["rid"]
        kept = self.results.get(rid)
        if kept is None:
            raise BadRequest(
                404,
                f"result {rid} is no longer kept (the server keeps the last "
                f"{self.limits.kept_results}); analyse the photo again",
            )
        return kept

    async def image(self, request):
        from starlette.responses import Response

        return Response(self._result(request).jpeg, media_type="image/jpeg")

    def _shown(self, request, kept: Kept) -> np.ndarray:
        """Indices of the instances at or above ``?min_score=`` (default: the model's)."""
        default = self.engine.summary()["default_min_score"]
        min_score = _number(request, "min_score", default, 0.0, 1.0)
        return np.flatnonzero(kept.scores >= min_score)

    async def record(self, request):
        from starlette.responses import Response

        kept = self._result(request)
        shown = self._shown(request, kept)
        record = {**kept.record, "instances": [kept.record["instances"][i] for i in shown]}
        stem = Path(kept.name).stem or "upload"
        return Response(
            json.dumps(record, indent=1) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{stem}.json"'},
        )

    async def overlay(self, request):
        from starlette.responses import Response

        kept = self._result(request)
        shown = self._shown(request, kept)
        image = _decode_jpeg(kept.jpeg)
        h, w = image.shape[:2]
        masks = None
        if _flag(request, "masks"):
            masks = np.zeros((h, w, len(shown)), bool)
            for j, i in enumerate(shown):
                masks[:, :, j] = rle_decode(kept.record["instances"][i]["mask_rle"], h, w) > 0
        picture = draw_overlay(
            image,
            kept.rois[shown],
            masks,
            kept.class_ids[shown],
            self.engine.class_names,
            kept.scores[shown] if _flag(request, "scores") else None,
            show_bbox=_flag(request, "boxes"),
        )
        stem = Path(kept.name).stem or "upload"
        return Response(
            _encode(picture, "PNG"),
            media_type="image/png",
            headers={"Content-Disposition": f'attachment; filename="{stem}_overlay.png"'},
        )

    async def info(self, request):
        from starlette.responses import JSONResponse

        names = self.engine.class_names if self.engine is not None else ["BG"]
        return JSONResponse(
            {
                "model": self.engine.summary() if self.engine is not None else None,
                "status": self.status,
                "colors": {names[c]: hex_color(c) for c in range(1, len(names))},
                "samples": [
                    {"index": i, "name": s.name, "tags": s.tags, "url": f"api/samples/{i}.png"}
                    for i, s in enumerate(self.samples)
                ],
                "catalog": None if self.catalog is None else self.catalog.summary(),
                "limits": asdict(self.limits),
            }
        )

    async def status_json(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse({**self.status, "waiting": self.waiting})

    async def health(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse(
            {
                "ok": True,
                "waiting": self.waiting,
                "analyses": self.analyses,
                "kept": len(self.results),
            }
        )

    async def page(self, request):
        from starlette.responses import HTMLResponse

        return HTMLResponse((Path(__file__).parent / "static" / "index.html").read_text())

    # ------------------------------------------------------------------ wiring
    def _build(self):
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.responses import JSONResponse
        from starlette.routing import Mount, Route
        from starlette.staticfiles import StaticFiles

        async def refused(request, exc: BadRequest):
            return JSONResponse({"error": exc.message}, status_code=exc.status)

        async def http_error(request, exc: HTTPException):
            return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

        routes = [
            Route("/", self.page),
            Route("/api/info", self.info),
            Route("/api/health", self.health),
            Route("/api/status", self.status_json),
            Route("/api/detect", self.detect, methods=["POST"]),
            Route("/api/samples/{index:int}.png", self.sample_png),
            Route("/api/samples/{index:int}/detect", self.detect_sample, methods=["POST"]),
            Route("/api/results/{rid}/image.jpg", self.image),
            Route("/api/results/{rid}/record.json", self.record),
            Route("/api/results/{rid}/overlay.png", self.overlay),
            *self.shop.routes(),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static")),
        ]
        return Starlette(
            routes=routes,
            exception_handlers={BadRequest: refused, HTTPException: http_error},
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
