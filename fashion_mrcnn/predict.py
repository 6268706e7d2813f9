"""Prediction records: run a model over image files and keep plain, JSON-serialisable results.

One record per image::

    {"image": "/abs/path/a.jpg", "width": 550, "height": 832,
     "instances": [{"box": [x1, y1, x2, y2],      # pixels, x2 / y2 exclusive
                    "class_id": 10,                # iMaterialist category id when category_ids
                                                   # is given, else the model's internal id
                    "class_name": "dress",
                    "attributes": [1, 2],          # attribute ids (empty if the model has none)
                    "attribute_names": ["above-the-hip (length)", "symmetrical"],
                                                   # only when the names are known (the
                                                   # config's ATTRIBUTE_NAMES for predict)
                    "score": 0.97,
                    "mask_rle": "135904 7 ..."}]}  # Kaggle RLE at the original image size

Records are written one per line (JSON Lines) by :func:`write_jsonl`; :func:`predict_to_dir`
appends each as soon as its image is done, so a failure later in a run loses nothing already
predicted, and lists the files it could not read in ``skipped.csv`` beside the JSON Lines.
With a ``shard`` it predicts only that shard's block of the inputs (:mod:`fashion_mrcnn.shards`)
and, once done, writes the shard's manifest (``shard.json``) beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashion_mrcnn.data.formats.rle import encode
from fashion_mrcnn.data.images import list_images, load_rgb
from fashion_mrcnn.errors import SKIP_REPORT_FILE, FashionDataError, SkipReport
from fashion_mrcnn.inference.detect import detect_batches, detect_files
from fashion_mrcnn.inference.tta import detector_identity
from fashion_mrcnn.shards import Shard, manifest_path, write_manifest


def _setting_dict(postprocess):
    """A post-processing setting as a manifest records it (None: no setting)."""
    return None if postprocess is None else postprocess.to_dict()


def _lookup(table, key: int, what: str):
    try:
        return table[key]
    except (KeyError, IndexError):
        raise FashionDataError(f"{what} has no entry for internal class id {key}") from None


#: Overlays of smaller images are enlarged by a whole factor so their labels stay readable.
OVERLAY_MIN_SIDE = 384


def detection_to_record(
    path: str | Path,
    image_shape: tuple[int, ...],
    result: dict,
    class_names: Sequence[str],
    category_ids: Mapping[int, int] | Sequence[int] | None = None,
    attributes: Mapping[int, str] | Sequence[str] | None = None,
) -> dict:
    """One image's ``detect()`` dict -> a record (see the module docstring).

    Args:
        path: the image file.
        image_shape: ``(H, W, ...)`` of the image the masks are at.
        result: ``rois`` int [N, (y1, x1, y2, x2)], ``class_ids`` int [N] (internal),
            ``scores`` float [N], ``masks`` bool [H, W, N], optional ``attribute_ids`` (N lists).
        class_names: names indexed by internal class id.
        category_ids: internal class id -> iMaterialist category id (record ``class_id``).
        attributes: attribute names by id; when given, instances also carry
            ``attribute_names``.
    """
    h, w = int(image_shape[0]), int(image_shape[1])
    class_ids = np.asarray(result["class_ids"]).reshape(-1)
    n = class_ids.size
    masks = np.asarray(result["masks"], dtype=bool)
    if masks.shape != (h, w, n):
        raise FashionDataError(f"{path}: masks {masks.shape} do not match image {h}x{w}, {n} ids")
    rois = np.asarray(result["rois"]).reshape(-1, 4)
    scores = np.asarray(result["scores"], dtype=np.float64).reshape(-1)
    attrs = result.get("attribute_ids")
    instances = []
    for k in range(n):
        cid = int(class_ids[k])
        y1, x1, y2, x2 = (int(v) for v in rois[k])
        inst_attrs = sorted(int(a) for a in attrs[k]) if attrs is not None else []
        inst = {
            "box": [x1, y1, x2, y2],
            "class_id": (
                int(_lookup(category_ids, cid, "category_ids")) if category_ids is not None else cid
            ),
            "class_name": str(_lookup(class_names, cid, "class_names")),
            "attributes": inst_attrs,
            "score": round(float(scores[k]), 6),
            "mask_rle": encode(masks[:, :, k]),
        }
        if attributes is not None:
            inst["attribute_names"] = [
                str(_lookup(attributes, a, "attributes")) for a in inst_attrs
            ]
        instances.append(inst)
    return {"image": str(path), "width": w, "height": h, "instances": instances}


def predict_records(
    model,
    image_paths: Sequence[str | Path],
    class_names: Sequence[str],
    category_ids=None,
    attributes=None,
    progress: bool = False,
) -> list[dict]:
    """Run ``model.detect`` on image files; one record per image (order kept)."""
    paths = [Path(p) for p in image_paths]
    return [
        detection_to_record(p, image.shape, result, class_names, category_ids, attributes)
        for p, image, result in detect_files(model, paths, progress)
    ]


def write_jsonl(records: Iterable[dict], path: str | Path) -> Path:
    """Write records one JSON object per line; creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[dict]:
    """Read records written by :func:`write_jsonl` (blank lines skipped).

    Raises FashionDataError naming the file and line for invalid JSON or a non-record line.
    """
    path = Path(path)
    records = []
    with path.open() as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FashionDataError(f"{path} line {line_no}: invalid JSON ({exc})") from None
            if not isinstance(record, dict) or "instances" not in record:
                raise FashionDataError(f"{path} line {line_no}: not a prediction record")
            records.append(record)
    return records


