"""Matterport-compatible ``Dataset`` and the record-backed ``FashionDataset``.

``Dataset`` keeps Matterport ``mrcnn.utils.Dataset``'s public API (``class_info`` starting with
BG, ``add_class``, ``add_image``, ``prepare``, ``load_image``, ``load_mask``, the source maps), so
code written for Matterport runs unchanged. ``FashionDataset`` is built from records (see
docs/DESIGN.md) and decodes masks lazily, one image at a time.

Class ids: a prepared dataset numbers its classes 0 (BG), 1 .. K in ``class_info`` order;
``FashionDataset`` adds its kept categories in order, so the internal id of a category is its
1-based position in the ``categories`` list. Records keep SOURCE category ids.

A ``FashionDataset`` keeps its source's attribute list (the COCO JSON's or the label
descriptions'; none for VOC): ``attribute_names()`` -> ``{attribute id: name}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from fashion_mrcnn.data.images import load_rgb
from fashion_mrcnn.data.records import check_record, instance_mask
from fashion_mrcnn.errors import FashionDataError, SkipReport

__all__ = ["Dataset", "FashionDataset"]


def _clean_name(name: str) -> str:
    """Class display name: the text before the first comma ("shirt, blouse" -> "shirt")."""
    return ",".join(name.split(",")[:1]).strip()


class Dataset:
    """Matterport's dataset base class: classes and images from any number of sources.

    Subclass and override ``load_mask`` (and ``image_reference``). After adding classes and
    images, call :meth:`prepare`.
    """

    def __init__(self, class_map=None) -> None:
        self._image_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self.image_info: list[dict] = []
        self.class_info: list[dict] = [{"source": "", "id": 0, "name": "BG"}]
        self.source_class_ids: dict[str, list[int]] = {}

    def add_class(self, source: str, class_id: int, class_name: str) -> None:
        """Register a class of ``source``; an already registered (source, id) is skipped."""
        if "." in source:
            raise ValueError(f"source name cannot contain a dot: {source!r}")
        for info in self.class_info:
            if info["source"] == source and info["id"] == class_id:
                return
        self.class_info.append({"source": source, "id": class_id, "name": class_name})

    def add_image(self, source: str, image_id, path, **kwargs) -> None:
        """Register an image; extra keyword arguments are stored in its info dict."""
        info = {"id": image_id, "source": source, "path": path}
        info.update(kwargs)
        self.image_info.append(info)

    def image_reference(self, image_id: int) -> str:
        """A human-readable reference to the image (override); the base returns ``""``."""
        return ""

    def prepare(self, class_map=None) -> None:
        """Build the lookup tables used by the model. ``class_map`` is accepted and unused, as in
        Matterport."""
        self.num_classes = len(self.class_info)
        self.class_ids = np.arange(self.num_classes)
        self.class_names = [_clean_name(c["name"]) for c in self.class_info]
        self.num_images = len(self.image_info)
        self._image_ids = np.arange(self.num_images)
        self.class_from_source_map = {
            f"{info['source']}.{info['id']}": cid
            for info, cid in zip(self.class_info, self.class_ids, strict=True)
        }
        self.image_from_source_map = {
            f"{info['source']}.{info['id']}": iid
            for info, iid in zip(self.image_info, self._image_ids, strict=True)
        }
        self.sources = sorted({info["source"] for info in self.class_info})
        self.source_class_ids = {
            source: [
                i for i, info in enumerate(self.class_info) if i == 0 or info["source"] == source
            ]
            for source in self.sources
        }

    def map_source_class_id(self, source_class_id: str) -> int:
        """Internal class id of ``"source.id"`` (e.g. ``"imaterialist.10"``)."""
        try:
            return self.class_from_source_map[source_class_id]
        except KeyError as exc:
            raise KeyError(f"unknown source class {source_class_id!r}") from exc

    def get_source_class_id(self, class_id: int, source: str):
        """Source id of internal class ``class_id``, which must belong to ``source``."""
        info = self.class_info[class_id]
        if info["source"] != source:
            raise ValueError(
                f"class {class_id} belongs to source {info['source']!r}, not {source!r}"
            )
        return info["id"]

    @property
    def image_ids(self) -> np.ndarray:
        return self._image_ids

    def source_image_link(self, image_id: int) -> str:
        """The image's path or URL."""
        return self.image_info[image_id]["path"]

    def load_image(self, image_id: int) -> np.ndarray:
        """uint8 ``[H, W, 3]`` RGB. When the info dict has ``height`` / ``width``, the file must
        match them (after EXIF rotation), else FashionDataError naming image and path."""
        info = self.image_info[image_id]
        image = load_rgb(info["path"])
        expected = (info.get("height"), info.get("width"))
        if None not in expected and tuple(image.shape[:2]) != tuple(int(v) for v in expected):
            raise FashionDataError(
                f"image {info['id']} ({info['path']}): file is {image.shape[0]}x{image.shape[1]} "
                f"(HxW) but the annotation says {expected[0]}x{expected[1]}"
            )
        return image

    def load_mask(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Base: no instances, ``(bool [H, W, 0], int32 [0])`` (H, W from the info dict when known,
        else from the image)."""
        info = self.image_info[image_id]
        if info.get("height") is not None and info.get("width") is not None:
            h, w = int(info["height"]), int(info["width"])
        else:
            h, w = self.load_image(image_id).shape[:2]
        return np.zeros((h, w, 0), dtype=bool), np.zeros(0, dtype=np.int32)


class FashionDataset(Dataset):
    """A prepared dataset over records (one per image), masks decoded lazily.

    Attributes:
        records: the records it was built from (list of dicts, docs/DESIGN.md).
        categories: the kept categories, ``[{"id", "name", "supercategory"}]``; internal class id
            of ``categories[k]`` is ``k + 1``.
        source: the class / image source name.
        skip_report: the loader's SkipReport (empty when built directly from records).
        attributes: the source's attribute list, ``[{"id", "name", ...}]`` (``[]``: no names
            known); :meth:`attribute_names`.
    """

    def __init__(
        self,
        records: Sequence[dict],
        categories: Sequence[dict] | None = None,
        source: str = "imaterialist",
        skip_report: SkipReport | None = None,
        attributes: Sequence[dict] | None = None,
    ) -> None:
        super().__init__()
        self.attributes = [dict(a) for a in attributes or []]
        if categories is None:
            from fashion_mrcnn.data.categories import default_categories

            categories = default_categories()
        self.categories = [dict(c) for c in categories]
        self.source = source
        self.skip_report = skip_report if skip_report is not None else SkipReport(source)
        for cat in self.categories:
            self.add_class(source, int(cat["id"]), str(cat["name"]))
        if len(self.class_info) != len(self.categories) + 1:
            raise FashionDataError("categories contain repeated ids")
        self._internal = {int(c["id"]): k + 1 for k, c in enumerate(self.categories)}
        self._records = list(records)
        for i, rec in enumerate(self._records):
            check_record(rec)
            for inst in rec["instances"]:
                if int(inst["category_id"]) not in self._internal:
                    raise FashionDataError(
                        f"image {rec['image_id']}, {inst.get('origin', 'instance')}: category id "
                        f"{inst['category_id']} is not among the dataset's categories"
                    )
            self.add_image(
                source,
                image_id=rec["image_id"],
                path=rec["path"],
                height=int(rec["height"]),
                width=int(rec["width"]),
                record_index=i,
            )
        self.prepare()

    # ----- constructors -------------------------------------------------------------------
    @classmethod
    def from_records(
        cls,
        records: Sequence[dict],
        categories: Sequence[dict] | None = None,
        source: str = "imaterialist",
        skip_report: SkipReport | None = None,
        attributes: Sequence[dict] | None = None,
    ) -> FashionDataset:
        """A prepared dataset over ``records``; ``categories`` default to the 46 iMaterialist."""
        return cls(
            records, categories, source=source, skip_report=skip_report, attributes=attributes
        )

    @staticmethod
    def _kept(categories: Sequence[dict], keep: Iterable[int] | None) -> list[dict]:
        if keep is None:
            return list(categories)
        keep = {int(k) for k in keep}
        unknown = keep - {int(c["id"]) for c in categories}
        if unknown:
            raise FashionDataError(f"categories {sorted(unknown)} are not in the category list")
        return [c for c in categories if int(c["id"]) in keep]

    @staticmethod
    def _write_report(report: SkipReport, report_path) -> None:
        if report_path is not None:
            report.write(report_path)

    @classmethod
    def from_imaterialist(
        cls,
        csv_path,
        label_descriptions_path=None,
        images_dir=None,
        categories: Iterable[int] | None = None,
        attributes: str = "keep",
        on_error: str = "raise",
        report_path=None,
        check_images: bool = True,
    ) -> FashionDataset:
        """From an iMaterialist ``train.csv`` (see :func:`read_imaterialist`).

        ``images_dir`` defaults to ``train/`` or ``images/`` beside the CSV. The skip report is
        written to ``report_path`` (CSV ``item,reason``) when given.
        """
        from fashion_mrcnn.data.imaterialist import read_imaterialist

        csv_path = Path(csv_path)
        if images_dir is None:
            images_dir = _default_images_dir(csv_path.parent)
        keep = None if categories is None else list(categories)
        records, labels, report = read_imaterialist(
            csv_path,
            label_descriptions_path,
            images_dir,
            categories=keep,
            attributes=attributes,
            on_error=on_error,
            check_images=check_images,
        )
        cls._write_report(report, report_path)
        cats = cls._kept(labels["categories"], keep)
        attrs = labels["attributes"]
        return cls(records, cats, source="imaterialist", skip_report=report, attributes=attrs)

    @classmethod
    def from_coco(
        cls,
        json_path,
        images_dir,
        categories: Iterable[int] | None = None,
        on_error: str = "raise",
        report_path=None,
        check_images: bool = True,
    ) -> FashionDataset:
        """From a COCO / Fashionpedia JSON (see :func:`read_coco`); ``categories`` keeps only
        those source ids (other annotations are left out)."""
        from fashion_mrcnn.data.coco import read_coco

        records, cats, attributes, report = read_coco(
            json_path, images_dir, on_error=on_error, check_images=check_images
        )
        cls._write_report(report, report_path)
        kept = cls._kept(cats, categories)
        if categories is not None:
            ids = {int(c["id"]) for c in kept}
            records = [
                {**r, "instances": [i for i in r["instances"] if int(i["category_id"]) in ids]}
                for r in records
            ]
        return cls(records, kept, source="coco", skip_report=report, attributes=attributes)

    @classmethod
    def from_voc(
        cls,
        xml_dir,
        images_dir,
        class_names: Sequence[str] | None = None,
        on_error: str = "raise",
        report_path=None,
    ) -> FashionDataset:
        """From LabelImg Pascal VOC XML files via ``fashion_mrcnn.data.voc.read_voc``."""
        from fashion_mrcnn.data.voc import read_voc

        records, cats, report = read_voc(
            xml_dir, images_dir, class_names=class_names, on_error=on_error
        )
        cls._write_report(report, report_path)
        return cls(records, cats, source="voc", skip_report=report)

    # ----- per image ----------------------------------------------------------------------
    @property
    def records(self) -> list[dict]:
        return self._records

    def record(self, image_id: int) -> dict:
        return self._records[self.image_info[image_id]["record_index"]]

    def attribute_names(self) -> dict[int, str]:
        """``{source attribute id: name}`` of the source's attribute list (``attributes``);
        empty when the source names none."""
        return {int(a["id"]): str(a["name"]) for a in self.attributes}

    def internal_class_id(self, category_id: int) -> int:
        """1-based internal class id of a source category id."""
        return self._internal[int(category_id)]

    def load_instances(self, image_id: int) -> dict:
        """Decode every instance of one image.

        Returns:
            dict with ``masks`` bool ``[H, W, N]``; ``class_ids`` int32 ``[N]`` internal ids,
            NEGATIVE for crowd instances (Matterport's convention); ``box_only`` bool ``[N]``
            (mask is the filled box, no mask loss); ``iscrowd`` bool ``[N]``; ``attribute_ids``
            list of N lists of source attribute ids.

        Raises:
            FashionDataError: naming the image and the instance origin when a mask does not fit.
        """
        rec = self.record(image_id)
        h, w = int(rec["height"]), int(rec["width"])
        insts = rec["instances"]
        masks = np.zeros((h, w, len(insts)), dtype=bool)
        for k, inst in enumerate(insts):
            try:
                masks[:, :, k] = instance_mask(inst, h, w)
            except FashionDataError as exc:
                msg = str(exc)
                if str(rec["image_id"]) not in msg:
                    msg = f"image {rec['image_id']}: {msg}"
                raise type(exc)(msg) from exc
        crowd = np.array([bool(i.get("iscrowd", False)) for i in insts], dtype=bool)
        class_ids = np.array([self._internal[int(i["category_id"])] for i in insts], dtype=np.int32)
        class_ids[crowd] *= -1
        return {
            "masks": masks,
            "class_ids": class_ids,
            "box_only": np.array([bool(i.get("box_only", False)) for i in insts], dtype=bool),
            "iscrowd": crowd,
            "attribute_ids": [list(i.get("attribute_ids", [])) for i in insts],
        }

    def load_mask(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """``(masks bool [H, W, N], class_ids int32 [N])``, crowds with negative ids."""
        out = self.load_instances(image_id)
        return out["masks"], out["class_ids"]

    def image_reference(self, image_id: int) -> str:
        """``"<path> (<source> image <id>; <first instance origin> ...)"``."""
        rec = self.record(image_id)
        origins = [i.get("origin", "") for i in rec["instances"] if i.get("origin")]
        where = f"; {origins[0]}" + (f" + {len(origins) - 1} more" if len(origins) > 1 else "")
        return f"{rec['path']} ({rec['source']} image {rec['image_id']}{where if origins else ''})"

    # ----- whole dataset ------------------------------------------------------------------
    def class_counts(self) -> dict[str, tuple[int, int]]:
        """``{class name: (instances, images containing it)}`` for every class except BG."""
        inst = np.zeros(self.num_classes, dtype=np.int64)
        imgs = np.zeros(self.num_classes, dtype=np.int64)
        for rec in self._records:
            ids = [self._internal[int(i["category_id"])] for i in rec["instances"]]
            np.add.at(inst, ids, 1)
            imgs[list(set(ids))] += 1
        return {
            self.class_names[k]: (int(inst[k]), int(imgs[k])) for k in range(1, self.num_classes)
        }

    def subset(self, image_indices: Iterable[int]) -> FashionDataset:
        """A new prepared dataset over the records of ``image_indices`` (same categories, and the
        same ``skip_report``: what was skipped while reading the source it came from; the same
        attribute names)."""
        records = [self.record(int(i)) for i in image_indices]
        return type(self)(records, self.categories, self.source, self.skip_report, self.attributes)


def _default_images_dir(root: Path) -> Path:
    for name in ("train", "images"):
        if (root / name).is_dir():
            return root / name
    raise FashionDataError(f"{root}: no images directory ('train/' or 'images/'); pass images_dir")
