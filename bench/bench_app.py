"""Speed of the web app: upload -> overlay in a real browser, and the vector-index switch point.

``--part latency``: for each preset (MobileNetV2 ``cpu-small`` and ResNet50-FPN ``colab-t4``,
both at 512 px), a model with freshly initialised weights is written as a run folder and served
by ``fashion_mrcnn.app`` on loopback; headless Chromium uploads ``--uploads`` distinct 512 px
synthetic scenes through the page's file input, one after the other, and the page reports the
time from the upload's start to the overlay being drawn (``state.overlayMs``: upload, queue,
model, JSON, image fetch, mask decoding and drawing). The first upload (graph tracing) is
reported apart. Untrained weights: the detection count differs from a trained model's (it is
printed), the compute per image does not. The server's RSS before and after shows whether
memory grows with the number of requests.

``--part index``: one-query latency of exact numpy search and faiss HNSW (M=32, efSearch 64)
over clustered 328-d unit vectors (a ResNet50 catalogue's dimension), one thread, and HNSW's
recall@10 and build time; this sets ``vector_index.NUMPY_MAX_VECTORS``.

    .venv/bin/python bench/bench_app.py [--part all|latency|index] [--uploads 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRESETS = (("MobileNetV2-FPN", "cpu-small"), ("ResNet50-FPN", "colab-t4"))
SIZE = 512
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024


def _write_run(preset: str, out: Path) -> Path:
    """A run folder (weights, train_config.yaml, classes.json) for ``preset`` at 512 px with
    freshly initialised weights; returns the weights path."""
    from fashion_mrcnn.data.categories import default_categories
    from fashion_mrcnn.data.synthetic import CATEGORY_IDS
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.workflow import stages

    categories = [c for c in default_categories() if c["id"] in CATEGORY_IDS]
    config = stages.make_config(
        preset, num_classes=1 + len(categories), IMAGE_MIN_DIM=SIZE, IMAGE_MAX_DIM=SIZE
    )
    out.mkdir(parents=True, exist_ok=True)
    config.to_yaml(out / "train_config.yaml")
    (out / "classes.json").write_text(json.dumps(categories))
    model = MaskRCNN("inference", stages.inference_config(config), model_dir=out)
    weights = out / "model.weights.h5"
    model.keras_model.save_weights(weights)
    return weights


def _browser():
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={tempfile.mkdtemp(prefix='bench-app-chromium-')}",
        "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _upload(driver, path: Path) -> dict:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    body = driver.find_element(By.TAG_NAME, "body")
    driver.execute_script("document.body.dataset.state = 'idle'")
    driver.find_element(By.ID, "file-input").send_keys(str(path))
    WebDriverWait(driver, 300).until(
        lambda d: body.get_attribute("data-state") in ("done", "error")
    )
    if body.get_attribute("data-state") != "done":
        raise RuntimeError(driver.find_element(By.ID, "error").text)
    return driver.execute_script(
        "return {ms: state.overlayMs, model: state.result.seconds,"
        " n: state.result.record.instances.length}"
    )


def latency(uploads: int) -> list[dict]:
    import numpy as np
    from PIL import Image

    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.app.server import WebApp
    from fashion_mrcnn.app.serving import AppServer, bind
    from fashion_mrcnn.data.synthetic import image_rng, render_scene

    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    scenes = []
    for i in range(uploads + 1):
        image, _, _ = render_scene(image_rng(303, i), SIZE, min_instances=2, max_instances=6)
        scenes.append(work / f"scene_{i:03d}.png")
        Image.fromarray(image).save(scenes[-1])
    rows = []
    driver = _browser()
    try:
        for label, preset in PRESETS:
            engine = Engine(_write_run(preset, work / preset))
            server = AppServer(WebApp(engine, None, []), bind("127.0.0.1", 0)).start()
            try:
                driver.get(server.url)
                first = _upload(driver, scenes[0])
                rss_before = _rss_mb()
                runs = [_upload(driver, path) for path in scenes[1:]]
                rss_after = _rss_mb()
            finally:
                server.stop()
            ms = np.array([r["ms"] for r in runs])
            model = np.array([r["model"] for r in runs]) * 1000
            rows.append(
                {
                    "model": label,
                    "preset": preset,
                    "first_ms": round(first["ms"]),
                    "p50_ms": round(float(np.percentile(ms, 50))),
                    "p95_ms": round(float(np.percentile(ms, 95))),
                    "model_p50_ms": round(float(np.percentile(model, 50))),
                    "detections_median": float(np.median([r["n"] for r in runs])),
                    "uploads": len(runs),
                    "rss_mb": [round(rss_before), round(rss_after)],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    finally:
        driver.quit()
    return rows


def index_speed() -> list[dict]:
    """Run in a process of its own with one BLAS / OpenMP thread (see main)."""
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    dim, rows = 328, []
    for n in (2_000, 10_000, 30_000, 100_000):
        centres = rng.standard_normal((200, dim)).astype(np.float32)
        x = centres[rng.integers(0, 200, n)] + 0.5 * rng.standard_normal((n, dim)).astype(
            np.float32
        )
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        queries = x[rng.integers(0, n, 100)] + 0.05 * rng.standard_normal((100, dim)).astype(
            np.float32
        )
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact, t_numpy = [], []
        for q in queries:
            start = time.perf_counter()
            scores = x @ q
            top = np.argpartition(-scores, 9)[:10]
            top = top[np.argsort(-scores[top])]
            t_numpy.append(time.perf_counter() - start)
            exact.append(set(top.tolist()))
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(x)
        build = time.perf_counter() - start
        hnsw.hnsw.efSearch = 64
        t_hnsw, recall = [], []
        for q, want in zip(queries, exact):
            start = time.perf_counter()
            _, ids = hnsw.search(q[None], 10)
            t_hnsw.append(time.perf_counter() - start)
            recall.append(len(want & set(ids[0].tolist())) / 10)
        rows.append(
            {
                "vectors": n,
                "numpy_ms": round(float(np.median(t_numpy)) * 1000, 3),
                "hnsw_ms": round(float(np.median(t_hnsw)) * 1000, 3),
                "hnsw_recall10": round(float(np.mean(recall)), 3),
                "hnsw_build_s": round(build, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "latency", "index"], default="all")
    parser.add_argument("--uploads", type=int, default=20)
    args = parser.parse_args()
    if args.part == "index":
        index_speed()
        return
    if args.part == "all":
        single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        subprocess.run(
            [sys.executable, __file__, "--part", "index"], env={**os.environ, **single}, check=True
        )
    latency(args.uploads)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