def collect_inputs(inputs: str | Path | Iterable[str | Path]) -> list[Path]:
    """Image files from a file, a directory (its images, sorted) or a list of both."""
    if isinstance(inputs, str | Path):
        inputs = [inputs]
    paths: list[Path] = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths.extend(list_images(item))
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"no such image file or directory: {item}")
    return paths


#: The JSON Lines file inside ``predict_to_dir``'s output folder (the skip report beside it is
#: ``errors.SKIP_REPORT_FILE``).
JSONL_NAME = "predictions.jsonl"
#: The folder of overlay PNGs inside ``predict_to_dir``'s output folder.
OVERLAYS_DIR = "overlays"


def overlay_names(paths: Sequence[Path]) -> list[str]:
    """The overlay file name of each input: ``<stem>.png``, a stem already taken by an earlier
    input getting ``_`` appended (same name in two folders). Decided over the whole input list,
    so each shard of a sharded run names an image's overlay as the unsharded run does."""
    used: set[str] = set()
    names = []
    for path in paths:
        stem = Path(path).stem
        while stem in used:
            stem += "_"
        used.add(stem)
        names.append(f"{stem}.png")
    return names


@dataclass(frozen=True)
class _Input:
    """An input file and its place in the whole input list; reads as the file's path (in a skip
    report)."""

    index: int
    path: Path

    def __str__(self) -> str:
        return str(self.path)


def predict_to_dir(
    model,
    inputs,
    out_dir: str | Path,
    class_names: Sequence[str],
    category_ids=None,
    attributes=None,
    overlays: bool = True,
    progress: bool = True,
    skipped: SkipReport | None = None,
    postprocess=None,
    shard: Shard | None = None,
) -> list[dict]:
    """Predict on files / folders; write ``out_dir/predictions.jsonl`` and, with ``overlays``,
    ``out_dir/overlays/<image stem>.png`` (masks, boxes and labels drawn by
    :func:`fashion_mrcnn.viz.overlay.draw_overlay`). Returns the records.

    Each record is appended and flushed as soon as its image is done, so an error (or a kill)
    later in the run keeps every record before it; an error before the first record leaves no
    ``predictions.jsonl`` (an empty one would read as photos without garments). ``skipped``: None stops at the first file that
    cannot be read (raising its :class:`FashionDataError`); a ``SkipReport`` records such files
    and goes on; they are then listed in ``out_dir/skipped.csv`` (``item,reason``), which is
    removed when nothing was skipped. ``postprocess``: an
    ``inference.postprocess.PostprocessSetting`` applied to each image's detections first (with
    a ``mask_threshold``, ``detect`` is asked for the soft masks it binarises).
    ``shard``: predict only this shard's block of the inputs (``shards.Shard.select``; an empty
    block writes an empty ``predictions.jsonl``) and, when the block is done, write its manifest
    ``out_dir/shard.json`` (``written``: ``records`` and ``skipped`` counts); a run without a
    shard removes a ``shard.json`` left in ``out_dir`` by an earlier sharded run.
    """
    from fashion_mrcnn.inference.postprocess import apply_postprocess
    from fashion_mrcnn.viz.overlay import draw_overlay, save_image

    out_dir = Path(out_dir)
    all_paths = collect_inputs(inputs)
    if not all_paths:
        raise FileNotFoundError(f"no images found in {inputs}")
    names = overlay_names(all_paths)
    order = [_Input(k, p) for k, p in enumerate(all_paths)]
    if shard is not None:
        order = shard.select(order)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_path = out_dir / SKIP_REPORT_FILE
    report_path.unlink(missing_ok=True)  # a report from an earlier run would mislead
    manifest = manifest_path(out_dir, folder=True)
    manifest.unlink(missing_ok=True)  # written again only when this run finishes
    records = []
    jsonl_path = out_dir / JSONL_NAME
    with jsonl_path.open("w") as jsonl:
        try:
            soft = postprocess is not None and postprocess.needs_soft_masks
            for item, image, result in detect_batches(
                model, order, lambda item: load_rgb(item.path), progress, skipped, soft
            ):
                path = item.path
                if postprocess is not None:
                    result = apply_postprocess(result, postprocess)
                record = detection_to_record(
                    path, image.shape, result, class_names, category_ids, attributes
                )
                jsonl.write(json.dumps(record) + "\n")
                jsonl.flush()
                records.append(record)
                if overlays:
                    picture = draw_overlay(
                        image, result["rois"], result["masks"], result["class_ids"], class_names,
                        result["scores"], min_side=OVERLAY_MIN_SIDE,
                    )  # fmt: skip
                    save_image(picture, out_dir / OVERLAYS_DIR / names[item.index])
        except BaseException:
            if not records:  # an empty file would read as "no garments in these photos"
                jsonl.close()
                jsonl_path.unlink(missing_ok=True)
            raise
        finally:
            if skipped is not None and len(skipped):
                skipped.write(report_path)
    if shard is not None:
        written = {"records": len(records), "skipped": len(skipped) if skipped is not None else 0}
        settings = {"model": detector_identity(model), "postprocess": _setting_dict(postprocess)}
        write_manifest(manifest, "predict", shard, [str(p) for p in all_paths], written, settings)
    return records
