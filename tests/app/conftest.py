"""Session fixtures of the app tests: a model that really detects its scenes, a catalogue, a
live server on loopback and a headless Chromium.

The model is the cpu-smoke preset trained until it overfits three synthetic scenes (about
45 s on 2 cores, see ``app_helpers``); the catalogue indexes those scenes' labelled garments.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.app.app_helpers import train_overfit_run, write_scenes

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Screenshots for a person to look at (gitignored).
ARTIFACTS = REPO_ROOT / "test-artifacts" / "app"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCENE_SEED = 21


@pytest.fixture(scope="session")
def app_data(tmp_path_factory) -> dict:
    """Three labelled scenes on disk (the training set and the catalogue)."""
    root = tmp_path_factory.mktemp("app-data")
    scenes = write_scenes(root / "scenes", 3, seed=SCENE_SEED)
    return {"dir": root / "scenes", "scenes": scenes}


@pytest.fixture(scope="session")
def checkpoint(app_data, tmp_path_factory) -> Path:
    return train_overfit_run(app_data["dir"], tmp_path_factory.mktemp("app-run"))


@pytest.fixture(scope="session")
def engine(checkpoint):
    from fashion_mrcnn.app.engine import Engine

    return Engine(checkpoint)


#: Product data of the test catalogue: scene 0 a full product, scene 1 a title only, scene 2
#: nothing (its cards show a clean name).
PRODUCTS = [
    {"title": "Everyday look", "price": "49.9", "url": "https://shop.example/p/1", "brand": "Acme"},
    {"title": "Weekend look", "price": "", "url": "", "brand": ""},
]


@pytest.fixture(scope="session")
def products_csv(app_data, tmp_path_factory) -> Path:
    import csv

    path = tmp_path_factory.mktemp("app-products") / "products.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "title", "price", "url", "brand"])
        writer.writeheader()
        for scene, product in zip(app_data["scenes"], PRODUCTS):
            writer.writerow({"image": scene["path"].name, **product})
    return path


@pytest.fixture(scope="session")
def catalog_dir(engine, app_data, products_csv, tmp_path_factory) -> Path:
    from fashion_mrcnn.app.indexing import build_index

    out, skipped = build_index(
        app_data["dir"],
        engine,
        tmp_path_factory.mktemp("app-index") / "index",
        progress=False,
        products=products_csv,
    )
    assert not len(skipped)
    return out


@pytest.fixture(scope="session")
def live(engine, catalog_dir):
    """The app on 127.0.0.1 (a free port), served from a background thread."""
    from fashion_mrcnn.app.catalog import Catalog
    from fashion_mrcnn.app.samples import synthetic_samples
    from fashion_mrcnn.app.server import WebApp
    from fashion_mrcnn.app.serving import AppServer, bind

    webapp = WebApp(
        engine, Catalog(catalog_dir, engine.weights_sha256), synthetic_samples(128, n=3)
    )
    server = AppServer(webapp, bind("127.0.0.1", 0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def overlap_live():
    """The app over :class:`app_helpers.OverlapEngine` (overlapping garments, no TensorFlow)."""
    from fashion_mrcnn.app.server import WebApp
    from fashion_mrcnn.app.serving import AppServer, bind
    from tests.app.app_helpers import OverlapEngine

    server = AppServer(WebApp(OverlapEngine(), None, []), bind("127.0.0.1", 0)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory, app_data) -> dict:
    """Uploads the page must refuse or handle: name -> path."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("bad-uploads")
    text = root / "notes.txt"
    text.write_text("this is not a photo\n")
    empty = root / "empty.jpg"
    empty.write_bytes(b"")
    good = app_data["scenes"][1]["path"].read_bytes()
    truncated = root / "truncated.png"
    truncated.write_bytes(good[: len(good) // 3])
    huge = root / "huge.jpg"  # 6000 x 6000: a smooth gradient, so the JPEG stays small
    ramp = np.linspace(0, 255, 6000).astype(np.uint8)
    pixels = np.empty((6000, 6000, 3), np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = ramp[None], ramp[:, None], 128
    Image.fromarray(pixels).save(huge, quality=80)
    return {"text": text, "empty": empty, "truncated": truncated, "huge": huge}


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        return (
            f"browser tests skipped: Debian's chromium / chromium-driver not installed "
            f"({CHROMIUM}, {CHROMEDRIVER}); to run them: apt-get install chromium chromium-driver"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven through chromedriver; skips where it is not installed
    (fails instead under CI, whose .ci/run installs it)."""
    problem = _browser_missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fashion-mrcnn-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
