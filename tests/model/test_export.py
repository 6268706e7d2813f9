"""SavedModel exports: the molded-tensor one reloads with the Keras model's detections; the
serving one (encoded image bytes in) gives ``MaskRCNN.detect``'s instances in a process that
imports only TensorFlow and numpy."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from fashion_mrcnn.model.export import (
    ATTRIBUTE_NAMES_OUTPUT,
    ATTRIBUTE_OUTPUTS,
    SERVING_OUTPUTS,
    attribute_outputs_tf,
    check_export,
    export_serving_model,
    load_saved_model,
    serving_function,
)
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from tests.model.engine_helpers import attribute_scenes, smoke_config, synthetic_scenes


@pytest.mark.slow  # ~40 s: traces and exports the graph, reloads it (.ci/run slow step)
def test_export_reload_same_detections(tmp_path):
    cfg = smoke_config(IMAGES_PER_GPU=1, DETECTION_MIN_CONFIDENCE=0.0)
    model = MaskRCNN("inference", cfg, tmp_path)
    images = [s[0] for s in synthetic_scenes(2, seed=9)]
    molded, metas, _ = model.mold_inputs(images)
    diff = check_export(model, tmp_path / "saved", molded, metas)
    assert diff <= 1e-4
    serve = load_saved_model(tmp_path / "saved")
    out = serve(molded, metas)
    assert out["detections"].shape == (2, cfg.DETECTION_MAX_INSTANCES, 6)
    assert out["mrcnn_mask"].shape[:2] == (2, cfg.DETECTION_MAX_INSTANCES)


# ---------------------------------------------------------------------------- serving export
# The SavedModel is loaded by a fresh interpreter that imports only TensorFlow and numpy: it
# serves without this package. argv: SavedModel dir, output .npz, then the encoded image files.
SERVE_SCRIPT = r"""
import sys

import numpy as np
import tensorflow as tf

assert "fashion_mrcnn" not in sys.modules
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
arrays = {}
for i, path in enumerate(sys.argv[3:]):
    with open(path, "rb") as f:
        out = serve(image_bytes=tf.constant([f.read()]))
    for key, value in out.items():
        value = value.numpy()
        arrays[f"{i}_{key}"] = value.astype(str) if value.dtype == object else value
files = []
for path in sys.argv[3:]:
    with open(path, "rb") as f:
        files.append(f.read())
for key, value in serve(image_bytes=tf.constant(files)).items():  # all in one request
    value = value.numpy()
    arrays[f"all_{key}"] = value.astype(str) if value.dtype == object else value
