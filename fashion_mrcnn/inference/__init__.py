"""Inference: the one batched detect loop and what happens to an image's detections after it.
No TensorFlow at import time (the model is passed in).

- :mod:`.detect`: ``detect_batches`` / ``detect_dataset`` / ``detect_files``, the one batched
  ``model.detect`` loop that evaluation, ``predict``, the Kaggle submission and
  ``tune-postprocess`` run.
- :mod:`.postprocess`: ``PostprocessSetting``, ``apply_postprocess`` (a tuned setting, applied in
  one place), ``read_postprocess`` / ``write_postprocess`` (``postprocess.yaml``).
- :mod:`.tta`: ``AugmentedModel`` (test-time flips and input sizes, checkpoint ensembles) and
  ``merge_passes``, the rule that merges the passes' detections.
- :mod:`.overlaps`: ``OVERLAP_POLICIES`` and ``remove_overlaps`` (a contested pixel goes to the
  highest-scoring mask).

Imports run downward: this part uses ``ops``, ``data`` and the shared names, never
``evaluation``, ``viz``, ``workflow`` or ``app`` (they use it).
"""

from fashion_mrcnn.inference.detect import detect_batches, detect_dataset, detect_files
from fashion_mrcnn.inference.overlaps import OVERLAP_POLICIES, remove_overlaps
from fashion_mrcnn.inference.postprocess import (
    POSTPROCESS_YAML,
    PostprocessSetting,
    apply_postprocess,
    read_postprocess,
    write_postprocess,
)
from fashion_mrcnn.inference.tta import AugmentedModel, merge_passes

__all__ = [
    "AugmentedModel",
    "OVERLAP_POLICIES",
    "POSTPROCESS_YAML",
    "PostprocessSetting",
    "apply_postprocess",
    "detect_batches",
    "detect_dataset",
    "detect_files",
    "merge_passes",
    "read_postprocess",
    "remove_overlaps",
    "write_postprocess",
]
