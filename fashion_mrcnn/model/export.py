"""Export the model as a TensorFlow SavedModel that serves without this package's code.

Two exports:

- :func:`export_serving_model` (``fashion-mrcnn export``): the serving signature takes the
  encoded bytes of one or more images and does everything ``MaskRCNN.detect`` does in the graph:
  decode, mold (``ops.transform_tf``), the model, unmold (boxes in original pixels, the
  min-confidence filter, masks pasted at the original size, the attribute head's outputs). Its
  inputs and outputs: :data:`SERVING_INPUT`, :data:`SERVING_OUTPUTS`, :data:`ATTRIBUTE_OUTPUTS`
  (:data:`ATTRIBUTE_NAMES_OUTPUT` too when the config names the attributes) and the README's
  "Serving the exported model".
- :func:`export_saved_model`: the raw inference graph. Its endpoint ``serve`` takes
  ``input_image`` float32 [B, H, W, 3] (molded: RGB minus MEAN_PIXEL, resized as
  ``MaskRCNN.mold_inputs`` does) and ``input_image_meta`` float32 [B, IMAGE_META_SIZE] and returns
  the inference graph's output dict (``detections``, ``mrcnn_mask``, ...); unmolding stays with
  the caller (``MaskRCNN.unmold_detections``). For callers that batch molded images themselves.
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


# ---------------------------------------------------------------------------- serving export
#: The serving signature's one input: string [B] (B >= 1 images per request), the encoded
#: bytes of each image (JPEG, PNG, BMP or GIF's first frame; any size, sizes may differ; grey and
#: RGBA are read as RGB).
SERVING_INPUT = "image_bytes"

#: The serving signature's outputs, each with a leading axis of the B images: boxes int32
#: [B, N, (y1, x1, y2, x2)] pixels of the original (y2/x2 exclusive); class_ids int32 [B, N];
#: class_names string [B, N]; scores float32 [B, N]; masks uint8 [B, N, H, W] (0 / 1);
#: num_detections int32 [B]. The padding rule (``ops.transform_tf.unmold_batch_tf``): N is the
#: largest instance count of the request and H x W the largest original height and width; image
#: b's instances are its first num_detections[b] rows (the rows after them: class 0, named
#: class_names[0] ("BG"), score 0, box 0, empty mask), its masks the top-left H_b x W_b corner
#: of its original size. With B = 1 nothing is padded: N = num_detections[0], H x W the image's.
SERVING_OUTPUTS = ("boxes", "class_ids", "class_names", "scores", "masks", "num_detections")

#: The outputs added by a model with the attribute head (Config.NUM_ATTRIBUTES A > 0; without
#: it the signature has :data:`SERVING_OUTPUTS` only), the same instance rows as above (zeros on
#: padding rows): attribute_probs float32 [B, N, A], the head's probability of each output
#: (``detect``'s ``attribute_probs``, for every class); attribute_hits uint8 [B, N, A], 1 where
#: ``detect``'s ``attribute_ids`` of the instance lists that column's attribute (probability >=
#: DETECTION_ATTRIBUTE_THRESHOLD, fixed in the graph, and the class in ATTRIBUTE_CLASS_IDS when
#: that is given); attribute_vocabulary int32 [B, A], the source attribute id of each column
#: (``Config.attribute_ids()``, the same row for every image: a leading axis like every output
#: so TF Serving's row format accepts it).
ATTRIBUTE_OUTPUTS = ("attribute_probs", "attribute_hits", "attribute_vocabulary")

#: Added beside attribute_vocabulary when the config names the attributes
#: (``Config.ATTRIBUTE_NAMES``, from the training data): string [B, A], the name of each column
#: (the same row for every image). Without names the signature is the one above.
ATTRIBUTE_NAMES_OUTPUT = "attribute_names"


def attribute_outputs_tf(probs, class_ids, config) -> dict:
    """The attribute outputs of a batch (:data:`ATTRIBUTE_OUTPUTS`, and
    :data:`ATTRIBUTE_NAMES_OUTPUT` when ``config.ATTRIBUTE_NAMES`` is given) from the unmolded
    head probabilities ``probs`` float [B, N, A] and ``class_ids`` int [B, N]."""
    import tensorflow as tf

    probs = tf.cast(probs, tf.float32)
    rows = [tf.shape(probs)[0], 1]  # one copy of the vocabulary per image
    out = {
        "attribute_probs": probs,
        "attribute_hits": attribute_hits_tf(probs, class_ids, config),
        "attribute_vocabulary": tf.tile(tf.constant([config.attribute_ids()], tf.int32), rows),
    }
    if config.ATTRIBUTE_NAMES:
        names = tf.constant([[str(v) for v in config.ATTRIBUTE_NAMES]])
        out[ATTRIBUTE_NAMES_OUTPUT] = tf.tile(names, rows)
    return out


def attribute_hits_tf(probs, class_ids, config):
    """uint8 [..., N, A]: the multi-hot form of ``data.attributes.detection_attributes``'s
    ``attribute_ids`` (its numpy twin): column k of row n is 1 when ``probs[n, k]`` >=
    DETECTION_ATTRIBUTE_THRESHOLD and class ``class_ids[n]`` carries attributes (is in
    ATTRIBUTE_CLASS_IDS, or that list is empty); never on a padding row (class 0).
    probs: float [..., N, A]; class_ids: int [..., N]."""
    import tensorflow as tf

    class_ids = tf.cast(class_ids, tf.int32)
    hits = tf.cast(probs, tf.float32) >= float(config.DETECTION_ATTRIBUTE_THRESHOLD)
    carries = class_ids > 0
    carriers = [int(c) for c in config.ATTRIBUTE_CLASS_IDS]
    if carriers:
        carries &= tf.reduce_any(tf.equal(class_ids[..., None], carriers), axis=-1)
    hits = hits & carries[..., None]
    return tf.cast(hits, tf.uint8)


def decode_image_tf(data):
    """Encoded image bytes (string scalar) -> uint8 [H, W, 3] RGB.

    JPEG is decoded with the accurate integer IDCT (libjpeg's default, which PIL and so
    ``data.images`` use); PNG, BMP and GIF (first frame) through ``tf.io.decode_image``. Unlike
    ``data.images.load_rgb``, the EXIF orientation is not applied: send upright pixels.
    """
    import tensorflow as tf

    image = tf.cond(
        tf.io.is_jpeg(data),
        lambda: tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(data, channels=3, expand_animations=False),
    )
    return tf.ensure_shape(image, (None, None, 3))


def serving_function(keras_model, config, class_names, min_confidence, mask_threshold):
    """The serving graph as a Python function ``f(image_bytes string [B]) -> dict`` of
    :data:`SERVING_OUTPUTS` (and :func:`attribute_outputs_tf`'s with the attribute head), for
    ``tf.function`` / ``ExportArchive``: decode and mold each image (square mode,
    ``ops.transform_tf``) with its image meta, ``keras_model`` (the inference graph of
    ``config``) on the B molded images at once, unmold at ``min_confidence`` /
    ``mask_threshold`` (``ops.transform_tf.unmold_batch_tf``: its padding rule). An empty
    request fails with an InvalidArgumentError saying so."""
    import tensorflow as tf

    from fashion_mrcnn.ops.transform_tf import (
        compose_image_meta_tf,
        mold_square_tf,
        unmold_batch_tf,
    )

    names = tf.constant([str(n) for n in class_names])
    side = int(config.IMAGE_MAX_DIM)
    molded_shape = tf.constant([side, side, 3], tf.int32)
    num_classes = int(config.NUM_CLASSES)

    def mold_one(data):  # string scalar -> molded [S, S, 3], meta [M], window [4], shape [3]
        image = decode_image_tf(data)
        original_shape = tf.shape(image)
        molded, window, scale = mold_square_tf(
            image,
            min_dim=config.IMAGE_MIN_DIM,
            max_dim=side,
            min_scale=config.IMAGE_MIN_SCALE,
            mean_pixel=[float(v) for v in config.MEAN_PIXEL],
        )
        meta = compose_image_meta_tf(original_shape, molded_shape, window, scale, num_classes)
        return molded, meta, window, original_shape

    spec = (
        tf.TensorSpec([side, side, 3], tf.float32),
        tf.TensorSpec([int(config.IMAGE_META_SIZE)], tf.float32),
        tf.TensorSpec([4], tf.int32),
        tf.TensorSpec([3], tf.int32),
    )

    def serve(image_bytes):
        image_bytes = tf.reshape(image_bytes, [-1])
        tf.debugging.assert_positive(
            tf.size(image_bytes), message="this SavedModel needs at least one image per request"
        )
        molded, metas, windows, shapes = tf.map_fn(mold_one, image_bytes, fn_output_signature=spec)
        out = keras_model({"input_image": molded, "input_image_meta": metas}, training=False)
        extra = {"attribute_probs": out["mrcnn_attr"]} if "mrcnn_attr" in out else None
        found = unmold_batch_tf(
            out["detections"],
            out["mrcnn_mask"],
            shapes,
            molded_shape,
            windows,
            float(min_confidence),
            float(mask_threshold),
            per_detection=extra,
        )
        result = {key: found[key] for key in ("boxes", "class_ids", "scores", "masks")}
        result["class_names"] = tf.gather(names, found["class_ids"])
        result["num_detections"] = found["num_detections"]
        if extra:
            result.update(
                attribute_outputs_tf(found["attribute_probs"], found["class_ids"], config)
            )
        return result

    return serve


def export_arguments(model, class_names, min_confidence, mask_threshold, export: str):
    """The checks both exports that mold in the graph make, and their arguments resolved:
    ``(class names str [NUM_CLASSES], min_confidence, mask_threshold)``, the thresholds
    defaulting to DETECTION_MIN_CONFIDENCE / MASK_THRESHOLD. ConfigError (naming ``export``)
    unless ``model`` is an inference-mode ``MaskRCNN`` in IMAGE_RESIZE_MODE "square" with one
    name per class."""
    config = model.config
    if getattr(model, "mode", None) != "inference":
        raise ConfigError(f"{export} needs an inference-mode MaskRCNN")
    if config.IMAGE_RESIZE_MODE != "square":
        raise ConfigError(
            f"{export} molds in IMAGE_RESIZE_MODE 'square' only (every image then fits the "
            f"graph's fixed input), got {config.IMAGE_RESIZE_MODE!r}"
        )
    class_names = [str(n) for n in class_names]
    if len(class_names) != int(config.NUM_CLASSES):
        raise ConfigError(
            f"{len(class_names)} class names for a model of NUM_CLASSES={config.NUM_CLASSES} "
            f"(BG first): {class_names}"
        )
    return (
        class_names,
        config.DETECTION_MIN_CONFIDENCE if min_confidence is None else min_confidence,
        config.MASK_THRESHOLD if mask_threshold is None else mask_threshold,
    )


def export_serving_model(
    model, path: str | Path, class_names, min_confidence=None, mask_threshold=None
) -> Path:
    """Write a SavedModel whose default signature (``serving_default``, also the endpoint
    ``serve``) takes :data:`SERVING_INPUT` and returns :data:`SERVING_OUTPUTS` (and
    :data:`ATTRIBUTE_OUTPUTS` when ``model.config.NUM_ATTRIBUTES`` > 0, with
    :data:`ATTRIBUTE_NAMES_OUTPUT` when its ATTRIBUTE_NAMES are known).

    model: an inference-mode ``MaskRCNN`` whose IMAGE_RESIZE_MODE is "square"; class_names:
    NUM_CLASSES names, index = class id ("BG" first); ``min_confidence`` / ``mask_threshold``
    default to DETECTION_MIN_CONFIDENCE / MASK_THRESHOLD and are fixed in the graph (scores
    below the graph's own floor, ``graph.DETECTION_SCORE_FLOOR``, never come out). ConfigError
    for another mode or a wrong number of names.
    """
    import keras
    import tensorflow as tf

    class_names, min_confidence, mask_threshold = export_arguments(
        model, class_names, min_confidence, mask_threshold, "export_serving_model"
    )
    serve = serving_function(
        model.keras_model, model.config, class_names, min_confidence, mask_threshold
    )
    archive = keras.export.ExportArchive()
    archive.track(model.keras_model)
    archive.add_endpoint(
        "serve", serve, input_signature=[tf.TensorSpec([None], tf.string, name=SERVING_INPUT)]
    )
    path = Path(path)
    archive.write_out(str(path), verbose=False)
    return path
