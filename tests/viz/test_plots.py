"""viz.plots: error-analysis charts, exploration charts, training curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_mrcnn.viz import overlay, plots
from tests.viz.viz_helpers import png_ok


def test_analysis_plots(tmp_path):
    table = pd.DataFrame(
        {"train_count": [1000, 50, 7], "recall": [0.9, 0.5, 0.0]}, index=["shoe", "bag", "cape"]
    )
    fig, ax = plots.plot_sensitivity_vs_count(table, tmp_path / "sens.png")
    assert ax.get_xscale() == "log" and len(ax.texts) == 3
    conf = pd.DataFrame([[5, 1, 2], [0, 3, 1], [4, 0, 0]], index=["dress", "skirt", "background"],
                        columns=["dress", "skirt", "missed"])  # fmt: skip
    plots.plot_confusion(conf, tmp_path / "conf.png")
    deltas = pd.DataFrame({"ap50": [0.1, -0.05]}, index=["shoe", "bag"])
    plots.plot_deltas(deltas, "ap50", tmp_path / "delta.png")
    grid = overlay.crop_grid(
        [np.zeros((30, 20, 3), np.uint8)] * 3, ["a", "b", "c"], cols=2, cell=40
    )
    assert grid.shape == (2 * (40 + 14), 80, 3)
    for name in ("sens.png", "conf.png", "delta.png"):
        png_ok(tmp_path / name)


def test_exploration_plots(tmp_path):
    table = pd.DataFrame(
        {"train_instances": [800, 40, 3], "train_images": [400, 30, 3],
         "val_instances": [200, 10, 0], "val_images": [100, 8, 0]},
        index=["shoe", "bag", "cape"],
    )  # fmt: skip
    assert plots.plot_class_counts(table, tmp_path / "counts.png") == tmp_path / "counts.png"
    png_ok(tmp_path / "counts.png")
    fig = plots.plot_class_counts(table)
    assert len(fig.axes[0].patches) == 6  # 3 classes x 2 splits
    rng = np.random.default_rng(0)
    values = {"train": rng.random(200), "val": rng.random(50)}
    plots.plot_histograms(values, tmp_path / "hist.png", xlabel="area", log=True)
    png_ok(tmp_path / "hist.png")
    fig = plots.plot_histograms({"train": [1, 2, 2, 3]}, xlabel="instances per image")
    assert fig.axes[0].get_xlabel() == "instances per image"
    tiles = overlay.tile_images([np.zeros((40, 20, 3), np.uint8), np.zeros((10, 30), np.uint8)] * 2,
                            cell=50, pad=2)  # fmt: skip
    assert tiles.shape == (2 * 52 + 2, 2 * 52 + 2, 3)
    assert (tiles[0, 0] == 255).all() and (tiles[2 + 25, 2 + 25] == 0).all()
    with pytest.raises(ValueError):
        overlay.tile_images([])


def test_plot_history_writes_png(tmp_path):

    path = plots.plot_history(
        {"loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5], "mrcnn_mask_loss": [0.7, 0.5, 0.3]},
        tmp_path / "loss.png",
    )
    assert path.is_file()
    assert Image.open(path).size[0] > 100


def test_plot_history_rejects_empty():
    import pytest

    with pytest.raises(ValueError, match="no values"):
        plots.plot_history({"loss": []})
