"""LabelImg Pascal VOC files for the tests (the VOC reader's and the TFRecord export's)."""

import numpy as np
from PIL import Image


def voc_xml(filename, width, height, objects, size=True):
    """LabelImg XML text for one image; ``objects``: ``(name, xmin, ymin, xmax, ymax)`` tuples
    (VOC's 1-based inclusive pixels); ``size=False`` leaves out ``<size>``."""
    objs = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
        f"<ymax>{y2}</ymax></bndbox></object>"
        for name, x1, y1, x2, y2 in objects
    )
    size_xml = f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
    return (
        f"<annotation><folder>images</folder><filename>{filename}</filename>"
        f"<path>/nowhere/{filename}</path><source><database>Unknown</database></source>"
        f"{size_xml if size else ''}<segmented>0</segmented>{objs}</annotation>"
    )


def write_text(folder, name, text):
    """Write ``text`` to ``folder / name``."""
    (folder / name).write_text(text)


def write_voc_dir(tmp_path):
    """Three LabelImg files with their images (40 x 30 px, i.e. width 40, height 30)."""
    xml_dir, img_dir = tmp_path / "ann", tmp_path / "img"
    xml_dir.mkdir()
    img_dir.mkdir()
    specs = {
        "a.jpg": [("shirt", 1, 1, 40, 30), ("shoe", 11, 21, 20, 30)],
        "b.png": [("shoe", 5, 5, 9, 9)],
        "c.jpg": [("bag", 2, 3, 12.0, 13.0), ("shirt", 1, 1, 10, 10)],
    }
    for i, (fname, objs) in enumerate(specs.items()):
        Image.fromarray(np.full((30, 40, 3), 40 * i, np.uint8)).save(img_dir / fname)
        write_text(xml_dir, fname.rsplit(".", 1)[0] + ".xml", voc_xml(fname, 40, 30, objs))
    return xml_dir, img_dir