assert "fashion_mrcnn" not in sys.modules, "serving imported fashion_mrcnn"
np.savez(sys.argv[2], **arrays)
print("served", len(sys.argv) - 3)
"""

# Tolerances of the served outputs against MaskRCNN.detect on the same pixels (PNG): scores 1e-5,
# boxes 2 px, mask IoU 0.9. The first image needs no resize, the second is shrunk (area
# resampling, where tf.image.resize gives cv2's pixels). An enlarged image is not compared here:
# the graph's bilinear resize differs from cv2's by one grey level in up to 11 % of the pixels
# (tests/ops/test_transform_tf.py), enough for random weights, whose scores are nearly tied, to
# keep other boxes.
SCORE_ATOL, BOX_ATOL, MASK_IOU = 1e-5, 2, 0.9
# Several images in one request run the model on a batch, whose float sums differ from a batch of
# one (the kernels' blocking): scores up to 2.6e-5 apart were measured, boxes equal.
BATCH_SCORE_ATOL = 1e-4


def _serving_images():
    import cv2

    scenes = [s[0] for s in synthetic_scenes(2, seed=4)]
    shrunk = cv2.resize(scenes[1], (150, 200), interpolation=cv2.INTER_LINEAR)
    return [scenes[0][:, 16:112], shrunk]  # 128 x 96 (scale 1), 200 x 150 (scale 0.64)


@pytest.mark.slow  # about 30 s on 2 cores: the export traces the graph, the child starts TF
def test_serving_export_matches_detect_in_a_process_without_the_package(tmp_path):
    keras.utils.set_random_seed(3)
    cfg = smoke_config(IMAGES_PER_GPU=1, DETECTION_MIN_CONFIDENCE=0.0, DETECTION_MAX_INSTANCES=20)
    model = MaskRCNN("inference", cfg, tmp_path)
    names = ["BG"] + [f"class {i}" for i in range(1, cfg.NUM_CLASSES)]
    # 0.53 lies in a gap of both images' scores (> 0.002 either side) and keeps 9 and 7
    export_serving_model(model, tmp_path / "served", names, min_confidence=0.53)
    images = _serving_images()
    files = []
    for i, image in enumerate(images):
        files.append(tmp_path / f"image{i}.png")
        Image.fromarray(image).save(files[-1])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, str(tmp_path / "served"), str(tmp_path / "out.npz")]
        + [str(f) for f in files],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    served = np.load(tmp_path / "out.npz")
    want = model.detect(images, min_confidence=0.53)
    for i, (image, w) in enumerate(zip(images, want, strict=True)):
        got = {key: served[f"{i}_{key}"][0] for key in SERVING_OUTPUTS}
        assert sorted(k[2:] for k in served.files if k.startswith(f"{i}_")) == sorted(
            SERVING_OUTPUTS
        ), "a model without the attribute head has the original outputs only"
        assert all(served[f"{i}_{key}"].shape[0] == 1 for key in SERVING_OUTPUTS)
        _assert_same_instances(got, w, image.shape, names, f"image {i}")
    # the two images (different sizes and counts) in one request: each image's rows and mask
    # corner are its single request's instances, the rest is padding
    counts = [len(w["class_ids"]) for w in want]
    assert counts[0] != counts[1], "pick images whose counts differ"
    assert list(served["all_num_detections"]) == counts
    h, w = (max(image.shape[i] for image in images) for i in (0, 1))
    assert served["all_masks"].shape == (2, max(counts), h, w)
    for i, (image, w) in enumerate(zip(images, want, strict=True)):
        n, (h, wd) = counts[i], image.shape[:2]
        got = {key: served[f"all_{key}"][i][:n] for key in SERVING_OUTPUTS[:-1]}
        got["masks"] = got["masks"][:, :h, :wd]
        got["num_detections"] = served["all_num_detections"][i]
        _assert_same_instances(got, w, image.shape, names, f"image {i} of two", BATCH_SCORE_ATOL)
        for key in ("boxes", "class_ids", "scores", "masks"):
            assert not served[f"all_{key}"][i][n:].any(), (i, key)
        assert set(served["all_class_names"][i][n:]) <= {"BG"}
        assert (
            not served["all_masks"][i][:, h:].any() and not served["all_masks"][i][:, :, wd:].any()
        )


def _assert_same_instances(got, want, shape, names, what, score_atol=SCORE_ATOL):
    """The served instances of one image (``got``: SERVING_OUTPUTS without the batch axis) equal
    ``detect``'s (``want``) within the tolerances above; returns, for each detected instance,
    the index of its served twin."""
    n = len(want["class_ids"])
    assert n > 0, "pick settings with detections"
    assert int(got["num_detections"]) == n
    assert list(got["class_names"]) == [names[c] for c in got["class_ids"]]
    masks = got["masks"]
    assert masks.dtype == np.uint8 and masks.shape == (n,) + tuple(shape[:2])
    # random weights score many boxes alike, so equal scores may come in another order:
    # each detected instance is matched to a served one of its class, score and box
    unused, twins = set(range(n)), []
    for k in range(n):
        match = [
            j
            for j in sorted(unused)
            if got["class_ids"][j] == want["class_ids"][k]
            and abs(got["scores"][j] - want["scores"][k]) <= score_atol
            and np.abs(got["boxes"][j] - want["rois"][k]).max() <= BOX_ATOL
        ]
        assert match, f"{what}: detection {k} has no served twin"
        j = match[0]
        unused.discard(j)
        twins.append(j)
        a, b = masks[j].astype(bool), want["masks"][:, :, k]
        union = (a | b).sum()
        assert union == 0 or (a & b).sum() / union >= MASK_IOU, (what, k)
    return twins


@pytest.mark.slow  # about 10 s: traces the serving graph of a model with the attribute head
def test_serving_function_attribute_outputs_match_detect(tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    vocabulary = [3, 10, 11, 40, 41]
    cfg = smoke_config(
        IMAGES_PER_GPU=1,
        DETECTION_MIN_CONFIDENCE=0.0,
        DETECTION_MAX_INSTANCES=20,
        NUM_ATTRIBUTES=len(vocabulary),
        ATTRIBUTE_IDS=vocabulary,
        ATTRIBUTE_CLASS_IDS=[1, 3, 5, 7],
        ATTRIBUTE_NAMES=["mini", "sleeveless", "v-neck", "dot", "stripe"],
    )
    model = MaskRCNN("inference", cfg, tmp_path)
    names = ["BG"] + [f"class {i}" for i in range(1, cfg.NUM_CLASSES)]
    serve = tf.function(
        serving_function(model.keras_model, cfg, names, 0.0, cfg.MASK_THRESHOLD),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one image per request"):
        serve(tf.constant([], tf.string))
    image = attribute_scenes(1, seed=2)[0][0]  # 128 x 128: molded without a resize
    Image.fromarray(image).save(tmp_path / "scene.png")
    out = serve(tf.constant([(tmp_path / "scene.png").read_bytes()]))
    assert set(out) == set(SERVING_OUTPUTS) | set(ATTRIBUTE_OUTPUTS) | {ATTRIBUTE_NAMES_OUTPUT}
    got = {k: v.numpy()[0] for k, v in out.items()}
    got["class_names"] = got["class_names"].astype(str)
    assert got["attribute_names"].astype(str).tolist() == cfg.ATTRIBUTE_NAMES
    want = model.detect([image], min_confidence=0.0)[0]
    twins = _assert_same_instances(got, want, image.shape, names, "attribute scene")
    n = len(twins)
    assert got["attribute_probs"].dtype == np.float32
    assert got["attribute_probs"].shape == got["attribute_hits"].shape == (n, len(vocabulary))
    assert got["attribute_vocabulary"].dtype == np.int32
    assert list(got["attribute_vocabulary"]) == vocabulary
    listed = 0
    for k, j in enumerate(twins):
        np.testing.assert_allclose(
            got["attribute_probs"][j], want["attribute_probs"][k], atol=SCORE_ATOL
        )
        hits = [vocabulary[c] for c in np.flatnonzero(got["attribute_hits"][j])]
        assert hits == want["attribute_ids"][k], k
        listed += len(hits)
    # both sides of the rule: listed attributes, and a class without any whose probabilities
    # pass the threshold
    other = ~np.isin(want["class_ids"], cfg.ATTRIBUTE_CLASS_IDS)
    high = want["attribute_probs"][other] >= cfg.DETECTION_ATTRIBUTE_THRESHOLD
    assert listed > 0 and high.any(), "pick settings that test both"


def test_attribute_outputs_are_detects_attributes_with_the_names_when_known():
    from fashion_mrcnn.config import Config
    from fashion_mrcnn.data.attributes import detection_attributes

    cfg = Config(NUM_CLASSES=4, NUM_ATTRIBUTES=3, ATTRIBUTE_IDS=[8, 3, 61],
                 ATTRIBUTE_CLASS_IDS=[1, 3], DETECTION_ATTRIBUTE_THRESHOLD=0.4)  # fmt: skip
    probs = np.random.default_rng(0).random((2, 4, 3)).astype(np.float32)  # [B, N, A]
    class_ids = np.array([[1, 2, 3, 0], [3, 1, 0, 0]], np.int32)  # 0: padding rows
    out = {k: v.numpy() for k, v in attribute_outputs_tf(probs, class_ids, cfg).items()}
    assert set(out) == set(ATTRIBUTE_OUTPUTS)  # names unknown: no names output
    np.testing.assert_array_equal(out["attribute_probs"], probs)
    np.testing.assert_array_equal(out["attribute_vocabulary"], [[8, 3, 61]] * 2)
    assert out["attribute_vocabulary"].dtype == np.int32 and out["attribute_hits"].dtype == np.uint8
    for b in range(2):  # the numpy twin: detect's attribute ids, none on a padding row
        real = class_ids[b] > 0
        want = detection_attributes(probs[b][real], class_ids[b][real], cfg)["attribute_ids"]
        got = [
            sorted(cfg.attribute_ids()[k] for k in np.flatnonzero(row))
            for row in out["attribute_hits"][b]
        ]
        assert got[: real.sum()] == want and not out["attribute_hits"][b][~real].any()
    assert out["attribute_hits"].any(), "pick probabilities with hits"
    # every class carries attributes (ATTRIBUTE_CLASS_IDS empty): still none on a padding row
    named = cfg.replace(ATTRIBUTE_NAMES=["maxi", "mini", "plain"], ATTRIBUTE_CLASS_IDS=[])
    out = attribute_outputs_tf(probs, class_ids, named)
    assert set(out) == set(ATTRIBUTE_OUTPUTS) | {ATTRIBUTE_NAMES_OUTPUT}
    hits = out["attribute_hits"].numpy()
    assert hits[class_ids > 0].any() and not hits[class_ids == 0].any()
    assert out["attribute_names"].numpy().astype(str).tolist() == [["maxi", "mini", "plain"]] * 2
