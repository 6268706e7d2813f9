"""The shop-the-look catalogue: every garment of a folder of photos, embedded and searchable.

``fashion-mrcnn index CATALOG_DIR --weights CKPT --out INDEX`` (:func:`build_index`) reads

- an annotated dataset (an iMaterialist folder with ``train.csv``, a COCO JSON, a VOC folder):
  every labelled instance is an item, with its labelled class, box and mask;
- or a plain folder of images: every detection of the model scoring at least the config's
  DETECTION_MIN_CONFIDENCE is an item,

embeds each (:mod:`fashion_mrcnn.app.embedding`) with the model of ``CKPT`` and writes INDEX/:

- ``catalog.json``: what was indexed and with which weights (sha256), the descriptor, counts;
  written last, so a folder without it is an unfinished build;
- ``items.jsonl``: one item per line (``image``, ``class_name``, ``category_id``, ``box``
  ``[x1, y1, x2, y2]`` px as in ``predict`` records, ``score`` (null for a label), ``crop``);
- ``vectors.npy``: float32 [N, D] unit vectors; ``crops/NNNNNN.jpg``: thumbnails;
- ``faiss/``: HNSW graphs of categories above ``vector_index.NUMPY_MAX_VECTORS`` items;
- ``skipped.csv``: catalogue images that could not be read, with the reason (if any).

:class:`Catalog` loads INDEX and answers "the k items most like this one, same category".
Vectors are comparable only between identical weights, so a catalogue built with other
weights is refused.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from fashion_mrcnn.app import embedding
from fashion_mrcnn.app.project import (
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

MANIFEST = "catalog.json"
ITEMS = "items.jsonl"
VECTORS = "vectors.npy"
SKIPPED = "skipped.csv"
CROP_SIDE = 160
CROP_MARGIN = 0.08
FORMAT_VERSION = 1
#: Synthetic catalogue written when no catalogue is given and ccp-fashion is absent.
SYNTHETIC_CATALOG_IMAGES = 48
SYNTHETIC_CATALOG_SEED = 101
#: Photos of ccp-fashion the default catalogue indexes (its first 200: ~1,100 garments, about a
#: minute on 2 CPU cores with the demo's model, once per checkpoint).
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
    """Yield ``(name, image, boxes [N, 4] yxyx px, class names, category ids, scores,
    (roi [N, C], colour [N, 72]))`` for every image of an annotated dataset (crowd labels left
    out); the descriptors are those of the labelled boxes and masks."""
    dataset = open_dataset(catalog_dir)
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


def _detected_instances(catalog_dir: Path, engine, skipped: SkipReport):
    """The same for a plain image folder: the model's detections above its min confidence."""
    min_score = float(engine.config.DETECTION_MIN_CONFIDENCE)
    for path in list_images(catalog_dir):
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
            (analysis.roi, analysis.colour) if len(ids) else None,
        )


def build_index(catalog_dir, engine, out_dir, progress: bool = True, limit: int | None = None):
    """Embed every garment of ``catalog_dir`` with ``engine`` into ``out_dir``.

    Returns ``(out_dir, skipped)``: the index folder and the :class:`SkipReport` of the images
    that could not be read (also written to ``out_dir/skipped.csv``). ``limit`` stops after
    that many images. Raises FashionDataError when nothing could be indexed.
    """
    from tqdm.auto import tqdm

    catalog_dir, out_dir = Path(catalog_dir), Path(out_dir)
    if not catalog_dir.exists():
        raise FileNotFoundError(f"catalogue folder not found: {catalog_dir}")
    (out_dir / MANIFEST).unlink(missing_ok=True)  # unfinished until written again
    (out_dir / SKIPPED).unlink(missing_ok=True)
    for own in ("crops", "faiss"):  # nothing of an earlier build may outlive it
        shutil.rmtree(out_dir / own, ignore_errors=True)
    (out_dir / "crops").mkdir(parents=True)
    mode = "annotations" if _is_dataset(catalog_dir) else "detections"
    skipped = SkipReport("index")
    read = _labelled_instances if mode == "annotations" else _detected_instances
    source = read(catalog_dir, engine, skipped)
    started = time.monotonic()
    items, vectors, n_images = [], [], 0
    roi_dim = None
    with (out_dir / ITEMS).open("w") as f:
        for name, image, boxes, names, categories, scores, descriptors in tqdm(
            source, desc="index", unit="img", disable=not progress
        ):
            n_images += 1
            if descriptors is not None:
                roi_dim = descriptors[0].shape[1]
                vectors.append(embedding.combine(*descriptors))
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
                }
                f.write(json.dumps(item) + "\n")
                items.append(item)
            if limit is not None and n_images >= limit:
                break
    if len(skipped):
        skipped.write(out_dir / SKIPPED)
    if not items:
        raise FashionDataError(
            f"{catalog_dir}: no garment to index in {n_images} image(s)"
            + (
                f" ({len(skipped)} unreadable, listed in {out_dir / SKIPPED})"
                if len(skipped)
                else ""
            )
        )
    matrix = np.concatenate(vectors).astype(np.float32)
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
        "per_class": _per_class(items),
        "weights": str(engine.weights),
        "weights_sha256": engine.weights_sha256,
        "backbone": str(engine.config.BACKBONE),
        "descriptor": {
            "roi_dim": int(roi_dim),
            "colour_bins": list(embedding.COLOUR_BINS),
            "roi_weight": embedding.ROI_WEIGHT,
        },
        "numpy_max_vectors": NUMPY_MAX_VECTORS,
        "seconds": round(time.monotonic() - started, 1),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    return out_dir, skipped


