"""Record dicts (see docs/DESIGN.md): validation and per-instance mask / box decoding.

A record is one image: ``{"image_id", "path", "height", "width", "source", "instances": [...]}``;
each instance is ``{"category_id", "attribute_ids", "segmentation": {"kind", "data"}, "box_only",
"origin"}`` (COCO crowds add ``"iscrowd": True``). Segmentation kinds:

- ``"kaggle_rle"``: data = Kaggle RLE string (column-major, 1-indexed ``start length`` pairs);
- ``"coco_rle"``: data = ``{"size": [h, w], "counts": str | list[int]}`` (pycocotools);
- ``"polygon"``: data = ``[[x0, y0, x1, y1, ...], ...]`` in pixel coordinates (COCO);
- ``"box"``: data = ``[y1, x1, y2, x2]`` pixels, y2 / x2 exclusive.

Masks are decoded lazily, only when :func:`instance_mask` is called. :func:`check_instance` and
:func:`validate_records` do every check a decode would do without building masks, for loaders run
with ``on_error="skip"`` (so a bad item is skipped and reported at index time, not met in
training).
"""

from __future__ import annotations

import numbers

import numpy as np

from fashion_mrcnn.data.formats import coco_rle, rle
from fashion_mrcnn.errors import FashionDataError, SkipReport
from fashion_mrcnn.ops.boxes import extract_bboxes

__all__ = [
    "SEGMENTATION_KINDS",
    "SOURCES",
    "check_annotations",
    "check_instance",
    "check_polygons",
    "check_record",
    "instance_box",
    "instance_mask",
    "validate_records",
]

SEGMENTATION_KINDS = ("kaggle_rle", "coco_rle", "polygon", "box")
SOURCES = ("imaterialist", "coco", "voc", "synthetic")
# Polygon vertices may sit on the far image border (x == width); allow one more pixel of slack
# for annotation tools that round outwards. Anything further is a polygon that does not fit.
_POLYGON_SLACK = 1.0


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_record(record: dict) -> dict:
    """Check one record's structure; return it unchanged.

    Raises:
        FashionDataError: naming the image (and instance origin) and the problem: missing keys,
            non-positive height / width, unknown source or segmentation kind, bad category id.
    """
    if not isinstance(record, dict):
        raise FashionDataError(f"record must be a dict, got {type(record).__name__}")
    name = record.get("image_id", "<no image_id>")
    for key in ("image_id", "path", "height", "width", "source", "instances"):
        if key not in record:
            raise FashionDataError(f"record for image {name}: missing key {key!r}")
    for key in ("height", "width"):
        if not _is_int(record[key]) or record[key] < 1:
            raise FashionDataError(
                f"record for image {name}: {key} must be a positive int, got {record[key]!r}"
            )
    if not isinstance(record["instances"], list):
        raise FashionDataError(f"record for image {name}: 'instances' must be a list")
    for i, inst in enumerate(record["instances"]):
        where = f"image {name}, instance {i} ({inst.get('origin', 'no origin')})"
        if not isinstance(inst, dict):
            raise FashionDataError(f"{where}: instance must be a dict")
        if not _is_int(inst.get("category_id")):
            raise FashionDataError(f"{where}: category_id must be an int")
        attrs = inst.get("attribute_ids", [])
        if not isinstance(attrs, list) or not all(_is_int(a) for a in attrs):
            raise FashionDataError(f"{where}: attribute_ids must be a list of ints")
        seg = inst.get("segmentation")
        if not isinstance(seg, dict) or seg.get("kind") not in SEGMENTATION_KINDS:
            raise FashionDataError(
                f"{where}: segmentation must be a dict with kind in {SEGMENTATION_KINDS}"
            )
        if "data" not in seg:
            raise FashionDataError(f"{where}: segmentation has no 'data'")
    return record


def _where(inst: dict) -> str:
    return str(inst.get("origin") or "instance")


