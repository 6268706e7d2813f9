"""Session-wide test settings: quiet TensorFlow, the Keras backend, and the shared data paths."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CCP_DIR = (REPO_ROOT / ".." / "shared" / "datasets" / "ccp-fashion").resolve()


@pytest.fixture(scope="session")
def ccp_dir() -> Path:
    """The real street-fashion sample beside the repo; tests using it skip where it is absent."""
    if not (CCP_DIR / "train.csv").is_file():
        pytest.skip(f"ccp-fashion sample not found at {CCP_DIR} (it lives in ../shared/datasets)")
    return CCP_DIR
