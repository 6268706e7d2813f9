"""viz.galleries and viz.plots on an evaluation: sensitivity chart, confusion heat map, error
galleries, per-class comparison chart."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.evaluation.analysis import compare_runs, confusion_matrix, per_class_table
from fashion_mrcnn.evaluation.matching import evaluate_dataset
from fashion_mrcnn.viz.galleries import error_galleries
from fashion_mrcnn.viz.plots import plot_confusion, plot_deltas, plot_sensitivity_vs_count
from tests.analysis_case import analysis_case, prediction


@pytest.fixture
def case():
    return analysis_case()


def test_plots_galleries_and_compare(case, tmp_path):
    ds, preds, ev = case
    table = per_class_table(ev, train_counts={"dress": 300, "skirt": 40, "shorts": 7})
    fig, ax = plot_sensitivity_vs_count(table, tmp_path / "sens.png")
    assert ax.get_xscale() == "log"
    plot_confusion(confusion_matrix(ev), tmp_path / "conf.png")
    written = error_galleries(ev, ds, tmp_path / "gal")
    assert set(written) == {"fp_skirt", "fp_shorts", "fn_dress", "fn_shorts"}
    for p in [tmp_path / "sens.png", tmp_path / "conf.png", *written.values()]:
        assert np.asarray(Image.open(p)).std() > 5
    with pytest.raises(ValueError, match="train_count"):
        plot_sensitivity_vs_count(per_class_table(ev))

    better = per_class_table(evaluate_dataset([prediction(*ds.load_mask(i), [1.0] * n)
                                               for i, n in ((0, 3), (1, 1))], ds))  # fmt: skip
    deltas = compare_runs(table, better, names=("v1", "v2"))
    plot_deltas(deltas, "delta_ap50", tmp_path / "cmp.png", ("v1", "v2"))
    assert deltas.loc["dress", "delta_ap50"] == pytest.approx(0.5)
    assert deltas.loc["shorts", "recall_v2"] == 1.0 and deltas.loc["shorts", "recall_v1"] == 0
    assert deltas.index[-1] in {"skirt", "dress"}  # sorted by delta, skirt/dress gain least
    assert (tmp_path / "cmp.png").is_file()
