"""``run_tune`` over the real 01_subset_tuning notebook (two trials, smoke settings): slow."""

import pandas as pd
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.workflow.notebooks import read_handoff, run_tune


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_run_tune_two_points_on_the_real_notebook(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("gradient_clip_norm: [5.0, 1.0]\n")
    table = run_tune(grid, tmp_path / "tune", smoke=True)
    assert len(table) == 2 and list(table["rank"]) == [1, 2]
    assert sorted(table["gradient_clip_norm"]) == [1.0, 5.0]
    assert table["mask_map50"].between(0, 1).all()
    ranked = pd.read_csv(tmp_path / "tune" / "ranked.csv")
    assert list(ranked["trial"]) == list(table["trial"])
    best = Config.from_yaml(tmp_path / "tune" / "best_config.yaml")
    assert best.GRADIENT_CLIP_NORM == table.loc[0, "gradient_clip_norm"]
    for trial in table["trial"]:
        trial_dir = tmp_path / "tune" / trial
        # each run is one trial: the notebook's own grid was emptied
        assert len(pd.read_csv(trial_dir / "ranked.csv")) == 1
        assert read_handoff(trial_dir, "metrics").endswith("metrics.json")
