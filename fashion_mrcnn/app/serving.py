"""Starting the app: ``fashion-mrcnn serve`` (foreground) and ``launch()`` (notebooks).

:func:`create_app` loads the model, the catalogue and the samples once; :class:`AppServer`
serves a :class:`~fashion_mrcnn.app.server.WebApp` with uvicorn on a socket it binds itself (so
port 0 picks a free port and a taken port is reported before anything loads); :func:`launch`
starts one in a background thread and shows it in the notebook: in Colab through the kernel's
port proxy (``google.colab.output.serve_kernel_port_as_iframe``), in Jupyter as an IFrame (on a
JupyterHub, through jupyter-server-proxy's ``/proxy/PORT/`` when it is installed).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from fashion_mrcnn.app.project import ConfigError, find_run_file, local_weights

log = logging.getLogger(__name__)

#: Catalogue argument meaning "ccp-fashion where present, else synthetic scenes".
DEFAULT = "default"


def require_app_packages() -> None:
    """Raise ConfigError naming the install command when the app's packages are missing."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"the web app needs {', '.join(missing)}: pip install 'fashion-mrcnn[app]'"
        )


def _catalog_cache(engine) -> Path:
    """Where the default catalogue index is kept: ``app-catalog/`` in the training run folder,
    or a per-weights folder under the temp directory when that one is not writable or is the
    repository's starter model (its folder stays as shipped)."""
    from fashion_mrcnn.workflow.rundir import STARTER_WEIGHTS

    config_file = find_run_file(engine.weights, "train_config.yaml")
    run_dir = (config_file or engine.weights).parent
    starter = Path(engine.weights).resolve() == STARTER_WEIGHTS.resolve()
    if os.access(run_dir, os.W_OK) and not starter:
        return run_dir / "app-catalog"
    return Path(tempfile.gettempdir()) / f"fashion-mrcnn-app-catalog-{engine.weights_sha256[:12]}"


def create_app(
    weights=None,
    catalog=DEFAULT,
    samples=None,
    config=None,
    classes=None,
    allow_partial: bool = False,
    engine=None,
    limits=None,
    progress: bool = True,
    wait: bool = True,
    say=None,
):
    """A :class:`~fashion_mrcnn.app.server.WebApp` whose model, samples and catalogue load in
    the background (:class:`~fashion_mrcnn.app.startup.Startup`, as ``webapp.startup``).

    What can be checked at once is checked before anything loads, raising ConfigError /
    FileNotFoundError / FashionDataError: the run files beside ``weights``, a ``catalog``
    index's manifest (built with these weights), a ``samples`` folder.

    Args:
        weights: checkpoint of a training run (``train_config.yaml`` / ``classes.json`` are
            found beside it unless ``config`` / ``classes`` are given), a run folder or a URL
            of either (``workflow.remote_weights``: copied into a local cache first); or pass
            ``engine``.
        catalog: an index folder from ``fashion-mrcnn index``, ``"default"`` (ccp-fashion
            where present, else synthetic scenes; built once beside the run), or None.
        samples: a folder of sample photos (default: ccp-fashion's first val photos where
            that folder is present, else synthetic scenes at the model's size).
        wait: return once the model is loaded (raising what stopped it; the catalogue may
            still be building); False returns at once (``serve``: the page answers while the
            model loads).
        say: prints a progress line for the console, or None.
    """
    require_app_packages()
    from fashion_mrcnn.app.catalog import Catalog, default_catalog_source
    from fashion_mrcnn.app.engine import Engine, file_sha256
    from fashion_mrcnn.app.samples import dataset_samples, folder_samples, synthetic_samples
    from fashion_mrcnn.app.server import Limits, WebApp
    from fashion_mrcnn.app.startup import Startup

    load_engine = None
    if engine is None:
        if weights is None:
            raise ConfigError("the app needs weights (a checkpoint of a training run)")
        weights = local_weights(weights)
        config, classes = Engine.locate(weights, config, classes)

        def load_engine():
            return Engine(weights, config=config, classes=classes, allow_partial=allow_partial)

    if catalog not in (None, DEFAULT):
        sha = engine.weights_sha256 if engine is not None else file_sha256(weights)
        Catalog.check(catalog, sha)  # a wrong index is refused before serving
    pictures = folder_samples(samples) if samples else None
    source = None if samples else default_catalog_source()
    pictures = pictures or (dataset_samples(source) if source else None)

    def load_samples(model):
        return pictures or synthetic_samples(int(model.config.IMAGE_MAX_DIM))

    def open_catalog(model, report):
        if catalog == DEFAULT:
            from fashion_mrcnn.app.indexing import default_catalog

            return default_catalog(model, _catalog_cache(model), progress=progress, report=report)
        return Catalog(catalog, model.weights_sha256)

    webapp = WebApp(engine, None, [], limits or Limits())
    webapp.startup = Startup(
        webapp,
        load_engine,
        open_catalog if catalog is not None else None,
        load_samples,
        say=say,
    ).start()
    if wait:
        webapp.startup.wait(model_only=True)
        if webapp.startup.error is not None:
            webapp.close()
            raise webapp.startup.error
    return webapp


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one): ConfigError when the
    address is taken or invalid, before anything heavy is loaded. Connections made before the
    server runs wait in the backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pass another --port"
        ) from None
    return sock


