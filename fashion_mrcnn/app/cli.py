"""``fashion-mrcnn serve`` and ``fashion-mrcnn index``: argument parsing only; the work is in
``serving.create_app`` / ``AppServer`` and ``indexing.build_index``. Imports nothing heavy, so
``fashion-mrcnn --help`` stays fast."""

from __future__ import annotations

import sys


def _model_arguments(p) -> None:
    p.add_argument(
        "--weights",
        help="checkpoint of a training run (.h5) or the run's folder (its newest checkpoint), "
        "either may be a gs:// URL (copied into $FASHION_MRCNN_CACHE once); default: the starter "
        "model in weights/starter/",
    )
    p.add_argument("--config", help="train_config.yaml (default: found beside the checkpoint)")
    p.add_argument("--classes", help="classes.json (default: found beside the checkpoint)")
    p.add_argument(
        "--allow-partial",
        action="store_true",
        help="load the layers of the weights file that fit and report the rest",
    )


def cmd_serve(args) -> int:
    """Serve at once: the page answers (and says "warming up") while the model loads, warms up
    and the catalogue is opened or built in the background (``app.startup``)."""
    import threading

    from fashion_mrcnn.app.serving import (
        DEFAULT,
        AppServer,
        bind,
        create_app,
        require_app_packages,
    )
    from fashion_mrcnn.workflow.remote_weights import local_weights
    from fashion_mrcnn.workflow.rundir import weights_or_starter

    require_app_packages()
    sock = bind(args.host, args.port)  # a taken port is reported before the model loads
    args.weights = weights_or_starter(local_weights(args.weights))
    catalog = None if args.no_catalog else (args.catalog or DEFAULT)
    try:
        webapp = create_app(
            args.weights,
            catalog=catalog,
            samples=args.samples,
            config=args.config,
            classes=args.classes,
            allow_partial=args.allow_partial,
            wait=False,
            say=lambda line: print(line, flush=True),
        )
    except BaseException:
        sock.close()
        raise
    server = AppServer(webapp, sock)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: serving on {args.host}: anyone who reaches this address can use the app "
            "(it has no login)",
            file=sys.stderr,
        )

    def stop_if_the_model_fails() -> None:
        webapp.startup.wait(model_only=True)
        if webapp.startup.error is not None:
            server.server.should_exit = True

    threading.Thread(target=stop_if_the_model_fails, daemon=True).start()
    print(f"fashion-mrcnn app: {server.url}  (Ctrl-C stops it)", flush=True)
    server.serve_forever()
    if webapp.startup.error is not None:
        raise webapp.startup.error
    print("fashion-mrcnn app: stopped", flush=True)
    return 0


def cmd_index(args) -> int:
    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.app.indexing import build_index
    from fashion_mrcnn.app.project import SKIP_REPORT_FILE
    from fashion_mrcnn.workflow.remote_weights import local_weights
    from fashion_mrcnn.workflow.rundir import weights_or_starter

    args.weights = weights_or_starter(local_weights(args.weights))
    engine = Engine(
        args.weights, config=args.config, classes=args.classes, allow_partial=args.allow_partial
    )
    out, skipped = build_index(
        args.catalog_dir, engine, args.out, limit=args.limit, products=args.products
    )
    catalog = Catalog(out, engine.weights_sha256)
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(catalog.summary()["per_class"].items()))
    print(f"{len(catalog)} garments from {catalog.manifest['images']} images -> {out} ({counts})")
    if len(skipped):
        print(
            f"fashion-mrcnn index: {len(skipped)} unreadable image(s) skipped, listed in "
            f"{out / SKIP_REPORT_FILE}",
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers) -> None:
    """Add ``serve`` and ``index`` to the ``fashion-mrcnn`` sub-commands."""
    from fashion_mrcnn.errors import SKIP_REPORT_FILE  # light: `--help` stays fast

    p = subparsers.add_parser(
        "serve",
        help="web page over a model: photo -> masks, tags, scores; similar catalogue items",
        description="Serve the shop-the-look page on http://HOST:PORT/ (loopback by default). "
        "Without --catalog the catalogue is ../shared/datasets/ccp-fashion where present, else "
        "synthetic scenes, indexed once into app-catalog/ in the run folder. The page answers "
        "at once; the model warms up and the catalogue is indexed in the background.",
    )
    _model_arguments(p)
    p.add_argument("--catalog", metavar="INDEX", help="index folder from `fashion-mrcnn index`")
    p.add_argument("--no-catalog", action="store_true", help="no shop-the-look catalogue")
    p.add_argument(
        "--samples",
        metavar="DIR",
        help="sample photos (default: ccp-fashion's held-out val photos where that folder is "
        "present, else synthetic scenes)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)

    p = subparsers.add_parser(
        "index",
        help="embed every garment of a catalogue folder for shop-the-look",
        description="CATALOG_DIR is an annotated dataset (iMaterialist folder, COCO JSON, VOC "
        "folder: every label is an item) or a folder of photos (every detection is an item). "
        "Writes INDEX/catalog.json, items.jsonl, vectors.npy and crops/. Exit status 1 when "
        f"some images could not be read (listed in INDEX/{SKIP_REPORT_FILE}).",
    )
    p.add_argument("catalog_dir", metavar="CATALOG_DIR")
    _model_arguments(p)
    p.add_argument("--out", required=True, metavar="INDEX", help="index folder to write")
    p.add_argument("--limit", type=int, help="index only the first N images")
    p.add_argument(
        "--products",
        metavar="CSV",
        help="product data: a CSV with columns image (a photo's file name), title, price, url, "
        "brand; cards show them (title, price, a link)",
    )
    p.set_defaults(func=cmd_index)
