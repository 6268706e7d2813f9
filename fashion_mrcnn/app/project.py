"""Every name the web app takes from the rest of ``fashion_mrcnn``, imported in this one place.

When modules of the package move, only these lines change. Nothing imported here loads
TensorFlow at import time (the model is built inside ``load_inference_model``), so
``fashion-mrcnn --help`` stays fast.
"""

from __future__ import annotations

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.attributes import detection_attributes
from fashion_mrcnn.data.categories import category_names, default_categories
from fashion_mrcnn.data.formats.rle import decode as rle_decode
from fashion_mrcnn.data.images import list_images, load_rgb
from fashion_mrcnn.data.synthetic import ATTRIBUTES as SYNTHETIC_ATTRIBUTES
from fashion_mrcnn.data.synthetic import image_rng, render_scene
from fashion_mrcnn.errors import (
    SKIP_REPORT_FILE,
    ConfigError,
    FashionDataError,
    NonFiniteOutputError,
    SkipReport,
)
from fashion_mrcnn.model.finite import predict_finite
from fashion_mrcnn.ops.boxes import extract_bboxes
from fashion_mrcnn.ops.transform import boxes_to_molded, kept_detection_rows
from fashion_mrcnn.predict import detection_to_record
from fashion_mrcnn.viz.colors import class_color, to_uint8_color
from fashion_mrcnn.viz.overlay import draw_overlay
from fashion_mrcnn.workflow.remote_weights import local_weights
from fashion_mrcnn.workflow.rundir import find_run_file
from fashion_mrcnn.workflow.stages import (
    category_ids_for,
    class_names_for,
    ensure_synthetic,
    load_inference_model,
    open_dataset,
)

__all__ = [
    "SKIP_REPORT_FILE",
    "SYNTHETIC_ATTRIBUTES",
    "Config",
    "ConfigError",
    "FashionDataError",
    "NonFiniteOutputError",
    "SkipReport",
    "boxes_to_molded",
    "category_ids_for",
    "class_names_for",
    "category_names",
    "class_color",
    "default_categories",
    "detection_attributes",
    "detection_to_record",
    "draw_overlay",
    "ensure_synthetic",
    "extract_bboxes",
    "find_run_file",
    "image_rng",
    "kept_detection_rows",
    "list_images",
    "load_inference_model",
    "load_rgb",
    "local_weights",
    "open_dataset",
    "predict_finite",
    "render_scene",
    "rle_decode",
    "to_uint8_color",
]
