"""Visualisation: colours, masks, PIL overlay, matplotlib figures written as PNGs."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_mrcnn import visualize as vis

CLASS_NAMES = ["BG", "dress", "skirt", "shoe"]


def _scene():
    image = np.full((60, 80, 3), 230, np.uint8)
    masks = np.zeros((60, 80, 3), bool)
    masks[5:40, 10:40, 0] = True
    masks[30:55, 45:75, 1] = True
    masks[50:58, 5:20, 2] = True
    boxes = np.array([[5, 10, 40, 40], [30, 45, 55, 75], [50, 5, 58, 20]], np.int32)
    return image, boxes, masks, np.array([1, 2, 3]), np.array([0.95, 0.7, 0.5])


def test_import_is_light():
    code = "import sys, fashion_mrcnn.visualize, fashion_mrcnn.predict; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_colors():
    colors = vis.random_colors(5)
    assert len(set(colors)) == 5 and all(0 <= c <= 1 for rgb in colors for c in rgb)
    assert vis.random_colors(5, seed=3) == vis.random_colors(5, seed=3)
    assert vis.class_color(7) == vis.class_color(7)
    assert len({vis.class_color(k) for k in range(46)}) == 46


def test_apply_mask_and_outline():
    image = np.zeros((4, 4, 3), np.uint8)
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    out = vis.apply_mask(image, mask, (1.0, 0.0, 0.0), alpha=0.5)
    assert out[1, 1].tolist() == [128, 0, 0] and out[0, 0].tolist() == [0, 0, 0]
    assert image.sum() == 0  # input untouched
    big = np.zeros((7, 7), bool)
    big[1:6, 1:6] = True
    outline = vis.mask_outline(big)
    assert outline.sum() == 16 and not outline[3, 3]


def test_draw_overlay_colours_instances():
    image, boxes, masks, ids, scores = _scene()
    out = vis.draw_overlay(image, boxes, masks, ids, CLASS_NAMES, scores)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert not np.array_equal(out[20, 25], image[20, 25])  # inside the dress mask
    assert np.array_equal(out[2, 78], image[2, 78])  # far from every instance
    assert (image == 230).all()
    empty = vis.draw_overlay(image, np.zeros((0, 4)), np.zeros((60, 80, 0), bool), [], CLASS_NAMES)
    assert np.array_equal(empty, image)


def _png_ok(path):
    im = np.asarray(Image.open(path))
    assert im.ndim == 3 and im.shape[0] > 50 and im.shape[1] > 50
    assert im.reshape(-1, im.shape[2]).std(axis=0).max() > 5  # not a blank canvas
    return im


def test_matplotlib_figures(tmp_path):
    image, boxes, masks, ids, scores = _scene()
    fig, ax = vis.display_instances(image, boxes, masks, ids, CLASS_NAMES, scores, title="t",
                                    figsize=(4, 4), path=tmp_path / "inst.png")  # fmt: skip
    assert ax.get_title() == "t" and len(ax.texts) == 3
    _png_ok(tmp_path / "inst.png")

    pred_masks = masks.copy()
    pred_masks[:, :, 1] = False
    pred_masks[30:55, 50:75, 1] = True
    fig, ax = vis.display_differences(
        image, boxes, ids, masks, boxes, np.array([1, 2, 1]), scores, pred_masks, CLASS_NAMES,
        score_threshold=0.0, path=tmp_path / "diff.png",
    )  # fmt: skip
    captions = [t.get_text() for t in ax.texts if t.get_text()]
    assert "dress 0.95 / 1.00" in captions and "skirt 0.70 / 0.83" in captions
    _png_ok(tmp_path / "diff.png")

    vis.display_top_masks(image, masks, ids, CLASS_NAMES, limit=2, path=tmp_path / "top.png")
    _png_ok(tmp_path / "top.png")
    vis.display_images([image, image], ["a", "b"], cols=2, path=tmp_path / "imgs.png")
    _png_ok(tmp_path / "imgs.png")
    fig, ax = vis.plot_precision_recall(0.5, [1, 1, 0.5, 0], [0, 0.5, 0.5, 1],
                                        path=tmp_path / "pr.png")  # fmt: skip
    assert "0.500" in ax.get_title()
    overlaps = np.array([[0.9, 0.1], [0.2, 0.6]])
    fig, ax = vis.plot_overlaps([1, 2], [1, 3], [0.9, 0.8], overlaps, CLASS_NAMES,
                                path=tmp_path / "ov.png")  # fmt: skip
    assert len(ax.texts) == 4
    for name in ("pr.png", "ov.png"):
        _png_ok(tmp_path / name)


def test_analysis_plots(tmp_path):
    table = pd.DataFrame(
        {"train_count": [1000, 50, 7], "recall": [0.9, 0.5, 0.0]}, index=["shoe", "bag", "cape"]
    )
    fig, ax = vis.plot_sensitivity_vs_count(table, tmp_path / "sens.png")
    assert ax.get_xscale() == "log" and len(ax.texts) == 3
    conf = pd.DataFrame([[5, 1, 2], [0, 3, 1], [4, 0, 0]], index=["dress", "skirt", "background"],
                        columns=["dress", "skirt", "missed"])  # fmt: skip
    vis.plot_confusion(conf, tmp_path / "conf.png")
    deltas = pd.DataFrame({"ap50": [0.1, -0.05]}, index=["shoe", "bag"])
    vis.plot_deltas(deltas, "ap50", tmp_path / "delta.png")
    grid = vis.crop_grid([np.zeros((30, 20, 3), np.uint8)] * 3, ["a", "b", "c"], cols=2, cell=40)
    assert grid.shape == (2 * (40 + 14), 80, 3)
    for name in ("sens.png", "conf.png", "delta.png"):
        _png_ok(tmp_path / name)


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
    out = vis.draw_overlay(image, extract_bboxes(masks), masks, ids, names)
    vis.save_image(out, tmp_path / "overlay.png")
    assert _png_ok(tmp_path / "overlay.png").shape == image.shape
    vis.display_instances(image, extract_bboxes(masks), masks, ids, names, figsize=(6, 9),
                          path=tmp_path / "real.png")  # fmt: skip
    _png_ok(tmp_path / "real.png")


def test_exploration_plots(tmp_path):
    table = pd.DataFrame(
        {"train_instances": [800, 40, 3], "train_images": [400, 30, 3],
         "val_instances": [200, 10, 0], "val_images": [100, 8, 0]},
        index=["shoe", "bag", "cape"],
    )  # fmt: skip
    assert vis.plot_class_counts(table, tmp_path / "counts.png") == tmp_path / "counts.png"
    _png_ok(tmp_path / "counts.png")
    fig = vis.plot_class_counts(table)
    assert len(fig.axes[0].patches) == 6  # 3 classes x 2 splits
    rng = np.random.default_rng(0)
    values = {"train": rng.random(200), "val": rng.random(50)}
    vis.plot_histograms(values, tmp_path / "hist.png", xlabel="area", log=True)
    _png_ok(tmp_path / "hist.png")
    fig = vis.plot_histograms({"train": [1, 2, 2, 3]}, xlabel="instances per image")
    assert fig.axes[0].get_xlabel() == "instances per image"
    tiles = vis.tile_images([np.zeros((40, 20, 3), np.uint8), np.zeros((10, 30), np.uint8)] * 2,
                            cell=50, pad=2)  # fmt: skip
    assert tiles.shape == (2 * 52 + 2, 2 * 52 + 2, 3)
    assert (tiles[0, 0] == 255).all() and (tiles[2 + 25, 2 + 25] == 0).all()
    with pytest.raises(ValueError):
        vis.tile_images([])


def test_figures_need_no_pyplot_but_use_it_when_loaded():
    code = (
        "import sys, numpy as np; from fashion_mrcnn import visualize as v; "
        "fig, ax = v.plot_precision_recall(0.5, [1, 0], [0, 1]); "
        "print('matplotlib.pyplot' in sys.modules, type(fig.canvas).__name__); "
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
        "fig, ax = v.plot_precision_recall(0.5, [1, 0], [0, 1]); "
        "print(plt.fignum_exists(fig.number))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "FigureCanvasAgg", "True"]


def test_plot_history_writes_png(tmp_path):
    from PIL import Image

    from fashion_mrcnn.visualize import plot_history

    path = plot_history(
        {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5], "mrcnn_mask_loss": [0.7, 0.5, 0.3]},
        tmp_path / "loss.png",
    )
    assert path.is_file()
    assert Image.open(path).size[0] > 100


def test_plot_history_rejects_empty():
    import pytest

    from fashion_mrcnn.visualize import plot_history

    with pytest.raises(ValueError, match="no values"):
        plot_history({"loss": []})


def test_draw_overlay_enlarges_small_images():
    import numpy as np

    from fashion_mrcnn.visualize import draw_overlay

    image = np.zeros((50, 40, 3), np.uint8)
    masks = np.zeros((50, 40, 1), bool)
    masks[10:20, 5:15] = True
    out = draw_overlay(
        image, np.array([[10, 5, 20, 15]]), masks, [1], ["BG", "top"], [0.9], min_side=120
    )
    assert out.shape == (150, 120, 3)  # factor ceil(120 / 40) = 3
    assert out[45, 30].any() and not out[140, 110].any()  # mask painted where scaled, not elsewhere
    assert draw_overlay(image, None, None, [], ["BG"], min_side=0).shape == (50, 40, 3)
