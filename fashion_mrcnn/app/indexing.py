"""Building a catalogue index: ``fashion-mrcnn index CATALOG_DIR --weights CKPT --out INDEX``.

:func:`build_index` reads

- an annotated dataset (an iMaterialist folder with ``train.csv``, a COCO JSON, a VOC folder):
  every labelled instance is an item, with its labelled class, box and mask;
- or a plain folder of images: every detection of the model scoring at least the config's
  DETECTION_MIN_CONFIDENCE is an item,

describes each (:mod:`fashion_mrcnn.app.embedding`) with the model of ``CKPT``, attaches the
product data of ``--products CSV`` (:mod:`fashion_mrcnn.app.products`) and writes the index
folder :class:`~fashion_mrcnn.app.catalog.Catalog` reads (its layout: that module's docstring).
:func:`default_catalog` is the catalogue ``serve`` uses when given none.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from fashion_mrcnn.app import embedding
from fashion_mrcnn.app.catalog import (
    CENTRES,
    FORMAT_VERSION,
    ITEMS,
    MANIFEST,
    VECTORS,
    Catalog,
    default_catalog_source,
    per_class,
)
from fashion_mrcnn.app.products import clean_name, read_products
from fashion_mrcnn.app.project import (
    SKIP_REPORT_FILE,
    ConfigError,
    FashionDataError,
    SkipReport,
    ensure_synthetic,
    extract_bboxes,
    list_images,
    load_rgb,
    open_dataset,
)
from fashion_mrcnn.app.vector_index import NUMPY_MAX_VECTORS, VectorIndex

log = logging.getLogger(__name__)

CROP_SIDE = 160
CROP_MARGIN = 0.08
#: Synthetic catalogue written when no catalogue is given and ccp-fashion is absent.
SYNTHETIC_CATALOG_IMAGES = 48
SYNTHETIC_CATALOG_SEED = 101
#: Photos of ccp-fashion the default catalogue indexes (its first 200: ~1,100 garments, about a
#: minute on 2 CPU cores with the demo's model, once per checkpoint; in the background).
DEFAULT_CATALOG_IMAGES = 200


def _is_dataset(folder: Path) -> bool:
    """True when ``folder`` holds annotations ``open_dataset`` reads (CSV, COCO JSON, VOC)."""
    if folder.is_file():
        return folder.suffix.lower() in (".csv", ".json")
    skip = {"label_descriptions.json", "splits.json"}
    return (
        (folder / "train.csv").is_file()
        or any(folder.glob("*.xml"))
        or any(p.name not in skip for p in folder.glob("*.json"))
    )


def _crop(image: np.ndarray, box) -> np.ndarray:
    """The box (x1, y1, x2, y2 px) with a small margin, as uint8 [h, w, 3]."""
    x1, y1, x2, y2 = (int(v) for v in box)
    my, mx = int(CROP_MARGIN * (y2 - y1)), int(CROP_MARGIN * (x2 - x1))
    h, w = image.shape[:2]
    return image[max(0, y1 - my) : min(h, y2 + my), max(0, x1 - mx) : min(w, x2 + mx)]


def _save_crop(crop: np.ndarray, path: Path) -> None:
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8))
    picture.thumbnail((CROP_SIDE, CROP_SIDE))
    picture.save(path, quality=88)


def _labelled_instances(catalog_dir: Path, engine, skipped: SkipReport):
    """``(images, iterator)``: the number of images of an annotated dataset and, per image,
    ``(name, image, boxes [N, 4] yxyx px, class names, category ids, scores, descriptors)``
    (crowd labels left out), ``descriptors`` being :meth:`Engine.describe` of the labelled boxes
    and masks (None for an image without labels)."""
    dataset = open_dataset(catalog_dir)

    def read():
        for i in dataset.image_ids:
            info = dataset.image_info[i]
            try:
                image = dataset.load_image(i)
                inst = dataset.load_instances(i)
            except FashionDataError as exc:
                skipped.add(info.get("path", i), str(exc))
                continue
            keep = np.flatnonzero(np.asarray(inst["class_ids"]) > 0)
            masks = np.asarray(inst["masks"], bool)[:, :, keep]
            class_ids = np.asarray(inst["class_ids"])[keep]
            names = [str(dataset.class_info[c]["name"]) for c in class_ids]
            categories = [int(dataset.class_info[c]["id"]) for c in class_ids]
            name = Path(info.get("path", str(i))).name
            boxes = extract_bboxes(masks)
            descriptors = engine.describe(image, boxes, masks) if len(keep) else None
            yield name, image, boxes, names, categories, [None] * len(keep), descriptors

    return len(dataset.image_ids), read()


def _detected_instances(catalog_dir: Path, engine, skipped: SkipReport):
    """The same for a plain image folder: the model's detections above its min confidence."""
    min_score = float(engine.config.DETECTION_MIN_CONFIDENCE)
    paths = list_images(catalog_dir)

    def read():
        for path in paths:
            try:
                image = load_rgb(path)
            except FashionDataError as exc:
                skipped.add(path, str(exc).removeprefix(f"{path}: "))
                continue
            analysis = engine.analyse(image, min_score=min_score)
            ids = analysis.result["class_ids"]
            yield (
                path.name,
                image,
                analysis.result["rois"],
                [engine.class_names[c] for c in ids],
                [int(engine.category_ids[int(c)]) for c in ids],
                [round(float(s), 4) for s in analysis.result["scores"]],
                (analysis.roi, analysis.colour, analysis.shape, analysis.colour_names)
                if len(ids)
                else None,
            )

    return len(paths), read()