def check_polygons(polygons, height: int, width: int, where: str) -> list[list[float]]:
    """Validate COCO polygons against an image; return them as lists of floats.

    Args:
        polygons: ``[[x0, y0, x1, y1, ...], ...]`` (or one flat list) in pixel coordinates.
        height, width: the image size.
        where: text naming the annotation, prefixed to error messages.

    Raises:
        FashionDataError: not a non-empty list of number lists, a polygon with fewer than 3
            points / an odd count / non-finite values, or a vertex outside the image (one pixel of
            slack beyond the border).
    """
    if not isinstance(polygons, list | tuple) or not polygons:
        raise FashionDataError(f"{where}: polygon segmentation must be a non-empty list of lists")
    if all(isinstance(v, numbers.Real) for v in polygons):  # a single flat polygon
        polygons = [polygons]
    clean = []
    for k, poly in enumerate(polygons):
        try:
            arr = np.asarray(poly, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise FashionDataError(f"{where}: polygon {k} is not a list of numbers") from exc
        if arr.ndim != 1 or arr.size < 6 or arr.size % 2 or not np.isfinite(arr).all():
            raise FashionDataError(
                f"{where}: polygon {k} must be x, y pairs of at least 3 points, got {arr.size} "
                "values"
            )
        xs, ys = arr[0::2], arr[1::2]
        s = _POLYGON_SLACK
        if xs.min() < -s or ys.min() < -s or xs.max() > width + s or ys.max() > height + s:
            raise FashionDataError(
                f"{where}: polygon {k} (x {xs.min():g}..{xs.max():g}, y {ys.min():g}..{ys.max():g})"
                f" lies outside the {height}x{width} image"
            )
        clean.append(arr.tolist())
    return clean


def _polygon_mask(polygons, height: int, width: int, where: str) -> np.ndarray:
    from pycocotools import mask as mask_utils

    clean = check_polygons(polygons, height, width, where)
    merged = mask_utils.merge(mask_utils.frPyObjects(clean, height, width))
    # Our own parser of the compressed counts (validated; avoids pycocotools.decode's numpy-2
    # DeprecationWarning).
    return coco_rle.coco_to_mask(merged, context=where).astype(bool)


def _box_mask(box, height: int, width: int, where: str) -> np.ndarray:
    y1, x1, y2, x2 = _checked_box(box, height, width, where)
    mask = np.zeros((height, width), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _checked_box(box, height: int, width: int, where: str) -> tuple[int, int, int, int]:
    try:
        arr = np.asarray(box, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FashionDataError(f"{where}: box must be 4 numbers [y1, x1, y2, x2]") from exc
    if arr.shape != (4,) or not np.isfinite(arr).all():
        raise FashionDataError(f"{where}: box must be 4 finite numbers [y1, x1, y2, x2], got {box}")
    y1, x1, y2, x2 = (int(round(v)) for v in arr)
    if not (0 <= y1 < y2 <= height and 0 <= x1 < x2 <= width):
        raise FashionDataError(
            f"{where}: box [y1, x1, y2, x2] = {list(arr)} is empty or outside the "
            f"{height}x{width} image"
        )
    return y1, x1, y2, x2


def _checked_coco_rle(data, height: int, width: int, where: str) -> dict:
    if not isinstance(data, dict) or "size" not in data:
        raise FashionDataError(f"{where}: coco_rle data must be a dict with 'size', 'counts'")
    if [int(v) for v in data["size"]] != [int(height), int(width)]:
        raise FashionDataError(
            f"{where}: COCO RLE size {list(data['size'])} does not fit the {height}x{width} image"
        )
    return data


def _segmentation(inst: dict) -> tuple[str, object, object]:
    """``(where, kind, data)`` of an instance's segmentation; FashionDataError without one."""
    where = _where(inst)
    seg = inst.get("segmentation")
    if not isinstance(seg, dict):
        raise FashionDataError(f"{where}: instance has no segmentation dict")
    return where, seg.get("kind"), seg.get("data")


def check_instance(inst: dict, height: int, width: int) -> None:
    """Every check :func:`instance_mask` makes, without building the mask.

    Kaggle RLE: runs parsed and checked (sorted, non-overlapping, lengths >= 1, inside
    ``height * width``); COCO RLE: size equal to the image, counts parsed and checked; polygons
    and boxes: inside the image.

    Raises:
        FashionDataError (RLEError for RLE): as :func:`instance_mask`, naming the instance origin.
    """
    where, kind, data = _segmentation(inst)
    if kind == "kaggle_rle":
        rle.parse_runs(data, height, width, context=where)
    elif kind == "coco_rle":
        coco_rle.check_coco_rle(_checked_coco_rle(data, height, width, where), context=where)
    elif kind == "polygon":
        check_polygons(data, int(height), int(width), where)
    elif kind == "box":
        _checked_box(data, int(height), int(width), where)
    else:
        raise FashionDataError(f"{where}: unknown segmentation kind {kind!r}")


def check_annotations(records: list[dict]) -> int:
    """Check every instance of ``records`` as :func:`check_instance` does (no mask is built).

    For a job that reads the ground truth only after a long pass over the images (an
    evaluation's inference), so a bad row stops it before that pass, not after. Cost: about
    75 us per Kaggle RLE of ~140 runs (see :func:`validate_records`).

    Returns:
        The number of instances checked.

    Raises:
        FashionDataError (RLEError for RLE): at the first bad instance, naming its origin (file
            and row) and its image.
    """
    n = 0
    for rec in records:
        h, w = int(rec["height"]), int(rec["width"])
        for inst in rec["instances"]:
            try:
                check_instance(inst, h, w)
            except FashionDataError as exc:
                if str(rec["image_id"]) in str(exc):
                    raise
                raise type(exc)(f"{exc} (image {rec['image_id']})") from None
            n += 1
    return n


def _without_prefix(message: str, prefix: str) -> str:
    return message[len(prefix) + 2 :] if message.startswith(prefix + ": ") else message


def validate_records(
    records: list[dict], report: SkipReport, name: str, check_images: bool = True
) -> list[dict]:
    """Skip-mode validation: drop every record or instance that would fail later, and report it.

    For each record, when ``check_images``: the image file is opened and checked
    (:func:`fashion_mrcnn.data.images.check_image`: readable, not truncated, not over the pixel
    limit, displayed size equal to the record's ``height x width``); a bad image drops the whole
    record, reported as ``"<name> image <image_id>"``. Then every instance is checked
    (:func:`check_instance`); a bad one is dropped, reported under its ``origin``.

    Cost (measured on ../shared/datasets/ccp-fashion, 600 JPEGs, 3,469 masks, one core): about
    1.3 ms per image (see ``check_image``), 75 us per Kaggle RLE of ~140 runs, 150 us per
    compressed COCO RLE (a pure-Python parser); 0.95 s for the CSV's records (0.26 s without
    images), 1.4 s for the COCO JSON's, against about 0.1 s to index either in raise mode. A
    333k-row iMaterialist CSV over 45k images (extrapolated): about 25 s of RLE and a minute of
    image checks.

    Args:
        records: records (docs/DESIGN.md); not modified.
        report: where skipped items go.
        name: the source file name, for report items.
        check_images: open the image files (``False``: annotations only).

    Returns:
        The records that passed, each with only its instances that passed (new dicts where
        something was dropped).
    """
    from fashion_mrcnn.data.images import check_image

    kept = []
    for rec in records:
        h, w = int(rec["height"]), int(rec["width"])
        if check_images:
            try:
                check_image(rec["path"], h, w)
            except FashionDataError as exc:
                report.add(f"{name} image {rec['image_id']}", str(exc))
                continue
        instances = []
        for inst in rec["instances"]:
            try:
                check_instance(inst, h, w)
            except FashionDataError as exc:
                report.add(_where(inst), _without_prefix(str(exc), _where(inst)))
                continue
            instances.append(inst)
        if len(instances) != len(rec["instances"]):
            rec = {**rec, "instances": instances}
        kept.append(rec)
    return kept


def instance_mask(inst: dict, height: int, width: int) -> np.ndarray:
    """Decode one instance's segmentation.

    Args:
        inst: an instance dict of a record.
        height, width: the image size the mask must fit.

    Returns:
        bool ``[height, width]``.

    Raises:
        FashionDataError (RLEError for RLE strings): naming the instance origin, when the
            segmentation is malformed or does not fit the image (RLE past height*width, COCO RLE
            of another size, polygon or box outside the image).
    """
    where, kind, data = _segmentation(inst)
    if kind == "kaggle_rle":
        return rle.decode(data, height, width, context=where).astype(bool)
    if kind == "coco_rle":
        data = _checked_coco_rle(data, height, width, where)
        return coco_rle.coco_to_mask(data, context=where).astype(bool)
    if kind == "polygon":
        return _polygon_mask(data, int(height), int(width), where)
    if kind == "box":
        return _box_mask(data, int(height), int(width), where)
    raise FashionDataError(f"{where}: unknown segmentation kind {kind!r}")


def instance_box(inst: dict, height: int, width: int) -> np.ndarray:
    """Box of one instance: int32 ``[4]`` ``(y1, x1, y2, x2)`` pixels, y2 / x2 exclusive.

    ``"box"`` segmentations return their (rounded, checked) box; the others decode the mask and
    take its tight box (zeros for an empty mask).
    """
    seg = inst.get("segmentation") or {}
    if seg.get("kind") == "box":
        return np.array(_checked_box(seg.get("data"), height, width, _where(inst)), np.int32)
    return extract_bboxes(instance_mask(inst, height, width)[:, :, None])[0]
