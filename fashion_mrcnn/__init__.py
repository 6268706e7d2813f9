"""fashion-mrcnn: a Keras 3 Mask R-CNN suite for fashion instance segmentation.

Public names are re-exported lazily (``from fashion_mrcnn import MaskRCNN`` imports TensorFlow
only then), so data tools and ``fashion-mrcnn --help`` start fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "fashion_mrcnn.config",
    "FashionConfig": "fashion_mrcnn.config",
    "FashionInferenceConfig": "fashion_mrcnn.config",
    "Dataset": "fashion_mrcnn.data.dataset",
    "FashionDataset": "fashion_mrcnn.data.dataset",
    "MaskRCNN": "fashion_mrcnn.model.maskrcnn",
    "FashionDataError": "fashion_mrcnn.errors",
    "RLEError": "fashion_mrcnn.errors",
    "ConfigError": "fashion_mrcnn.errors",
    "WeightsError": "fashion_mrcnn.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fashion_mrcnn' has no attribute {name!r}")