def _clear(out_dir: Path) -> None:
    """Remove what an earlier build left, so nothing of it outlives this one."""
    (out_dir / MANIFEST).unlink(missing_ok=True)  # unfinished until written again
    (out_dir / SKIP_REPORT_FILE).unlink(missing_ok=True)
    for own in ("crops", "faiss"):
        shutil.rmtree(out_dir / own, ignore_errors=True)
    (out_dir / "crops").mkdir(parents=True)


def build_index(
    catalog_dir,
    engine,
    out_dir,
    progress: bool = True,
    limit: int | None = None,
    products=None,
    report=None,
):
    """Embed every garment of ``catalog_dir`` with ``engine`` into ``out_dir``.

    Returns ``(out_dir, skipped)``: the index folder and the :class:`SkipReport` of the images
    that could not be read (also written to ``out_dir/skipped.csv``). ``limit`` stops after
    that many images; ``products``: a CSV of product data (:mod:`fashion_mrcnn.app.products`);
    ``report(done, total)`` is called after each image. Raises FashionDataError when nothing
    could be indexed.
    """
    from tqdm.auto import tqdm

    catalog_dir, out_dir = Path(catalog_dir), Path(out_dir)
    if not catalog_dir.exists():
        raise FileNotFoundError(f"catalogue folder not found: {catalog_dir}")
    shop = read_products(products) if products else {}
    _clear(out_dir)
    mode = "annotations" if _is_dataset(catalog_dir) else "detections"
    skipped = SkipReport("index")
    read = _labelled_instances if mode == "annotations" else _detected_instances
    total, source = read(catalog_dir, engine, skipped)
    total = min(total, limit) if limit is not None else total
    started = time.monotonic()
    items, parts, n_images = [], {"roi": [], "shape": [], "colour": []}, 0
    with (out_dir / ITEMS).open("w") as f:
        for name, image, boxes, names, categories, scores, descriptors in tqdm(
            source, desc="index", unit="img", disable=not progress, total=total
        ):
            n_images += 1
            if descriptors is not None:
                roi, colour, shape, colours = descriptors
                for key, value in (("roi", roi), ("shape", shape), ("colour", colour)):
                    parts[key].append(value)
            for k in range(len(boxes)):
                y1, x1, y2, x2 = (int(v) for v in boxes[k])
                crop = f"crops/{len(items):06d}.jpg"
                _save_crop(_crop(image, (x1, y1, x2, y2)), out_dir / crop)
                item = {
                    "image": name,
                    "class_name": names[k],
                    "category_id": categories[k],
                    "box": [x1, y1, x2, y2],
                    "score": scores[k],
                    "crop": crop,
                    "colour": colours[k],
                    **shop.get(name, {}),
                }
                item["label"] = item.get("title") or clean_name(names[k], name)
                f.write(json.dumps(item) + "\n")
                items.append(item)
            if report is not None:
                report(n_images, total)
            if limit is not None and n_images >= limit:
                break
    if len(skipped):
        skipped.write(out_dir / SKIP_REPORT_FILE)
    if not items:
        raise FashionDataError(
            f"{catalog_dir}: no garment to index in {n_images} image(s)"
            + (
                f" ({len(skipped)} unreadable, listed in {out_dir / SKIP_REPORT_FILE})"
                if len(skipped)
                else ""
            )
        )
    raw = {key: np.concatenate(value).astype(np.float32) for key, value in parts.items()}
    centres = {key: raw[key].mean(axis=0) for key in ("roi", "shape")}
    np.savez(out_dir / CENTRES, **centres)
    matrix = embedding.combine(
        {
            **{key: embedding.centre(raw[key], centres[key]) for key in centres},
            "colour": raw["colour"],
        }
    )
    np.save(out_dir / VECTORS, matrix)
    index = VectorIndex(matrix, [it["category_id"] for it in items])
    index.save(out_dir / "faiss")
    manifest = {
        "format": FORMAT_VERSION,
        "source": str(catalog_dir.resolve()),
        "mode": mode,
        "images": n_images,
        "items": len(items),
        "skipped": len(skipped),
        "per_class": per_class(items),
        "products": {
            "file": str(Path(products).resolve()) if products else None,
            "rows": len(shop),
            "items": sum(1 for it in items if it["image"] in shop),
        },
        "weights": str(engine.weights),
        "weights_sha256": engine.weights_sha256,
        "backbone": str(engine.config.BACKBONE),
        "descriptor": {
            "roi_dim": int(raw["roi"].shape[1]),
            "shape_dim": int(raw["shape"].shape[1]),
            "colour_bins": list(embedding.COLOUR_BINS),
            "weights": dict(embedding.WEIGHTS),
        },
        "numpy_max_vectors": NUMPY_MAX_VECTORS,
        "seconds": round(time.monotonic() - started, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir, skipped


def default_catalog(engine, cache_dir, progress: bool = True, report=None) -> Catalog:
    """The catalogue used when ``serve`` gets none: ccp-fashion (its first
    :data:`DEFAULT_CATALOG_IMAGES` photos) where present, else synthetic scenes at the model's
    image size; built once into ``cache_dir`` and reused while the weights stay the same."""
    cache_dir = Path(cache_dir)
    source = default_catalog_source()
    limit = DEFAULT_CATALOG_IMAGES
    if source is None:
        size = int(engine.config.IMAGE_MAX_DIM)
        source = ensure_synthetic(
            cache_dir / "synthetic-scenes",
            n_images=SYNTHETIC_CATALOG_IMAGES,
            size=size,
            seed=SYNTHETIC_CATALOG_SEED,
        )
    index_dir = cache_dir / f"index-{source.name}"
    try:
        return Catalog(index_dir, engine.weights_sha256)
    except FashionDataError:
        log.info("building the default catalogue once: %s -> %s", source, index_dir)
    except ConfigError:
        log.info("rebuilding the default catalogue %s for these weights", index_dir)
    build_index(source, engine, index_dir, progress=progress, limit=limit, report=report)
    return Catalog(index_dir, engine.weights_sha256)
