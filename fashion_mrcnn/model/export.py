"""Export the inference graph as a TensorFlow SavedModel (serving without this package's code).

The SavedModel's default endpoint ``serve`` takes ``input_image`` float32 [B, H, W, 3] (molded:
RGB minus MEAN_PIXEL, resized as ``MaskRCNN.mold_inputs`` does) and ``input_image_meta`` float32
[B, IMAGE_META_SIZE] and returns the inference graph's output dict (``detections``, ``mrcnn_mask``,
...). Unmolding stays in Python (``MaskRCNN.unmold_detections``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_mrcnn.errors import ConfigError


def export_saved_model(model, path: str | Path) -> Path:
    """Write ``model`` (a ``MaskRCNN`` in inference mode, or its ``keras_model``) to ``path``."""
    import tensorflow as tf

    keras_model = getattr(model, "keras_model", model)
    if getattr(model, "mode", "inference") != "inference":
        raise ConfigError("export_saved_model needs an inference-mode model")
    shapes = {t.name.split(":")[0]: t.shape for t in keras_model.inputs}
    image_shape = tuple(shapes["input_image"][1:])
    meta_size = shapes["input_image_meta"][-1]
    signature = [
        {
            "input_image": tf.TensorSpec((None,) + image_shape, tf.float32, name="input_image"),
            "input_image_meta": tf.TensorSpec(
                (None, meta_size), tf.float32, name="input_image_meta"
            ),
        }
    ]
    path = Path(path)
    keras_model.export(str(path), format="tf_saved_model", input_signature=signature, verbose=False)
    return path


def load_saved_model(path: str | Path):
    """Load an exported model; returns a callable ``f(input_image, input_image_meta) -> dict`` of
    numpy arrays."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))

    def serve(input_image, input_image_meta):
        out = loaded.serve(
            {
                "input_image": tf.constant(input_image, tf.float32),
                "input_image_meta": tf.constant(input_image_meta, tf.float32),
            }
        )
        return {k: np.asarray(v) for k, v in out.items()}

    serve.loaded = loaded
    return serve


def check_export(model, path: str | Path, molded_images, image_metas, atol: float = 1e-4) -> float:
    """Export ``model``, reload it and compare detections on the given molded inputs.

    Returns the largest absolute difference of ``detections``; raises AssertionError above
    ``atol``.
    """
    export_saved_model(model, path)
    serve = load_saved_model(path)
    got = serve(molded_images, image_metas)["detections"]
    want = np.asarray(
        getattr(model, "keras_model", model).predict_on_batch(
            {"input_image": molded_images, "input_image_meta": image_metas}
        )["detections"]
    )
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    if diff > atol:
        raise AssertionError(f"reloaded SavedModel differs from the Keras model by {diff} > {atol}")
    return diff
