"""The web app's goals of issue 21 on real photos (used by ``bench/bench_app.py``; its docstring
says what each part measures). Everything runs on the starter model (``weights/starter/``) and
ccp-fashion (``../shared/datasets/ccp-fashion``)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

SIDE = 512  # photos are resized so that their longer side is this
HERE = Path(__file__).resolve().parent
STYLE_LABELS = HERE / "data" / "style_labels.csv"


def _print(row: dict) -> dict:
    print(json.dumps(row), flush=True)
    return row


def _ccp() -> Path:
    from fashion_mrcnn.app.catalog import default_catalog_source

    source = default_catalog_source()
    if source is None:
        raise SystemExit("ccp-fashion not found (../shared/datasets/ccp-fashion)")
    return source


def _dataset():
    from fashion_mrcnn.workflow import stages

    return stages.open_dataset(_ccp())


def _ids_by_name(dataset) -> dict[str, int]:
    return {Path(dataset.image_info[i]["path"]).name: i for i in dataset.image_ids}


def val_photos(n: int, out: Path, offset: int = 0) -> list[dict]:
    """The first ``n`` val photos (after ``offset``), resized to :data:`SIDE` px on the longer
    side, as JPEG in ``out``; with their ground truth at that size: ``path``, ``masks`` bool
    [H, W, K], ``categories`` [K] (source ids), ``names`` [K]."""
    import cv2
    from PIL import Image

    dataset = _dataset()
    ids = _ids_by_name(dataset)
    names = json.loads((_ccp() / "splits.json").read_text())["val"][offset : offset + n]
    out.mkdir(parents=True, exist_ok=True)
    photos = []
    for name in names:
        i = ids[name]
        image = dataset.load_image(i)
        inst = dataset.load_instances(i)
        h, w = image.shape[:2]
        scale = SIDE / max(h, w)
        size = (round(w * scale), round(h * scale))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        keep = np.flatnonzero(np.asarray(inst["class_ids"]) > 0)
        masks = np.stack(
            [cv2.resize(inst["masks"][:, :, k].astype(np.uint8), size,
                        interpolation=cv2.INTER_NEAREST) > 0 for k in keep], axis=-1,
        ) if len(keep) else np.zeros((size[1], size[0], 0), bool)  # fmt: skip
        class_ids = np.asarray(inst["class_ids"])[keep]
        path = out / name
        Image.fromarray(small).save(path, quality=92)
        photos.append(
            {
                "path": path,
                "masks": masks,
                "categories": [int(dataset.class_info[c]["id"]) for c in class_ids],
                "names": [str(dataset.class_info[c]["name"]) for c in class_ids],
            }
        )
    return photos


def _starter():
    from fashion_mrcnn.workflow.rundir import STARTER_WEIGHTS

    return STARTER_WEIGHTS


def _serve_in_process():
    from fashion_mrcnn.app.serving import AppServer, bind, create_app

    webapp = create_app(_starter(), catalog=None, progress=False)
    return AppServer(webapp, bind("127.0.0.1", 0)).start()


# ----------------------------------------------------------------------------- start
def _get(url: str, timeout: float = 2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read()


def _warm_catalogue() -> int:
    """Build the default catalogue cache ``serve`` uses for the starter model now, unless a
    finished one is there, so the starts labelled "warm" start with it (an earlier serve
    stopped while indexing leaves an unfinished one, which the next start rebuilds): its
    item count."""
    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.app.indexing import default_catalog
    from fashion_mrcnn.app.serving import _catalog_cache

    engine = Engine(_starter())
    return len(default_catalog(engine, _catalog_cache(engine), progress=False))


def start(driver, runs: int, photo: Path) -> list[dict]:
    """``fashion-mrcnn serve`` as a process, ``runs`` times with a warm catalogue cache (built
    first), then once with a cold one (a fresh TMPDIR)."""
    from bench_app import _upload

    _print({"part": "start", "warm_catalogue_items": _warm_catalogue()})
    rows = []
    cold_tmp = Path(tempfile.mkdtemp(prefix="bench-app-cold-"))
    plan = [("warm", None)] * runs + [("cold", cold_tmp)]
    for cache, tmpdir in plan:
        port = 8700 + len(rows)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        if tmpdir is not None:
            env["TMPDIR"] = str(tmpdir)
        command = [sys.executable, "-m", "fashion_mrcnn.cli", "serve", "--port", str(port)]
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)  # fmt: skip
        url = f"http://127.0.0.1:{port}/"
        try:
            first_200 = ready = None
            deadline = started + 600
            while time.perf_counter() < deadline and ready is None:
                try:
                    if first_200 is None and _get(url)[0] == 200:
                        first_200 = time.perf_counter() - started
                        driver.get(url)
                    status = json.loads(_get(f"{url}api/status")[1])
                    if status["model"]["state"] == "ready":
                        ready = time.perf_counter() - started
                except OSError:
                    pass
                time.sleep(0.02)
            first = _upload(driver, photo)
            catalog = json.loads(_get(f"{url}api/status")[1])["catalog"]
            rows.append(_print({
                "part": "start", "catalogue_cache": cache, "first_200_s": round(first_200, 2),
                "model_ready_s": round(ready, 2), "first_upload_ms": round(first["ms"]),
                "first_upload_model_ms": round(first["model"] * 1000),
                "catalogue_then": {k: catalog[k] for k in ("state", "done", "total", "items")},
            }))  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    shutil.rmtree(cold_tmp, ignore_errors=True)
    return rows


# ----------------------------------------------------------------------------- latency
def latency(driver, uploads: int, work: Path) -> dict:
    from bench_app import _upload

    photos = val_photos(uploads + 1, work / "latency")
    server = _serve_in_process()
    try:
        driver.get(server.url)
        first = _upload(driver, photos[0]["path"])
        runs = [_upload(driver, p["path"]) for p in photos[1:]]
    finally:
        server.stop()
    ms = np.array([r["ms"] for r in runs])
    model = np.array([r["model"] for r in runs]) * 1000
    return _print({
        "part": "latency", "model": "starter (cpu-small, 256 px)", "photo_side": SIDE,
        "uploads": len(runs), "first_ms": round(first["ms"]),
        "p50_ms": round(float(np.percentile(ms, 50))), "p95_ms": round(float(np.percentile(ms, 95))),
        "model_p50_ms": round(float(np.percentile(model, 50))),
        "detections_median": float(np.median([r["n"] for r in runs])),
    })  # fmt: skip


# ----------------------------------------------------------------------------- click
def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _centre(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    k = np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2)
    return int(xs[k]), int(ys[k])


def click(driver, n: int, work: Path) -> dict:
    from bench_app import _upload
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    from fashion_mrcnn.data.formats.rle import decode

    photos = val_photos(n, work / "click")
    server = _serve_in_process()
    tried = correct = old_correct = garments = 0
    misses = []
    try:
        driver.get(server.url)
        for photo in photos:
            _upload(driver, photo["path"])
            result = driver.execute_script("return state.result")
            record, floor = result["record"], result["default_min_score"]
            h, w = record["height"], record["width"]
            shown = [k for k, inst in enumerate(record["instances"]) if inst["score"] >= floor]
            masks = {k: decode(record["instances"][k]["mask_rle"], h, w) > 0 for k in shown}
            for g, category in enumerate(photo["categories"]):
                garments += 1
                truth = photo["masks"][:, :, g]
                if not truth.any():
                    continue
                hits = [k for k in shown if record["instances"][k]["class_id"] == category
                        and _mask_iou(masks[k], truth) >= 0.5]  # fmt: skip
                if not hits:
                    continue  # not detected: the click cannot be right
                tried += 1
                x, y = _centre(truth)
                driver.execute_script("state.lastClick = null; state.selected = -1")
                canvas = driver.find_element(By.ID, "photo")
                cw, ch = canvas.size["width"], canvas.size["height"]
                ActionChains(driver).move_to_element_with_offset(
                    canvas, round((x + 0.5) * cw / w - cw / 2), round((y + 0.5) * ch / h - ch / 2)
                ).click().perform()
                pick = driver.execute_script("return state.selected")
                good = pick in hits
                correct += good
                if not good:
                    misses.append({"photo": photo["path"].name, "garment": photo["names"][g],
                                   "picked": record["instances"][pick]["class_name"]
                                   if pick >= 0 else None})  # fmt: skip
                under = [k for k in shown if masks[k][y, x]]
                old = min(under, key=lambda k: masks[k].sum()) if under else -1
                old_correct += old in hits
    finally:
        server.stop()
    return _print({
        "part": "click", "photos": len(photos), "garments": garments, "detected": tried,
        "correct": correct, "accuracy": round(correct / max(tried, 1), 3),
        "old_rule_smallest_mask_accuracy": round(old_correct / max(tried, 1), 3),
        "misses": misses[:20],
    })  # fmt: skip


# ----------------------------------------------------------------------------- similar
def _describe_images(engine, dataset, ids) -> dict:
    """Ground-truth garments of ``ids``: parts (roi / shape / colour), categories, images,
    boxes (x1, y1, x2, y2)."""
    from fashion_mrcnn.ops.boxes import extract_bboxes

    out = {"roi": [], "shape": [], "colour": [], "category": [], "image": [], "box": []}
    for i in ids:
        image, inst = dataset.load_image(i), dataset.load_instances(i)
        keep = np.flatnonzero(np.asarray(inst["class_ids"]) > 0)
        if not len(keep):
            continue
        masks = np.asarray(inst["masks"], bool)[:, :, keep]
        boxes = extract_bboxes(masks)
        roi, colour, shape, _ = engine.describe(image, boxes, masks)
        for key, value in (("roi", roi), ("shape", shape), ("colour", colour)):
            out[key].append(value)
        name = Path(dataset.image_info[i]["path"]).name
        for k, c in enumerate(np.asarray(inst["class_ids"])[keep]):
            out["category"].append(int(dataset.class_info[c]["id"]))
            out["image"].append(name)
            y1, x1, y2, x2 = (int(v) for v in boxes[k])
            out["box"].append((x1, y1, x2, y2))
    for key in ("roi", "shape", "colour"):
        out[key] = np.concatenate(out[key]).astype(np.float32)
    out["category"] = np.array(out["category"])
    return out


VARIANTS = {
    "colour alone": {"roi": 0.0, "shape": 0.0, "colour": 1.0},
    "RoI alone (centred)": {"roi": 1.0, "shape": 0.0, "colour": 0.0},
    "RoI + shape": {"roi": 0.7, "shape": 0.3, "colour": 0.0},
    "app blend": None,  # embedding.WEIGHTS
}


def _vectors(parts: dict, centres: dict, weights) -> np.ndarray:
    from fashion_mrcnn.app import embedding

    centred = {k: embedding.centre(parts[k], centres[k]) for k in ("roi", "shape")}
    return embedding.combine({**centred, "colour": parts["colour"]}, weights)


def _style_labels() -> list[dict]:
    if not STYLE_LABELS.is_file():
        return []
    with STYLE_LABELS.open(newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def similar(work: Path, catalogue_images: int = 200, queries: int = 60) -> list[dict]:
    from fashion_mrcnn.app.engine import Engine

    engine = Engine(_starter())
    dataset = _dataset()
    ids = _ids_by_name(dataset)
    splits = json.loads((_ccp() / "splits.json").read_text())
    # a photo with no instance of the kept classes is not in the dataset (ccp_0536.jpg): left out
    shop = _describe_images(
        engine, dataset, [ids[n] for n in splits["train"][:catalogue_images] if n in ids]
    )
    asked = _describe_images(engine, dataset, [ids[n] for n in splits["val"][:queries] if n in ids])
    centres = {k: shop[k].mean(axis=0) for k in ("roi", "shape")}
    labels = _style_labels()
    rows = []
    for variant, weights in VARIANTS.items():
        catalogue = _vectors(shop, centres, weights)
        query = _vectors(asked, centres, weights)
        top = np.argsort(-(query @ catalogue.T), axis=1)[:, :6]
        same = (shop["category"][top] == asked["category"][:, None]).mean()
        row = {"part": "similar", "variant": variant, "catalogue_garments": len(catalogue),
               "queries": len(query), "same_category_at_6": round(float(same), 3)}  # fmt: skip
        if labels:
            row.update(_style_check(engine, dataset, ids, labels, centres, weights))
        rows.append(_print(row))
    return rows


def _style_check(engine, dataset, ids, labels, centres, weights) -> dict:
    """Precision@3 of "same style" among the hand-labelled garments of each category:
    ``bench/data/style_labels.csv`` (image, x1, y1, x2, y2 of a ground-truth box, category,
    style)."""
    from fashion_mrcnn.ops.boxes import box_iou_np

    images = sorted({row["image"] for row in labels})
    parts = _describe_images(engine, dataset, [ids[n] for n in images])
    chosen, styles, cats = [], [], []
    for row in labels:  # the ground-truth garment of that photo whose box matches best
        box = np.array([[int(row[k]) for k in ("y1", "x1", "y2", "x2")]], float)
        same = [k for k, img in enumerate(parts["image"]) if img == row["image"]]
        boxes = np.array([[parts["box"][k][i] for i in (1, 0, 3, 2)] for k in same], float)
        iou = box_iou_np(box, boxes)[0]
        if iou.max() < 0.8:
            raise SystemExit(f"{STYLE_LABELS}: no garment of {row['image']} has the box {row}")
        chosen.append(same[int(np.argmax(iou))])
        styles.append(row["style"])
        cats.append(row["category"])
    vectors = _vectors({k: parts[k][chosen] for k in ("roi", "shape", "colour")}, centres, weights)
    sims = vectors @ vectors.T
    precision = []
    for q in range(len(chosen)):
        pool = [j for j in range(len(chosen)) if j != q and cats[j] == cats[q]]
        best = sorted(pool, key=lambda j: -sims[q, j])[:3]
        precision.append(np.mean([styles[j] == styles[q] for j in best]))
    return {
        "style_labelled": len(chosen),
        "style_precision_at_3": round(float(np.mean(precision)), 3),
    }
