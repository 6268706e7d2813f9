"""The web app's goals (issue 21), measured in headless Chromium, and the vector-index switch.

Parts (``--part``, several may be given; ``goals`` = start, latency, click, similar):

- ``start``: ``fashion-mrcnn serve`` (the starter model, the default catalogue) as a real
  process: seconds from the process start to the first HTTP 200 on ``/``, to the model being
  ready (warmed up), and the first upload after that (in the page, ``state.overlayMs``); once
  with the catalogue cache warm and once cold (a fresh TMPDIR: the catalogue is indexed in
  the background meanwhile). Goal: first 200 <= 3 s whatever the catalogue; first upload
  <= 1.5 s.
- ``latency``: the starter model served in this process; Chromium uploads ``--uploads`` real
  ccp-fashion val photos, resized to 512 px on the longer side, through the page's file input;
  upload -> overlay drawn (``state.overlayMs``), p50 / p95, and the first upload. Goal: p50
  <= 1 s.
- ``click``: ``--photos`` val photos through the page; for each ground-truth garment that was
  detected (a shown detection of its category with mask IoU >= 0.5), a click on its centre
  (the mask pixel nearest its centroid); correct when the selected detection is of its
  category with mask IoU >= 0.5. Also the old rule (the smallest mask under the pointer) on the
  same detections, for comparison. Goal: >= 90 %.
- ``similar``: the descriptor, with ground-truth garments: catalogue = the default catalogue's
  photos (ccp-fashion's first 200, train split), queries = val garments; same-category@6 when
  searching every category, and the hand-labelled "same item style" check
  (``bench/data/style_labels.csv``: precision@3 among labelled garments of one category), for
  colour alone, RoI alone, RoI + shape and the app's blend.
- ``presets``: the earlier latency check with untrained 512 px models (MobileNetV2 / ResNet50).
- ``index``: numpy exact search vs faiss HNSW, one query, one thread (sets
  ``vector_index.NUMPY_MAX_VECTORS``).

    .venv/bin/python bench/bench_app.py --part goals > bench/results/app-goals.jsonl
    .venv/bin/python bench/bench_app.py --part index presets

Each part prints one JSON line per measurement (copy them into bench/results/app.md).
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

PRESETS = (("EfficientNet-Lite0-FPN", "cpu-small"), ("ResNet50-FPN", "colab-t4"))
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


def presets(uploads: int) -> list[dict]:
    """Upload -> overlay with untrained 512 px models (the earlier check)."""
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


PARTS = ("start", "latency", "click", "similar", "presets", "index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="+", default=["goals"], choices=[*PARTS, "goals", "all"])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--photos", type=int, default=20, help="val photos of the click part")
    parser.add_argument("--start-runs", type=int, default=3)
    parser.add_argument("--catalogue-images", type=int, default=200, help="similar: train photos")
    parser.add_argument("--queries", type=int, default=60, help="similar: val photos")
    args = parser.parse_args()
    parts = set(args.part)
    if "goals" in parts:
        parts |= {"start", "latency", "click", "similar"}
    if "all" in parts:
        parts |= set(PARTS)
    if "index" in parts:  # a process of its own, one BLAS / OpenMP thread
        if args.part == ["index"]:
            index_speed()
            return
        single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        subprocess.run(
            [sys.executable, __file__, "--part", "index"], env={**os.environ, **single}, check=True
        )
    if "presets" in parts:
        presets(args.uploads)
    import app_goals

    work = Path(tempfile.mkdtemp(prefix="bench-app-goals-"))
    if "similar" in parts:
        app_goals.similar(work, args.catalogue_images, args.queries)
    browser_parts = parts & {"start", "latency", "click"}
    if browser_parts:
        driver = _browser()
        try:
            if "latency" in parts:
                app_goals.latency(driver, args.uploads, work)
            if "click" in parts:
                app_goals.click(driver, args.photos, work)
            if "start" in parts:
                photo = app_goals.val_photos(1, work / "start", offset=50)[0]["path"]
                app_goals.start(driver, args.start_runs, photo)
        finally:
            driver.quit()


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
