"""Export the model for TensorFlow Lite: one flatbuffer that any LiteRT / TFLite runtime runs with
its built-in kernels only (no TensorFlow-ops delegate, which phones and TensorFlow's own Python
interpreter from 2.20 on do not link).

The model's signature ``serving_default`` takes :data:`TFLITE_INPUT`, one decoded RGB image uint8
[H, W, 3] of any size (devices decode with their own codec: the SavedModel's JPEG / PNG decoding
has no built-in kernel), and does in the graph what ``MaskRCNN.detect`` does for one image: mold
(square mode, ``ops.transform_tf``), the inference graph, unmold (boxes in original pixels, the
min-confidence filter, masks pasted at the original size). It returns :data:`TFLITE_OUTPUTS`:

- ``boxes`` int32 [N, (y1, x1, y2, x2)] original pixels (y2 / x2 exclusive);
- ``class_ids`` int32 [N] (index into ``labels.txt``, line 0 = "BG");
- ``scores`` float32 [N];
- ``masks`` bool [N, H, W];
- ``num_detections`` int32 scalar (= N).

The attribute head's outputs are not in this export (the SavedModel has them).

What differs from the SavedModel export (:mod:`model.export`), and why:

- The graph is rebuilt with ``ROI_ALIGN="xla"`` (the gather RoIAlign; the weights are the same):
  TFLite has no CropAndResize kernel. It is float32 whatever ``MIXED_PRECISION`` says (TFLite's
  gathers take no bfloat16 / float16; quantising is not offered). The two crops agree to float rounding
  (``tests/ops/test_roi_align.py``), so the detections do too, up to the order of near-tied
  scores (the test states its tolerance).
- The masks are pasted by ``ops.transform_tf.paste_masks_gather_tf`` (all instances at once;
  the SavedModel's ``tf.map_fn`` paste has no built-in lowering). Same pixels, more memory while
  it runs (its docstring).
- The resized size is computed in int32 ratios (``ops.resize_tf.square_size_integer_tf``):
  TFLite has no float64 arithmetic. It equals ``detect``'s size but at a few exact halves (its
  docstring); IMAGE_MIN_SCALE must be 0.
- Class names go to ``labels.txt`` beside the model rather than into a string output.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fashion_mrcnn.errors import ConfigError, WeightsError

__all__ = ["TFLITE_INPUT", "TFLITE_OUTPUTS", "export_tflite", "tflite_detector"]

#: The input of the TFLite signature: one decoded RGB image.
TFLITE_INPUT = "image"
#: The outputs of the TFLite signature (see the module docstring).
TFLITE_OUTPUTS = ("boxes", "class_ids", "scores", "masks", "num_detections")
#: The files written into the export folder.
TFLITE_FILE = "model.tflite"
LABELS_FILE = "labels.txt"


def tflite_detector(model):
    """An inference ``MaskRCNN`` of ``model``'s config with ``ROI_ALIGN="xla"`` and float32
    (``MIXED_PRECISION`` False: TFLite's gathers take no bfloat16 / float16) and ``model``'s
    weights; ``model`` itself when it already is so."""
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    if model.config.ROI_ALIGN == "xla" and model.config.MIXED_PRECISION is False:
        return model
    config = model.config.replace(ROI_ALIGN="xla", MIXED_PRECISION=False)
    twin = MaskRCNN("inference", config, model.model_dir)
    twin.keras_model.set_weights(model.keras_model.get_weights())
    return twin


def detect_function(keras_model, config, min_confidence, mask_threshold):
    """``f(image uint8 [H, W, 3]) -> dict`` of :data:`TFLITE_OUTPUTS`: mold, ``keras_model``
    (the inference graph of ``config``) on one image, unmold (``ops.transform_tf``)."""
    import tensorflow as tf

    from fashion_mrcnn.ops.transform_tf import (
        compose_image_meta_tf,
        mold_square_tf,
        paste_masks_gather_tf,
        unmold_detections_tf,
    )

    side = int(config.IMAGE_MAX_DIM)
    molded_shape = tf.constant([side, side, 3], tf.int32)

    def detect(image):
        original_shape = tf.shape(image)
        molded, window, scale = mold_square_tf(
            image,
            min_dim=config.IMAGE_MIN_DIM,
            max_dim=side,
            min_scale=config.IMAGE_MIN_SCALE,
            mean_pixel=[float(v) for v in config.MEAN_PIXEL],
            integer_sizes=True,
        )
        meta = compose_image_meta_tf(
            original_shape, molded_shape, window, scale, int(config.NUM_CLASSES)
        )
        out = keras_model(
            {"input_image": molded[None], "input_image_meta": meta[None]}, training=False
        )
        boxes, class_ids, scores, masks = unmold_detections_tf(
            out["detections"][0],
            out["mrcnn_mask"][0],
            original_shape,
            molded_shape,
            window,
            float(min_confidence),
            float(mask_threshold),
            paste=paste_masks_gather_tf,
        )
        return {
            "boxes": boxes,
            "class_ids": class_ids,
            "scores": tf.cast(scores, tf.float32),
            "masks": masks,
            "num_detections": tf.shape(class_ids)[0],
        }

    return detect


#: ``export_tflite(weights=...)``: how the flatbuffer stores the weights.
WEIGHT_TYPES = ("float32", "float16")


def export_tflite(
    model,
    folder: str | Path,
    class_names,
    min_confidence=None,
    mask_threshold=None,
    weights: str = "float32",
) -> tuple[Path, Path]:
    """Write ``folder/model.tflite`` (built-in kernels only) and ``folder/labels.txt`` (one class
    name per line, index = class id, "BG" first); returns both paths.

    model: an inference-mode ``MaskRCNN`` in IMAGE_RESIZE_MODE "square"; ``min_confidence`` /
    ``mask_threshold`` default to DETECTION_MIN_CONFIDENCE / MASK_THRESHOLD and are fixed in the
    graph. ``weights``: "float32", or "float16" (TFLite's float16 weight quantisation: half the
    file, the weights widened back to float32 when the model loads, so it computes in float32).
    ConfigError for another mode, a wrong number of names or an unknown ``weights``; WeightsError
    naming the ops when the converter refuses the graph.
    """
    import keras
    import tensorflow as tf

    from fashion_mrcnn.model.export import export_arguments

    class_names, min_confidence, mask_threshold = export_arguments(
        model, class_names, min_confidence, mask_threshold, "export_tflite"
    )
    config = model.config
    if weights not in WEIGHT_TYPES:
        raise ConfigError(f"TFLite weights must be one of {WEIGHT_TYPES}, got {weights!r}")
    if config.IMAGE_MIN_SCALE:
        raise ConfigError(
            f"the TFLite export sizes images in integer ratios, which IMAGE_MIN_SCALE "
            f"({config.IMAGE_MIN_SCALE}) is not; export with IMAGE_MIN_SCALE 0"
        )
    bad = [n for n in class_names if "\n" in n or "\r" in n]
    if bad:
        raise ConfigError(f"class names for labels.txt cannot hold a line break: {bad}")
    detector = tflite_detector(model)
    detect = detect_function(detector.keras_model, config, min_confidence, mask_threshold)
    # through a SavedModel, as the serving export writes it: the converter then freezes the
    # tracked weights into the flatbuffer
    archive = keras.export.ExportArchive()
    archive.track(detector.keras_model)
    spec = tf.TensorSpec([None, None, 3], tf.uint8, name=TFLITE_INPUT)
    archive.add_endpoint("serve", detect, input_signature=[spec])
    with tempfile.TemporaryDirectory(prefix="fashion-mrcnn-tflite-") as staging:
        archive.write_out(staging, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(staging)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if weights == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        try:
            blob = converter.convert()
        except Exception as e:  # the converter's own errors name the ops it has no kernel for
            raise WeightsError(f"TFLite conversion failed: {type(e).__name__}: {e}") from e
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model_path, labels_path = folder / TFLITE_FILE, folder / LABELS_FILE
    model_path.write_bytes(blob)
    labels_path.write_text("".join(f"{n}\n" for n in class_names), encoding="utf-8")
    return model_path, labels_path
