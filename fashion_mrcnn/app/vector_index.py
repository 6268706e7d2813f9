"""Top-k inner-product search over catalogue vectors, one partition per category.

A query only ever compares with items of its own category, so the vectors are split by category
and each part is searched on its own:

- below :data:`NUMPY_MAX_VECTORS` items, exactly, with one numpy matrix-vector product;
- from there on, with a faiss HNSW graph (approximate; ``efSearch`` = max(64, 4k)).

Why the switch sits at 20,000 (bench/bench_app.py ``--part index``, results in
bench/results/app.md; one thread, 328-d unit vectors): exact numpy search takes 0.09 ms for
2,000 vectors, 0.5 ms for 10,000, 1.6 ms for 30,000 and 13 ms for 100,000. HNSW answers in
0.07-0.15 ms at all these sizes but costs seconds to build (21 s for 100,000, paid once by
``fashion-mrcnn index``) and gives up some recall (0.955 at 100,000). Below ~20,000 items per
category exact search costs about a millisecond, nothing next to the detector's 0.1-3 s, so
exactness wins there.

faiss-cpu (the ``app`` extra) is imported only when a category reaches the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Categories with fewer items are searched exactly with numpy; larger ones with faiss HNSW.
NUMPY_MAX_VECTORS = 20_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80


class _Part:
    """The vectors of one category and how they are searched."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, use_faiss: bool, faiss_file=None):
        self.ids = ids
        self.vectors = vectors
        self.faiss = None
        if use_faiss:
            import faiss

            if faiss_file is not None and Path(faiss_file).is_file():
                self.faiss = faiss.read_index(str(faiss_file))
            else:
                index = faiss.IndexHNSWFlat(
                    vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT
                )
                index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
                index.add(vectors)
                self.faiss = index
            if self.faiss.ntotal != len(ids):
                raise ValueError(
                    f"{faiss_file}: holds {self.faiss.ntotal} vectors, expected {len(ids)}"
                )

    @property
    def backend(self) -> str:
        return "numpy" if self.faiss is None else "faiss-hnsw"

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.ids))
        if self.faiss is not None:
            self.faiss.hnsw.efSearch = max(64, 4 * k)
            scores, rows = self.faiss.search(query[None], k)
            keep = rows[0] >= 0
            return self.ids[rows[0][keep]], scores[0][keep]
        scores = self.vectors @ query
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return self.ids[top], scores[top]


class VectorIndex:
    """Per-category top-k search by inner product.

    Args:
        vectors: float32 [N, D] (unit rows: the score is then a cosine similarity).
        categories: N category keys (the category id of each item).
        numpy_max: categories with fewer items use exact numpy search, others faiss HNSW.
        faiss_dir: where :meth:`save` wrote the HNSW graphs (read instead of rebuilt).
    """

    def __init__(
        self,
        vectors: np.ndarray,
        categories: Sequence,
        numpy_max: int = NUMPY_MAX_VECTORS,
        faiss_dir: str | Path | None = None,
    ):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(categories):
            raise ValueError(
                f"vectors {vectors.shape} do not match {len(categories)} category labels"
            )
        self.dim = vectors.shape[1]
        labels = np.asarray(list(categories))
        self.parts: dict = {}
        for number, name in enumerate(np.unique(labels).tolist()):
            ids = np.flatnonzero(labels == name)
            faiss_file = Path(faiss_dir) / f"part{number:03d}.index" if faiss_dir else None
            self.parts[name] = _Part(
                ids, vectors[ids], len(ids) >= numpy_max, faiss_file=faiss_file
            )

    def counts(self) -> dict:
        """Items per category."""
        return {name: len(part.ids) for name, part in self.parts.items()}

    def backends(self) -> dict:
        """``numpy`` or ``faiss-hnsw`` per category."""
        return {name: part.backend for name, part in self.parts.items()}

    def search(self, query: np.ndarray, category, k: int = 6):
        """The ``k`` items of ``category`` with the largest inner product with ``query`` [D]:
        ``(item ids int [<=k], scores float32 [<=k])``, best first; empty for an unknown
        category."""
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"query has {query.shape[0]} dimensions, the index {self.dim}")
        part = self.parts.get(category)
        if part is None or k < 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return part.search(query, int(k))

    def save(self, faiss_dir: str | Path) -> list[Path]:
        """Write the HNSW graph of each faiss-backed category (``part<NNN>.index``)."""
        written = []
        for number, name in enumerate(sorted(self.parts)):
            part = self.parts[name]
            if part.faiss is not None:
                import faiss

                Path(faiss_dir).mkdir(parents=True, exist_ok=True)
                path = Path(faiss_dir) / f"part{number:03d}.index"
                faiss.write_index(part.faiss, str(path))
                written.append(path)
        return written
