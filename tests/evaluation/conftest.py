"""Shared fixtures for the evaluation tests (the ccp-fashion ground truth)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def ccp_gt(ccp_dir) -> pd.DataFrame:
    """The ccp-fashion train.csv (Kaggle GT layout), string ids."""
    return pd.read_csv(ccp_dir / "train.csv", dtype={"ClassId": str}, keep_default_na=False)
