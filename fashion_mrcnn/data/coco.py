"""COCO / Fashionpedia instance JSON -> records (writing them back: :mod:`fashion_mrcnn.data.export`).

Reading (:func:`read_coco`): every ``images`` entry becomes one record (images without annotations
included: they are valid negative examples); each annotation becomes one instance:

- ``segmentation`` polygon list -> kind ``"polygon"``; RLE dict (compressed ``counts`` string or
  uncompressed list) -> kind ``"coco_rle"``; absent / empty with a ``bbox`` -> kind ``"box"``
  (``[y1, x1, y2, x2]`` from COCO's ``[x, y, w, h]``) and ``box_only`` True;
- ``attribute_ids`` (Fashionpedia) kept, default ``[]``; ``iscrowd`` truthy -> ``"iscrowd": True``;
  the file's top-level ``attributes`` list (Fashionpedia: ``id``, ``name``, ``supercategory``,
  ``level``; optional) is returned beside the categories, each entry checked (int id, not
  repeated, a non-empty name);
- ``origin`` = ``"<json name> annotation <id>, image <file_name>"``.

Checked at index time: a readable UTF-8 JSON object with at least one image, required keys,
unique image ids, positive image sizes, known image and category ids, RLE size equal to the image
size, polygons (at least 3 points, inside the image), a usable bbox for box-only annotations, and
(when ``check_images``) that every image file exists. With ``on_error="skip"`` the index also
parses every RLE's counts and opens every image file
(:func:`fashion_mrcnn.data.records.validate_records`), so nothing skippable fails later. Errors
name the JSON file and the image or annotation id.

Duplicated annotations (same image, category and segmentation, or same bbox when there is no
segmentation; the first one is kept) are dropped in both modes: each is listed in the SkipReport as
``"duplicate of annotation N"`` and one warning gives their count.
"""

from __future__ import annotations

import logging
import numbers
import os
from pathlib import Path

from fashion_mrcnn.data.categories import check_entries
from fashion_mrcnn.data.formats.json_file import read_json_file
from fashion_mrcnn.data.records import check_polygons, validate_records
from fashion_mrcnn.errors import FashionDataError, SkipReport, check_on_error

__all__ = ["read_coco"]

log = logging.getLogger(__name__)


def _is_pos_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0