class AppServer:
    """uvicorn serving a WebApp on a socket from :func:`bind` (its port: ``.port``)."""

    def __init__(self, webapp, sock: socket.socket):
        import uvicorn

        self.webapp = webapp
        self.socket = sock
        self.host, self.port = sock.getsockname()[:2]
        self.server = uvicorn.Server(
            uvicorn.Config(webapp.starlette, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/"

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C / SIGTERM. uvicorn shuts down gracefully, then
        re-raises the signal; the KeyboardInterrupt that turns into is the normal way out."""
        try:
            self.server.run(sockets=[self.socket])
        except KeyboardInterrupt:
            pass
        finally:
            self.webapp.close()

    def start(self, timeout: float = 30.0) -> AppServer:
        """Serve from a daemon thread; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [self.socket]},
            name=f"fashion-mrcnn-app-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the app server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving and release the model thread."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.webapp.close()

    def _repr_html_(self) -> str:
        return f'fashion-mrcnn app at <a href="{self.url}" target="_blank">{self.url}</a>'

    def __repr__(self) -> str:
        return f"AppServer({self.url})"


_current: AppServer | None = None


def notebook_url(port: int) -> str:
    """The URL a notebook's browser reaches the app at: through jupyter-server-proxy on a
    JupyterHub (``JUPYTERHUB_SERVICE_PREFIX``), else loopback."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return f"{prefix.rstrip('/')}/proxy/{port}/"
    return f"http://127.0.0.1:{port}/"


def show_inline(server: AppServer, height: int = 900) -> None:
    """Display the app in the current notebook output (Colab or Jupyter)."""
    if "google.colab" in sys.modules:
        from google.colab import output

        output.serve_kernel_port_as_iframe(server.port, height=str(height))
        return
    from IPython.display import IFrame, display

    display(IFrame(notebook_url(server.port), width="100%", height=height))


def launch(
    weights=None,
    catalog=DEFAULT,
    samples=None,
    port: int = 0,
    height: int = 900,
    inline: bool = True,
    **kwargs,
) -> AppServer:
    """Start the app in the background and show it inline (Colab, Jupyter).

    One call in a notebook cell::

        from fashion_mrcnn.app import launch
        app = launch("out/demo/train/logs/demo.../mask_rcnn_demo_0080.h5")

    Running it again replaces the previous app (its model is released); ``app.stop()`` stops
    it. Arguments as :func:`create_app`; ``port`` 0 picks a free port; ``inline=False`` only
    starts the server (``app.url``).
    """
    global _current
    if _current is not None:
        _current.stop()
        _current = None
    sock = bind("127.0.0.1", port)
    try:
        webapp = create_app(weights, catalog=catalog, samples=samples, **kwargs)
    except BaseException:
        sock.close()
        raise
    server = AppServer(webapp, sock).start()
    _current = server
    if inline:
        show_inline(server, height)
    return server
