"""viz.overlay: PIL overlays of instances, enlarged small images, a real photo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_mrcnn.viz import figures, overlay
from tests.viz.viz_helpers import CLASS_NAMES, png_ok, scene


def test_draw_overlay_colours_instances():
    image, boxes, masks, ids, scores = scene()
    out = overlay.draw_overlay(image, boxes, masks, ids, CLASS_NAMES, scores)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert not np.array_equal(out[20, 25], image[20, 25])  # inside the dress mask
    assert np.array_equal(out[2, 78], image[2, 78])  # far from every instance
    assert (image == 230).all()
    empty = overlay.draw_overlay(
        image, np.zeros((0, 4)), np.zeros((60, 80, 0), bool), [], CLASS_NAMES
    )
    assert np.array_equal(empty, image)


def test_draw_overlay_enlarges_small_images():
    import numpy as np

    image = np.zeros((50, 40, 3), np.uint8)
    masks = np.zeros((50, 40, 1), bool)
    masks[10:20, 5:15] = True
    out = overlay.draw_overlay(
        image, np.array([[10, 5, 20, 15]]), masks, [1], ["BG", "top"], [0.9], min_side=120
    )
    assert out.shape == (150, 120, 3)  # factor ceil(120 / 40) = 3
    assert out[45, 30].any() and not out[140, 110].any()  # mask painted where scaled, not elsewhere
    assert overlay.draw_overlay(image, None, None, [], ["BG"], min_side=0).shape == (50, 40, 3)


@pytest.mark.realdata
def test_overlay_on_a_real_photo(ccp_dir, tmp_path):
    from fashion_mrcnn.data.formats.rle import decode
    from fashion_mrcnn.ops.boxes import extract_bboxes

    gt = pd.read_csv(ccp_dir / "train.csv", dtype={"ClassId": str})
    rows = gt[gt["ImageId"] == "ccp_0001.jpg"]
    image = np.asarray(Image.open(ccp_dir / "images" / "ccp_0001.jpg").convert("RGB"))
    masks = np.stack(
        [decode(r, image.shape[0], image.shape[1]) for r in rows["EncodedPixels"]], -1
    ).astype(bool)
    ids = rows["ClassId"].astype(int).to_numpy()
    names = [str(k) for k in range(46)]
    out = overlay.draw_overlay(image, extract_bboxes(masks), masks, ids, names)
    overlay.save_image(out, tmp_path / "overlay.png")
    assert png_ok(tmp_path / "overlay.png").shape == image.shape
    figures.display_instances(image, extract_bboxes(masks), masks, ids, names, figsize=(6, 9),
                          path=tmp_path / "real.png")  # fmt: skip
    png_ok(tmp_path / "real.png")
