"""Pascal VOC XML (as written by LabelImg): records, the seed workflow's CSV and its splits.

Coordinates. VOC / LabelImg ``<bndbox>`` values ``xmin ymin xmax ymax`` are 1-based and inclusive:
the box covers pixel columns ``xmin .. xmax`` counting the first column as 1. Our convention is
0-based with y2 / x2 exclusive, so ``x1 = xmin - 1`` and ``x2 = xmax`` (same for y); a box
spanning the whole image is ``xmin = 1, xmax = width``. ``xmin = 0`` / ``ymin = 0`` (written by
some tools that count from 0) is read as the image border. Float values are rounded.

The CSV (``voc_to_csv``) keeps the raw VOC numbers, one row per object:
``filename,width,height,class,xmin,ymin,xmax,ymax`` (the layout of the TF Object Detection API
tutorials). Its TF Object Detection API export is :mod:`fashion_mrcnn.data.formats.voc_tfrecord`.

XML is parsed with ``defusedxml`` (no entity expansion, no external DTDs).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from fashion_mrcnn.constants import IMAGE_SUFFIXES
from fashion_mrcnn.data.records import validate_records
from fashion_mrcnn.data.splits import write_splits
from fashion_mrcnn.errors import FashionDataError, SkipReport, check_on_error

__all__ = [
    "CSV_COLUMNS",
    "parse_voc_file",
    "read_csv_rows",
    "read_voc",
    "split_csv",
    "voc_to_csv",
]

CSV_COLUMNS = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]


def _positive_int(text, what: str, where: str) -> int:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError) as exc:
        raise FashionDataError(f"{where}: {what} is not a number: {text!r}") from exc
    if not value.is_integer() or value < 1:
        raise FashionDataError(f"{where}: {what} must be a positive integer, got {text!r}")
    return int(value)


def _coordinate(obj, tag: str, where: str) -> int:
    node = obj.find(f"bndbox/{tag}")
    if node is None or node.text is None or not node.text.strip():
        raise FashionDataError(f"{where}: missing bndbox/{tag}")
    try:
        return int(round(float(node.text.strip())))
    except ValueError as exc:
        raise FashionDataError(f"{where}: bndbox/{tag} is not a number: {node.text!r}") from exc


def parse_voc_file(xml_path: str | Path) -> dict:
    """Parse one LabelImg / VOC XML file without looking at the image.

    Returns:
        ``{"filename", "path" (the XML's <path> or None), "height", "width", "objects": [
        {"name", "xmin", "ymin", "xmax", "ymax", "box": [y1, x1, y2, x2], "index"}]}`` where the
        VOC values are raw (1-based inclusive) and ``box`` is in our convention (0-based, y2 / x2
        exclusive). ``objects[i]`` is either such a dict or a ``FashionDataError`` for a bad object
        (so callers can skip it and keep the others).

    Raises:
        FashionDataError: unreadable / invalid XML, missing filename or size.
    """
    xml_path = Path(xml_path)
    try:
        root = SafeET.parse(str(xml_path)).getroot()
    except FileNotFoundError as exc:
        raise FashionDataError(f"{xml_path}: file not found") from exc
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise FashionDataError(f"{xml_path}: invalid XML ({exc})") from exc
    if root.tag != "annotation":
        raise FashionDataError(f"{xml_path}: root element is <{root.tag}>, expected <annotation>")
    filename = (root.findtext("filename") or "").strip()
    if not filename:
        raise FashionDataError(f"{xml_path}: missing <filename>")
    width_text, height_text = root.findtext("size/width"), root.findtext("size/height")
    if width_text is None or height_text is None:
        raise FashionDataError(f"{xml_path}: missing <size> width / height")
    width = _positive_int(width_text, "size/width", str(xml_path))
    height = _positive_int(height_text, "size/height", str(xml_path))
    objects: list = []
    for index, obj in enumerate(root.findall("object")):
        where = f"{xml_path} object {index}"
        try:
            name = (obj.findtext("name") or "").strip()
            if not name:
                raise FashionDataError(f"{where}: missing <name>")
            xmin, ymin, xmax, ymax = (
                _coordinate(obj, t, where) for t in ("xmin", "ymin", "xmax", "ymax")
            )
            if xmin >= xmax or ymin >= ymax:
                raise FashionDataError(
                    f"{where} ({name}): empty box, need xmin < xmax and ymin < ymax, got "
                    f"xmin={xmin} ymin={ymin} xmax={xmax} ymax={ymax}"
                )
            if xmin < 0 or ymin < 0 or xmax > width or ymax > height:
                raise FashionDataError(
                    f"{where} ({name}): box xmin={xmin} ymin={ymin} xmax={xmax} ymax={ymax} lies "
                    f"outside the {width}x{height} image"
                )
            box = [max(ymin - 1, 0), max(xmin - 1, 0), ymax, xmax]
            objects.append(
                dict(name=name, xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax, box=box, index=index)
            )
        except FashionDataError as exc:
            exc.item = where  # what a skip report names
            objects.append(exc)
    path_text = (root.findtext("path") or "").strip() or None
    return {
        "filename": filename,
        "path": path_text,
        "height": height,
        "width": width,
        "objects": objects,
    }


def _image_path(parsed: dict, xml_path: Path, images_dir: Path | None) -> Path:
    """The image file of a parsed XML: ``<filename>`` in ``images_dir`` (default: beside the
    XML, then the XML's ``<path>``); a ``<filename>`` without suffix (older LabelImg) is tried
    with the usual image suffixes."""
    folder = images_dir if images_dir is not None else xml_path.parent
    name = parsed["filename"]
    candidates = [folder / name]
    if not Path(name).suffix:
        candidates += [
            folder / (name + suffix)
            for lower in IMAGE_SUFFIXES
            for suffix in (lower, lower.upper())
        ]
    if images_dir is None and parsed["path"]:
        candidates.append(Path(parsed["path"]))
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise FashionDataError(f"{xml_path}: image {name} not found at {candidates[0]}")


def read_voc(
    xml_dir: str | Path,
    images_dir: str | Path | None = None,
    class_names: list[str] | None = None,
    on_error: str = "raise",
    report: SkipReport | None = None,
) -> tuple[list[dict], list[dict], SkipReport]:
    """Read a folder of LabelImg XML files into records (docs/DESIGN.md).

    Args:
        xml_dir: folder with ``*.xml`` (one per image, read in sorted order).
        images_dir: where the images are; default: beside the XML, else the XML's ``<path>``.
        class_names: the categories in id order (id = position); ``None``: the sorted names found.
        on_error: ``"raise"`` (first problem raises) or ``"skip"`` (bad files / objects go to the
            report; a file with a bad object keeps its good objects; every image file is opened
            and checked against the XML's size, see
            :func:`fashion_mrcnn.data.records.validate_records`).
        report: a :class:`SkipReport` to add to; a new one by default.

    Returns:
        ``(records, categories, report)``; instances have ``segmentation = {"kind": "box", "data":
        [y1, x1, y2, x2]}`` (pixels, y2 / x2 exclusive), ``box_only = True``, no attributes;
        categories are ``[{"id", "name", "supercategory": ""}]``.

    Raises:
        FashionDataError: (raise mode) naming the XML file and object index: bad XML, missing
            size, box outside the image, xmin >= xmax, unknown class, missing image.
    """
    check_on_error(on_error)
    report = report if report is not None else SkipReport("voc")
    xml_dir = Path(xml_dir)
    if not xml_dir.is_dir():
        raise FashionDataError(f"{xml_dir}: VOC annotation folder not found")
    images_dir = Path(images_dir) if images_dir is not None else None
    known = {name: i for i, name in enumerate(class_names)} if class_names is not None else None
    parsed_files = []
    for xml_path in sorted(xml_dir.glob("*.xml")):
        try:
            parsed = parse_voc_file(xml_path)
            path = _image_path(parsed, xml_path, images_dir)
        except FashionDataError as exc:
            if on_error == "raise":
                raise
            report.add(str(xml_path), str(exc))
            continue
        objects = []
        for obj in parsed["objects"]:
            if (
                not isinstance(obj, FashionDataError)
                and known is not None
                and obj["name"] not in known
            ):
                where = f"{xml_path} object {obj['index']}"
                obj = FashionDataError(
                    f"{where}: unknown class {obj['name']!r} (known: {', '.join(known)})"
                )
                obj.item = where
            if isinstance(obj, FashionDataError):
                if on_error == "raise":
                    raise obj
                report.add(obj.item, str(obj))
                continue
            objects.append(obj)
        parsed_files.append((xml_path, parsed, path, objects))
    if known is None:
        names = sorted({o["name"] for _, _, _, objs in parsed_files for o in objs})
        known = {name: i for i, name in enumerate(names)}
    categories = [{"id": i, "name": name, "supercategory": ""} for name, i in known.items()]
    records = []
    for xml_path, parsed, path, objects in parsed_files:
        instances = [
            {
                "category_id": known[o["name"]],
                "attribute_ids": [],
                "segmentation": {"kind": "box", "data": list(o["box"])},
                "box_only": True,
                "origin": f"{xml_path.name} object {o['index']}",
            }
            for o in objects
        ]
        records.append(
            {
                "image_id": path.name,
                "path": str(path),
                "height": parsed["height"],
                "width": parsed["width"],
                "source": "voc",
                "instances": instances,
            }
        )
    if on_error == "skip":
        records = validate_records(records, report, xml_dir.name)
    return records, categories, report


def voc_to_csv(xml_dir: str | Path, csv_path: str | Path) -> Path:
    """Write every object of a LabelImg XML folder as a CSV row (raw VOC coordinates).

    Columns: ``filename,width,height,class,xmin,ymin,xmax,ymax``. Images are not opened.

    Raises:
        FashionDataError: naming the XML file (and object) for any bad file or object.
    """
    xml_dir = Path(xml_dir)
    if not xml_dir.is_dir():
        raise FashionDataError(f"{xml_dir}: VOC annotation folder not found")
    rows = []
    for xml_path in sorted(xml_dir.glob("*.xml")):
        parsed = parse_voc_file(xml_path)
        for obj in parsed["objects"]:
            if isinstance(obj, FashionDataError):
                raise obj
            rows.append([parsed["filename"], parsed["width"], parsed["height"], obj["name"],
                         obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]])  # fmt: skip
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return csv_path


def read_csv_rows(csv_path: str | Path) -> list[dict]:
    """Read a ``voc_to_csv`` CSV into validated row dicts (ints for sizes and coordinates).

    Raises:
        FashionDataError: naming the file and row for a missing column or a bad number, or the
            file when it is not UTF-8 text.
    """
    csv_path = Path(csv_path)
    try:
        f = csv_path.open(newline="")
    except FileNotFoundError as exc:
        raise FashionDataError(f"{csv_path}: CSV file not found") from exc
    with f:
        try:
            return _csv_rows(csv_path, f)
        except UnicodeDecodeError as exc:
            raise FashionDataError(
                f"{csv_path}: not a text CSV (byte {exc.start} is not UTF-8: {exc.reason})"
            ) from exc
        except csv.Error as exc:  # e.g. a NUL byte
            raise FashionDataError(f"{csv_path}: not a readable CSV ({exc})") from exc


def _csv_rows(csv_path: Path, f) -> list[dict]:
    """The rows of the open CSV ``f`` (see :func:`read_csv_rows`)."""
    reader = csv.DictReader(f)
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise FashionDataError(f"{csv_path}: missing columns {missing}")
    rows = []
    for line, row in enumerate(reader, start=2):
        where = f"{csv_path} row {line}"
        out = {"filename": row["filename"], "class": row["class"]}
        for key in ("width", "height", "xmin", "ymin", "xmax", "ymax"):
            try:
                out[key] = int(round(float(row[key])))
            except (TypeError, ValueError) as exc:
                raise FashionDataError(f"{where}: {key} is not a number: {row[key]!r}") from exc
        if not out["filename"] or not out["class"]:
            raise FashionDataError(f"{where}: empty filename or class")
        rows.append(out)
    return rows


def split_csv(
    csv_path: str | Path,
    out_dir: str | Path,
    test_fraction: float = 0.2,
    seed: int = 0,
    return_table: bool = False,
):
    """Split a VOC CSV into train / test CSVs by image, stratified on each image's rarest class.

    Rows of one image stay together. Writes ``out_dir/train_labels.csv``,
    ``out_dir/test_labels.csv`` and ``out_dir/splits.json`` (``{"train": [...], "val": [...]}``,
    the CSV's file names, which are the image ids of :func:`read_voc`; the test CSV's images
    are the ``val`` split that ``train`` validates on and ``evaluate --split val`` scores), and
    prints per-class object / image counts per split.

    Returns:
        ``(train_csv, test_csv)``, or ``(train_csv, test_csv, table)`` with ``return_table=True``
        (``table`` is the printed text).
    """
    from fashion_mrcnn.data.sampling import stratified_split_indices

    rows = read_csv_rows(csv_path)
    by_image: dict[str, list[dict]] = {}
    for row in rows:
        by_image.setdefault(row["filename"], []).append(row)
    if len(by_image) < 2:
        raise FashionDataError(
            f"{csv_path}: {len(rows)} rows over {len(by_image)} images; a train / test split "
            "needs boxes of at least 2 images"
        )
    names = sorted({row["class"] for row in rows})
    class_id = {name: i for i, name in enumerate(names)}
    images = list(by_image)
    pseudo = [
        {"instances": [{"category_id": class_id[r["class"]]} for r in by_image[f]]} for f in images
    ]
    train_idx, test_idx = stratified_split_indices(pseudo, test_fraction, seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, idx in (("train_labels.csv", train_idx), ("test_labels.csv", test_idx)):
        path = out_dir / name
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for i in idx:
                writer.writerows(by_image[images[i]])
        paths.append(path)
    write_splits(out_dir, {"train": [images[i] for i in train_idx],
                           "val": [images[i] for i in test_idx]})  # fmt: skip
    table = _split_table(
        names, [[r for i in idx for r in by_image[images[i]]] for idx in (train_idx, test_idx)]
    )
    print(table)
    return (paths[0], paths[1], table) if return_table else (paths[0], paths[1])


def _split_table(names: list[str], splits: list[list[dict]]) -> str:
    import pandas as pd

    data = {}
    for label, rows in zip(("train", "test"), splits):
        objects = Counter(r["class"] for r in rows)
        image_counts = Counter(cls for _, cls in {(r["filename"], r["class"]) for r in rows})
        data[f"{label}_objects"] = [objects[n] for n in names]
        data[f"{label}_images"] = [image_counts[n] for n in names]
    table = pd.DataFrame(data, index=pd.Index(names, name="class"))
    n_train = len({r["filename"] for r in splits[0]})
    n_test = len({r["filename"] for r in splits[1]})
    return f"images: train {n_train}, test {n_test}\n{table.to_string()}"
