"""Bringing a served app up in the background, so the page answers at once.

``fashion-mrcnn serve`` and ``launch()`` start the HTTP server first; :class:`Startup` then, on
a thread of its own:

1. loads the model on the app's model thread (``WebApp.on_model_thread``: the single worker that
   runs analyses), so an upload made meanwhile simply waits its turn;
2. warms it up there (:meth:`Engine.warm_up`: one blank image through the graph and the RoI
   features, which traces the graph), so the first upload costs what the others do;
3. loads the sample photos;
4. opens the catalogue, or builds it (the default one, the first time): one image at a time on
   the model thread, so uploads are served between two catalogue images, with the count of
   images done in ``WebApp.status``, which the page shows.

``WebApp.status`` is ``{"model": {"state": "loading" | "warming" | "ready" | "failed",
"message"}, "catalog": {"state": "none" | "waiting" | "indexing" | "ready" | "failed", "done",
"total", "items", "message"}}``.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class OnModelThread:
    """An engine whose ``analyse`` and ``describe`` run on the app's model thread (between the
    uploads' analyses); every other attribute is the engine's."""

    def __init__(self, engine, webapp):
        self._engine = engine
        self._webapp = webapp

    def analyse(self, *args, **kwargs):
        return self._webapp.on_model_thread(self._engine.analyse, *args, **kwargs).result()

    def describe(self, *args, **kwargs):
        return self._webapp.on_model_thread(self._engine.describe, *args, **kwargs).result()

    def __getattr__(self, name):
        return getattr(self._engine, name)


def one_line(exc: BaseException) -> str:
    """An exception as the page shows it: its message, or its type when it has none."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class Startup:
    """Loads what a :class:`~fashion_mrcnn.app.server.WebApp` serves, in the background.

    Args:
        webapp: the served app (its ``engine`` / ``catalog`` / ``samples`` are set here).
        load_engine: () -> Engine, or None when ``webapp.engine`` is already loaded.
        open_catalog: (engine, report) -> Catalog or None; ``report(done, total)`` counts the
            images of a catalogue being built. None: no catalogue.
        load_samples: (engine) -> list of samples, or None to keep ``webapp.samples``.
        say: prints a line for the console (``serve``), or None.
    """

    def __init__(self, webapp, load_engine=None, open_catalog=None, load_samples=None, say=None):
        self.webapp = webapp
        self.load_engine = load_engine
        self.open_catalog = open_catalog
        self.load_samples = load_samples
        self.say = say or (lambda line: None)
        self.error: BaseException | None = None  # why the model could not be loaded
        self.model_done = threading.Event()  # the model is ready, or failed
        self.done = threading.Event()  # and the catalogue too
        self._loading = None  # the Future of the model's loading
        self._thread: threading.Thread | None = None
        status = webapp.status
        status["model"] = {"state": "loading" if load_engine else "ready", "message": None}
        status["catalog"] = {"state": "waiting" if open_catalog else "none", "done": 0,
                             "total": 0, "items": 0, "message": None}  # fmt: skip

    def start(self) -> Startup:
        """Queue the model's loading on the model thread now (so that no upload can come
        before it), and follow it from a thread of its own."""
        if self.load_engine is not None:
            self._loading = self.webapp.on_model_thread(self._load_and_warm)
        self._thread = threading.Thread(target=self.run, name="fashion-mrcnn-startup", daemon=True)
        self._thread.start()
        return self

    def _load_and_warm(self):
        """On the model thread: the engine, loaded and warmed up."""
        engine = self.load_engine()
        self.webapp.status["model"]["state"] = "warming"
        engine.warm_up()
        return engine

    def wait(self, timeout: float | None = None, model_only: bool = False) -> bool:
        """True once everything (``model_only``: the model) is loaded or has failed."""
        return (self.model_done if model_only else self.done).wait(timeout)

    def run(self) -> None:
        try:
            ready = self._model()
            self.model_done.set()
            if ready:
                self._catalog()
        finally:
            self.model_done.set()
            self.done.set()

    def _model(self) -> bool:
        webapp, status = self.webapp, self.webapp.status["model"]
        started = time.monotonic()
        try:
            if self.load_engine is not None:
                webapp.engine = self._loading.result()
            if self.load_samples is not None:
                webapp.samples = list(self.load_samples(webapp.engine))
        except Exception as exc:  # shown on the page and raised again by `serve`
            log.exception("the app's model could not be loaded")
            self.error = exc
            status.update(state="failed", message=one_line(exc))
            self.webapp.status["catalog"]["state"] = "none"
            self.say(f"fashion-mrcnn app: the model could not be loaded: {one_line(exc)}")
            return False
        status["state"] = "ready"
        if self.load_engine is not None:
            self.say(f"model ready ({time.monotonic() - started:.1f} s, warmed up)")
        return True

    def _catalog(self) -> None:
        if self.open_catalog is None:
            return
        status = self.webapp.status["catalog"]

        def report(done: int, total: int) -> None:
            status.update(state="indexing", done=int(done), total=int(total))

        try:
            catalog = self.open_catalog(OnModelThread(self.webapp.engine, self.webapp), report)
        except Exception as exc:  # the app still detects garments; the page says why not shop
            log.exception("the catalogue could not be prepared")
            status.update(state="failed", message=one_line(exc))
            self.say(f"catalogue: none ({one_line(exc)})")
            return
        self.webapp.catalog = catalog
        if catalog is None:
            status["state"] = "none"
            self.say("catalogue: none")
            return
        status.update(state="ready", items=len(catalog))
        self.say(f"catalogue: {len(catalog)} garments from {catalog.dir}")
