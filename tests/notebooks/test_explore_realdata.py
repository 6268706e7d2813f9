"""00_explore_data on the real ccp-fashion sample (600 street photos; skipped where absent)."""

import pandas as pd
import pytest

from fashion_mrcnn.workflow.papermill_runner import run_notebook


@pytest.mark.realdata
def test_explore_notebook_on_ccp_fashion(ccp_dir, tmp_path):
    out = run_notebook("00_explore_data", tmp_path / "explore", {"data": str(ccp_dir)})
    assert out.is_file()
    counts = pd.read_csv(tmp_path / "explore" / "class_counts.csv", index_col=0)
    # the sample's README: 3,469 instances over 24 of the 46 categories, 480 training images
    assert counts[["train_instances", "val_instances"]].to_numpy().sum() == 3469
    assert ((counts["train_instances"] + counts["val_instances"]) > 0).sum() == 24
    assert counts["train_images"].max() <= 480
    assert counts["train_instances"].idxmax() == "shoe"  # the most frequent class
    assert (tmp_path / "explore" / "examples.png").stat().st_size > 10_000
