"""A shop-the-look catalogue index, loaded for search (built by :mod:`fashion_mrcnn.app.indexing`).

``fashion-mrcnn index CATALOG_DIR --weights CKPT --out INDEX`` writes INDEX/:

- ``catalog.json``: what was indexed and with which weights (sha256), the descriptor, counts;
  written last, so a folder without it is an unfinished build;
- ``items.jsonl``: one item per line (``image``, ``class_name``, ``category_id``, ``box``
  ``[x1, y1, x2, y2]`` px as in ``predict`` records, ``score`` (null for a label), ``crop``,
  ``colour`` (a colour name), ``label`` (the card's name), and ``title`` / ``price`` / ``url``
  / ``brand`` where ``--products CSV`` gives them: :mod:`fashion_mrcnn.app.products`);
- ``vectors.npy``: float32 [N, D] unit vectors; ``centres.npz``: the mean RoI and shape
  vectors subtracted from every vector, the queries' too (:func:`embedding.centre`);
  ``crops/NNNNNN.jpg``: thumbnails;
- ``faiss/``: HNSW graphs of categories above ``vector_index.NUMPY_MAX_VECTORS`` items;
- ``skipped.csv`` (``errors.SKIP_REPORT_FILE``): catalogue images that could not be read, with
  the reason (if any).

:class:`Catalog` loads INDEX and answers "the k items most like this one": by default of the
same category, optionally of any category or of one colour. Vectors are comparable only
between identical weights, so a catalogue built with other weights is refused.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from fashion_mrcnn.app import embedding
from fashion_mrcnn.app.project import ConfigError, FashionDataError
from fashion_mrcnn.app.vector_index import NUMPY_MAX_VECTORS, VectorIndex

log = logging.getLogger(__name__)

MANIFEST = "catalog.json"
ITEMS = "items.jsonl"
VECTORS = "vectors.npy"
CENTRES = "centres.npz"
FORMAT_VERSION = 2  # 2: shape descriptor, centred vectors, colour names, products


class Catalog:
    """A built index, loaded for search.

    ``weights_sha256``: when given, an index built with other weights is refused
    (ConfigError): its vectors are not comparable with this model's.
    """

    def __init__(self, index_dir, weights_sha256: str | None = None):
        self.dir = Path(index_dir)
        self.manifest = self.check(self.dir, weights_sha256)
        with (self.dir / ITEMS).open() as f:
            self.items = [json.loads(line) for line in f if line.strip()]
        self.vectors = np.load(self.dir / VECTORS)
        if len(self.vectors) != len(self.items):
            raise FashionDataError(
                f"{self.dir}: {len(self.vectors)} vectors for {len(self.items)} items; rebuild it"
            )
        with np.load(self.dir / CENTRES) as centres:
            self.centres = {key: centres[key] for key in ("roi", "shape")}
        self.weights = dict(self.manifest["descriptor"]["weights"])
        self.categories = np.array([it["category_id"] for it in self.items])
        self.colours = np.array([it["colour"] for it in self.items])
        self.index = VectorIndex(
            self.vectors,
            list(self.categories),
            numpy_max=int(self.manifest.get("numpy_max_vectors", NUMPY_MAX_VECTORS)),
            faiss_dir=self.dir / "faiss",
        )

    @staticmethod
    def check(index_dir, weights_sha256: str | None = None) -> dict:
        """The manifest of a finished index of this format, built with these weights (when
        given); FashionDataError / ConfigError saying why not. Reads only ``catalog.json``."""
        index_dir = Path(index_dir)
        manifest = index_dir / MANIFEST
        if not manifest.is_file():
            raise FashionDataError(
                f"{index_dir}: not a finished catalogue index (no {MANIFEST}); build one with "
                "`fashion-mrcnn index CATALOG_DIR --weights CKPT --out INDEX`"
            )
        content = json.loads(manifest.read_text())
        if content.get("format") != FORMAT_VERSION:
            raise FashionDataError(
                f"{index_dir}: an index of format {content.get('format')}, this version "
                f"reads format {FORMAT_VERSION}: rebuild it with `fashion-mrcnn index`"
            )
        if weights_sha256 is not None and content["weights_sha256"] != weights_sha256:
            raise ConfigError(
                f"{index_dir} was built with other weights ({content['weights']}); its "
                "vectors do not compare with this model's: rebuild it with `fashion-mrcnn index`"
            )
        return content

    def __len__(self) -> int:
        return len(self.items)

    def query_vector(self, roi: np.ndarray, shape, colour: np.ndarray) -> np.ndarray:
        """One instance's descriptors (roi [C], shape [65], colour [72], as
        :meth:`Engine.analyse` gives them) -> a vector comparable with this catalogue's [D].
        ``shape`` None (a whole photo, which has no garment outline): the shape part is zero,
        so every item's similarity is its RoI and colour terms."""
        shape_part = (
            np.zeros((1, embedding.SHAPE_DIM), np.float32)
            if shape is None
            else embedding.centre(np.asarray(shape)[None], self.centres["shape"])
        )
        parts = {
            "roi": embedding.centre(np.asarray(roi)[None], self.centres["roi"]),
            "shape": shape_part,
            "colour": np.asarray(colour, np.float32)[None],
        }
        return embedding.combine(parts, self.weights)[0]

    def search(self, query, category=None, colour=None, k: int = 6, exclude=()):
        """The ``k`` items closest to ``query`` [D] (inner product: the weighted sum of the
        three cosines), best first, as item dicts with ``id`` and ``similarity``.

        category: a source category id (as in ``predict`` records' ``class_id``) or None for
        every category; colour: a colour name or None; exclude: item ids to leave out (the
        item a "more like this" starts from). Without a colour filter or exclusions, one
        category is searched through :class:`VectorIndex` (faiss for large ones); otherwise
        exactly, with numpy."""
        query = np.asarray(query, np.float32).reshape(-1)
        if category is not None and colour is None and not len(exclude):
            ids, scores = self.index.search(query, int(category), k)
        else:
            keep = np.ones(len(self.items), bool)
            if category is not None:
                keep &= self.categories == int(category)
            if colour is not None:
                keep &= self.colours == colour
            keep[list(exclude)] = False
            candidates = np.flatnonzero(keep)
            scores = self.vectors[candidates] @ query
            order = np.argsort(-scores, kind="stable")[:k]
            ids, scores = candidates[order], scores[order]
        return [
            {**self.items[int(i)], "id": int(i), "similarity": round(float(s), 4)}
            for i, s in zip(ids, scores)
        ]

    def summary(self) -> dict:
        m = self.manifest
        names = {}
        for item in self.items:
            names.setdefault(item["category_id"], item["class_name"])
        counts = self.index.counts()
        present = set(self.colours.tolist())
        return {
            "items": len(self.items),
            "images": m["images"],
            "source": Path(m["source"]).name,
            "mode": m["mode"],
            "per_class": per_class(self.items),
            "categories": [
                {"id": int(c), "name": names[c], "items": int(counts[c])}
                for c in sorted(names, key=lambda c: names[c])
            ],
            "colours": [c for c in embedding.COLOUR_NAMES if c in present],
            "products": m["products"]["items"],
            "backends": sorted(set(self.index.backends().values())),
        }


def per_class(items) -> dict[str, int]:
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
