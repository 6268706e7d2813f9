"""Downloads of weight files (Matterport's COCO model, the Keras ResNet50 ImageNet file), with
an optional checksum; ``fashion_mrcnn.model.weights`` re-exports these names."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from fashion_mrcnn.errors import WeightsError

COCO_URL = "https://github.com/matterport/Mask_RCNN/releases/download/v2.0/mask_rcnn_coco.h5"
IMAGENET_RESNET50_URL = (
    "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
)


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` with a tqdm progress bar; write ``dest.part`` then rename.

    The optional ``sha256`` / ``md5`` hex digest is checked before the rename; a mismatch deletes
    the partial file and raises WeightsError. ``file://`` URLs work (used by the tests).
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url) as resp, tmp.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        for algo, want in (("sha256", sha256), ("md5", md5)):
            if want and _digest(tmp, algo) != want.lower():
                raise WeightsError(f"{url}: {algo} mismatch (expected {want}); download discarded")
        os.replace(tmp, dest)
    except OSError as e:
        raise WeightsError(f"download of {url} to {dest} failed: {e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def download_coco_weights(
    dest: str | Path = "mask_rcnn_coco.h5",
    url: str = COCO_URL,
    sha256: str | None = None,
    md5: str | None = None,
) -> Path:
    """Matterport's COCO Mask R-CNN weights (v2.0 release, 81 classes, resnet101) to ``dest``."""
    return download(url, dest, sha256=sha256, md5=md5)


def download_imagenet_resnet50(
    dest: str | Path = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    url: str = IMAGENET_RESNET50_URL,
    sha256: str | None = None,
    md5: str | None = None,
) -> Path:
    """The Keras ResNet50 ImageNet "notop" weights (Matterport layer names) to ``dest``."""
    return download(url, dest, sha256=sha256, md5=md5)
