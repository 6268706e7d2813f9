"""A box-only LabelImg (Pascal VOC XML) copy of ccp-fashion with 6 coarse classes, for the
README's LabelImg workflow on real photos.

    .venv/bin/python bench/make_voc_ccp.py ../shared/datasets/ccp-fashion /tmp/street

Writes ``OUT/annotations/ccp_NNNN.xml`` (one LabelImg file per photo: filename, size, one
``<object>`` per instance with its box) and a symbolic link to each photo beside it (the photos
are not copied). Coarse classes: top (shirt, top, sweater, cardigan, jacket, vest, coat), bottom
(pants, shorts, skirt), dress (dress, jumpsuit, cape), shoe, bag, accessory (everything else:
glasses, hat, headband, tie, glove, watch, belt, tights, socks, scarf ...).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from xml.sax.saxutils import escape

COARSE = {
    "top": (0, 1, 2, 3, 4, 5, 9),
    "bottom": (6, 7, 8),
    "dress": (10, 11, 12),
    "shoe": (23,),
    "bag": (24,),
}


def coarse_name(category_id: int) -> str:
    for name, ids in COARSE.items():
        if category_id in ids:
            return name
    return "accessory"


def write_voc(dataset: Path, out: Path) -> int:
    coco = json.loads((dataset / "coco" / "instances.json").read_text())
    objects = defaultdict(list)
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        if w < 1 or h < 1:
            continue
        # VOC pixels are 1-based and inclusive
        box = (round(x) + 1, round(y) + 1, round(x + w), round(y + h))
        objects[ann["image_id"]].append((coarse_name(ann["category_id"]), *box))
    folder = out / "annotations"
    folder.mkdir(parents=True, exist_ok=True)
    for image in coco["images"]:
        name = image["file_name"]
        link = folder / name
        if not link.exists():
            link.symlink_to((dataset / "images" / name).resolve())
        objs = "".join(
            f"<object><name>{escape(n)}</name><pose>Unspecified</pose><truncated>0</truncated>"
            f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for n, x1, y1, x2, y2 in objects[image["id"]]
        )
        xml = (
            f"<annotation><folder>annotations</folder><filename>{escape(name)}</filename>"
            f"<size><width>{image['width']}</width><height>{image['height']}</height>"
            f"<depth>3</depth></size><segmented>0</segmented>{objs}</annotation>"
        )
        (folder / (Path(name).stem + ".xml")).write_text(xml)
    return len(coco["images"])


if __name__ == "__main__":
    count = write_voc(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{count} LabelImg files in {Path(sys.argv[2]) / 'annotations'}")
