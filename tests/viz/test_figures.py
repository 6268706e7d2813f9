"""viz.figures: the Matterport figure API written as PNGs, light imports, pyplot only when loaded."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from fashion_mrcnn.viz import figures
from tests.viz.viz_helpers import CLASS_NAMES, png_ok, scene


def test_import_is_light():
    code = (
        "import sys, fashion_mrcnn.viz.figures, fashion_mrcnn.viz.plots, fashion_mrcnn.viz.galleries, "
        "fashion_mrcnn.predict; print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_matplotlib_figures(tmp_path):
    image, boxes, masks, ids, scores = scene()
    fig, ax = figures.display_instances(image, boxes, masks, ids, CLASS_NAMES, scores, title="t",
                                    figsize=(4, 4), path=tmp_path / "inst.png")  # fmt: skip
    assert ax.get_title() == "t" and len(ax.texts) == 3
    png_ok(tmp_path / "inst.png")

    pred_masks = masks.copy()
    pred_masks[:, :, 1] = False
    pred_masks[30:55, 50:75, 1] = True
    fig, ax = figures.display_differences(
        image, boxes, ids, masks, boxes, np.array([1, 2, 1]), scores, pred_masks, CLASS_NAMES,
        score_threshold=0.0, path=tmp_path / "diff.png",
    )  # fmt: skip
    captions = [t.get_text() for t in ax.texts if t.get_text()]
    assert "dress 0.95 / 1.00" in captions and "skirt 0.70 / 0.83" in captions
    png_ok(tmp_path / "diff.png")

    figures.display_top_masks(image, masks, ids, CLASS_NAMES, limit=2, path=tmp_path / "top.png")
    png_ok(tmp_path / "top.png")
    figures.display_images([image, image], ["a", "b"], cols=2, path=tmp_path / "imgs.png")
    png_ok(tmp_path / "imgs.png")
    fig, ax = figures.plot_precision_recall(0.5, [1, 1, 0.5, 0], [0, 0.5, 0.5, 1],
                                        path=tmp_path / "pr.png")  # fmt: skip
    assert "0.500" in ax.get_title()
    overlaps = np.array([[0.9, 0.1], [0.2, 0.6]])
    fig, ax = figures.plot_overlaps([1, 2], [1, 3], [0.9, 0.8], overlaps, CLASS_NAMES,
                                path=tmp_path / "ov.png")  # fmt: skip
    assert len(ax.texts) == 4
    for name in ("pr.png", "ov.png"):
        png_ok(tmp_path / name)


def test_figures_need_no_pyplot_but_use_it_when_loaded():
    code = (
        "import sys, numpy as np; from fashion_mrcnn.viz import figures as v; "
        "fig, ax = v.plot_precision_recall(0.5, [1, 0], [0, 1]); "
        "print('matplotlib.pyplot' in sys.modules, type(fig.canvas).__name__); "
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; "
        "fig, ax = v.plot_precision_recall(0.5, [1, 0], [0, 1]); "
        "print(plt.fignum_exists(fig.number))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "FigureCanvasAgg", "True"]