class Catalog:
    """A built index, loaded for search.

    ``weights_sha256``: when given, an index built with other weights is refused
    (ConfigError): its vectors are not comparable with this model's.
    """

    def __init__(self, index_dir, weights_sha256: str | None = None):
        self.dir = Path(index_dir)
        manifest = self.dir / MANIFEST
        if not manifest.is_file():
            raise FashionDataError(
                f"{self.dir}: not a finished catalogue index (no {MANIFEST}); build one with "
                "`fashion-mrcnn index CATALOG_DIR --weights CKPT --out INDEX`"
            )
        self.manifest = json.loads(manifest.read_text())
        if weights_sha256 is not None and self.manifest["weights_sha256"] != weights_sha256:
            raise ConfigError(
                f"{self.dir} was built with other weights ({self.manifest['weights']}); its "
                "vectors do not compare with this model's: rebuild it with `fashion-mrcnn index`"
            )
        with (self.dir / ITEMS).open() as f:
            self.items = [json.loads(line) for line in f if line.strip()]
        vectors = np.load(self.dir / VECTORS)
        if len(vectors) != len(self.items):
            raise FashionDataError(
                f"{self.dir}: {len(vectors)} vectors for {len(self.items)} items; rebuild it"
            )
        self.roi_weight = float(self.manifest["descriptor"]["roi_weight"])
        self.index = VectorIndex(
            vectors,
            [it["category_id"] for it in self.items],
            numpy_max=int(self.manifest.get("numpy_max_vectors", NUMPY_MAX_VECTORS)),
            faiss_dir=self.dir / "faiss",
        )

    def __len__(self) -> int:
        return len(self.items)

    def similar(self, roi: np.ndarray, colour: np.ndarray, category_id: int, k: int = 6):
        """The ``k`` items of category ``category_id`` (the source id, as in ``predict``
        records) closest to one instance's descriptors.

        roi: [C]; colour: [72]. Returns a list of item dicts with ``id`` and ``similarity``
        (``w * cos(roi) + (1 - w) * cos(colour)``), best first."""
        query = embedding.combine(roi[None], colour[None], self.roi_weight)[0]
        ids, scores = self.index.search(query, int(category_id), k)
        return [
            {**self.items[int(i)], "id": int(i), "similarity": round(float(s), 4)}
            for i, s in zip(ids, scores)
        ]

    def summary(self) -> dict:
        m = self.manifest
        return {
            "items": len(self.items),
            "images": m["images"],
            "source": Path(m["source"]).name,
            "mode": m["mode"],
            "per_class": _per_class(self.items),
            "backends": sorted(set(self.index.backends().values())),
        }


def _per_class(items) -> dict[str, int]:
    """Items per class name."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item["class_name"]] = counts.get(item["class_name"], 0) + 1
    return counts


# ----------------------------------------------------------------------------- default catalogue
def default_catalog_source(search_from=None) -> Path | None:
    """``../shared/datasets/ccp-fashion`` beside the working folder or the package's checkout,
    when present (it holds ``train.csv``); None otherwise."""
    roots = [Path.cwd(), Path(__file__).resolve().parents[2]]
    if search_from is not None:
        roots.insert(0, Path(search_from))
    for root in roots:
        candidate = (root / ".." / "shared" / "datasets" / "ccp-fashion").resolve()
        if (candidate / "train.csv").is_file():
            return candidate
    return None


def default_catalog(engine, cache_dir, progress: bool = True) -> Catalog:
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
    build_index(source, engine, index_dir, progress=progress, limit=limit)
    return Catalog(index_dir, engine.weights_sha256)