def _load_json(json_path: Path) -> dict:
    data = read_json_file(json_path, "COCO JSON")
    if not isinstance(data, dict):
        raise FashionDataError(f"{json_path}: expected a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FashionDataError(f"{json_path}: missing or non-list {key!r}")
    if not data["images"]:
        raise FashionDataError(f"{json_path}: 'images' is empty, nothing to read")
    return data


def _shape(ann: dict) -> tuple[str, object]:
    """What an annotation covers: its segmentation, or its bbox when it has none."""
    seg = ann.get("segmentation")
    return ("seg", seg) if seg not in (None, [], {}) else ("bbox", ann.get("bbox"))


def _fingerprint(shape: tuple[str, object]) -> tuple:
    """A cheap hashable digest of :func:`_shape`: equal shapes give equal fingerprints (a few
    leading values, not the whole polygon or count list, which would cost seconds on 300k
    annotations); shapes with equal fingerprints are then compared in full."""
    kind, value = shape
    if isinstance(value, dict):
        counts = value.get("counts")
        head = counts if isinstance(counts, str | bytes) else repr(counts)[:64]
        return kind, "rle", repr(value.get("size")), head
    if isinstance(value, list) and value:
        first = value[0]
        return kind, len(value), repr(first[:8] if isinstance(first, list) else value[:8])
    return kind, repr(value)


class _Duplicates:
    """Finds annotations that repeat an earlier one of the same image and category."""

    def __init__(self) -> None:
        self.seen: dict[tuple, list[tuple[object, tuple]]] = {}  # digest -> [(id, shape)]
        self.count = 0

    def first_of(self, image_id, category_id, ann: dict, ann_id) -> object | None:
        """The id of an earlier equal annotation, else None (and ``ann`` is remembered)."""
        shape = _shape(ann)
        earlier = self.seen.setdefault((image_id, category_id, _fingerprint(shape)), [])
        for first_id, first_shape in earlier:
            if first_shape == shape:
                self.count += 1
                return first_id
        earlier.append((ann_id, shape))
        return None


def _categories(data: dict, json_path: Path) -> list[dict]:
    out, seen = [], set()
    for k, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise FashionDataError(f"{json_path}: categories[{k}] needs 'id' and 'name'")
        cid = cat["id"]
        if not isinstance(cid, numbers.Integral) or isinstance(cid, bool) or cid in seen:
            raise FashionDataError(f"{json_path}: categories[{k}] id {cid!r} bad or repeated")
        seen.add(cid)
        out.append({**cat, "supercategory": cat.get("supercategory", "")})
    return out


def _attributes(data: dict, json_path: Path) -> list[dict]:
    """The file's ``attributes`` list (``[]`` when it has none), each entry checked."""
    if data.get("attributes") is None:
        return []
    return [dict(a) for a in check_entries(data["attributes"], "attributes", json_path)]


def _segmentation(ann: dict, height: int, width: int) -> tuple[dict, bool]:
    """-> (segmentation dict, box_only). Raises FashionDataError with the problem only."""
    seg = ann.get("segmentation")
    if isinstance(seg, dict):
        size = seg.get("size")
        if "counts" not in seg or not isinstance(size, list | tuple) or len(size) != 2:
            raise FashionDataError("RLE segmentation needs 'size' [h, w] and 'counts'")
        if [size[0], size[1]] != [height, width]:
            raise FashionDataError(f"RLE size {list(size)} does not fit the {height}x{width} image")
        counts = seg["counts"]
        if isinstance(counts, bytes):
            counts = counts.decode("ascii")
        if not isinstance(counts, str | list):
            raise FashionDataError("RLE 'counts' must be a string or a list of ints")
        return {"kind": "coco_rle", "data": {"size": [height, width], "counts": counts}}, False
    if isinstance(seg, list) and seg:
        # Checked now (cheap) so a bad polygon is reported at index time, not mid-training.
        check_polygons(seg, height, width, "polygon segmentation")
        return {"kind": "polygon", "data": seg}, False
    if seg not in (None, [], {}):
        raise FashionDataError(f"unsupported segmentation of type {type(seg).__name__}")
    bbox = ann.get("bbox")
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise FashionDataError("no segmentation and no usable bbox [x, y, w, h]") from exc
    if not (
        w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= width + 0.5 and y + h <= height + 0.5
    ):
        raise FashionDataError(f"bbox {bbox} is empty or outside the {height}x{width} image")
    return {"kind": "box", "data": [y, x, min(y + h, height), min(x + w, width)]}, True


def read_coco(
    json_path: str | Path,
    images_dir: str | Path,
    on_error: str = "raise",
    report: SkipReport | None = None,
    check_images: bool = True,
) -> tuple[list[dict], list[dict], list[dict], SkipReport]:
    """Index a COCO / Fashionpedia instances JSON into records (masks stay encoded).

    Args:
        json_path: the instances JSON.
        images_dir: directory the images' ``file_name`` paths are relative to.
        on_error: ``"raise"`` (first problem raises FashionDataError) or ``"skip"`` (skip the
            annotation, or the image with its annotations, and record it in ``report``).
        report: a SkipReport to append to; a new one when ``None``.
        check_images: check that every image file exists (in skip mode each file is also opened
            and checked).

    Returns:
        ``(records, categories, attributes, report)``; records in ``images`` order,
        ``image_id`` = file name; categories as in the file (``{"id", "name", "supercategory",
        ...}``); attributes the file's ``attributes`` list (``{"id", "name", ...}``; ``[]``
        without one).
    """
    check_on_error(on_error)
    json_path, images_dir = Path(json_path), Path(images_dir)
    report = report if report is not None else SkipReport(json_path.name)
    data = _load_json(json_path)
    categories = _categories(data, json_path)
    attributes = _attributes(data, json_path)
    known_cats = {c["id"] for c in categories}
    name = json_path.name

    def problem(item: str, reason: str) -> None:
        if on_error == "raise":
            raise FashionDataError(f"{json_path} {item}: {reason}")
        report.add(f"{name} {item}", reason)

    listing: dict[Path, set[str]] = {}

    def file_exists(path: Path) -> bool:
        parent = path.parent
        if parent not in listing:
            try:
                listing[parent] = set(os.listdir(parent))
            except OSError:
                listing[parent] = set()
        return path.name in listing[parent]

    images: dict = {}
    records: list[dict] = []
    for k, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im:
            problem(f"images[{k}]", "image entry without 'id'")
            continue
        iid, fname = im["id"], im.get("file_name")
        item = f"image id {iid}"
        if iid in images:
            problem(item, "image id repeated")
            continue
        if not isinstance(fname, str) or not fname:
            problem(item, "missing file_name")
            continue
        h, w = im.get("height"), im.get("width")
        if not (_is_pos_int(h) and _is_pos_int(w)):
            problem(f"{item} ({fname})", f"height / width must be positive ints, got {h!r}, {w!r}")
            continue
        path = images_dir / fname
        if check_images and not file_exists(path):
            problem(f"{item} ({fname})", f"image file {path} not found")
            continue
        record = {
            "image_id": fname,
            "path": str(path),
            "height": int(h),
            "width": int(w),
            "source": "coco",
            "instances": [],
        }
        images[iid] = record
        records.append(record)

    bad_image_ids = {im.get("id") for im in data["images"] if isinstance(im, dict)} - set(images)
    duplicates = _Duplicates()
    for k, ann in enumerate(data["annotations"]):
        aid = ann.get("id", f"#{k}") if isinstance(ann, dict) else f"#{k}"
        item = f"annotation {aid}"
        if not isinstance(ann, dict):
            problem(item, "annotation is not an object")
            continue
        iid = ann.get("image_id")
        if iid not in images:
            if iid in bad_image_ids and on_error == "skip":
                continue  # its image was already skipped and reported
            problem(item, f"unknown image id {iid!r}")
            continue
        record = images[iid]
        item = f"annotation {aid}, image {record['image_id']}"
        cid = ann.get("category_id")
        if cid not in known_cats:
            problem(item, f"unknown category id {cid!r}")
            continue
        attrs = ann.get("attribute_ids", []) or []
        if not isinstance(attrs, list) or not all(
            isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in attrs
        ):
            problem(item, f"attribute_ids must be a list of ints, got {attrs!r}")
            continue
        try:
            seg, box_only = _segmentation(ann, record["height"], record["width"])
        except FashionDataError as exc:
            problem(item, str(exc))
            continue
        first_id = duplicates.first_of(iid, cid, ann, aid)
        if first_id is not None:
            reason = f"duplicate of annotation {first_id} (same image, category, segmentation)"
            report.add(f"{name} {item}", reason + "; dropped", warn=False)
            continue
        inst = {
            "category_id": int(cid),
            "attribute_ids": [int(a) for a in attrs],
            "segmentation": seg,
            "box_only": box_only,
            "origin": f"{name} {item}",
        }
        if ann.get("iscrowd"):
            inst["iscrowd"] = True
        record["instances"].append(inst)
    if duplicates.count:
        log.warning(
            "%s: dropped %d duplicated annotation(s) (same image, category and segmentation as an "
            "earlier one); they are listed in the skip report",
            json_path,
            duplicates.count,
        )
    if on_error == "skip":
        records = validate_records(records, report, name, check_images=check_images)
    return records, categories, attributes, report
