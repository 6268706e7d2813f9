"""DetectionLayer against detections_np: class choice, refinement, window clip, per-class NMS."""

import numpy as np
import pytest

from fashion_mrcnn.layers import DetectionLayer
from fashion_mrcnn.ops.image import compose_image_meta
from tests.layer_helper import check_layer
from tests.reference.detection import detections_np

STD = [0.1, 0.1, 0.2, 0.2]
C = 6


def make_inputs(seed, batch=2, n=80):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, (batch, 5, 2))[:, rng.integers(0, 5, n)]
    size = rng.uniform(0.05, 0.4, (batch, n, 2))
    rois = np.clip(np.concatenate([centres - size / 2, centres + size / 2], -1), 0, 1)
    rois[:, -6:] = 0  # padding ROIs must never become detections
    logits = rng.normal(0, 2, (batch, n, C))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    bbox = rng.normal(0, 1, (batch, n, C, 4))
    metas = np.stack(
        [
            compose_image_meta(i, (300, 400, 3), (512, 512, 3), (64, 0, 448, 512), 1.28, [1] * C)
            for i in range(batch)
        ]
    )
    return [x.astype(np.float32) for x in (rois, probs, bbox, metas)]


def test_detection_layer_matches_numpy():
    inputs = make_inputs(0)
    kwargs = dict(bbox_std_dev=STD, min_confidence=0.3, max_instances=20, nms_threshold=0.3)
    (out,) = check_layer(DetectionLayer, kwargs, inputs, [(2, 20, 6)])
    expected = detections_np(*inputs, STD, 0.3, 20, 0.3)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    found = out[..., 4] > 0
    assert found.sum() > 5
    # boxes inside the window (64..448 of 512 px rows -> normalised), classes real, scores sorted
    y_lo, y_hi = 64 / 511, 447 / 511
    assert (out[found][:, [0, 2]] >= y_lo - 1e-6).all() and (
        out[found][:, [0, 2]] <= y_hi + 1e-6
    ).all()
    assert (out[found][:, 5] >= 0.3).all()
    for b in range(2):
        s = out[b, found[b], 5]
        assert (np.diff(s) <= 0).all()
        assert not out[b, found[b].sum() :].any()
    assert DetectionLayer(**kwargs).name == "mrcnn_detection"


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_nothing_confident_gives_all_zeros(fixed_shapes):
    rois, probs, bbox, meta = make_inputs(1, batch=1)
    probs[:] = 0
    probs[..., 0] = 1.0  # everything background
    layer = DetectionLayer(STD, 0.5, 10, 0.3, fixed_shapes=fixed_shapes)
    out = np.asarray(layer([rois, probs, bbox, meta]))
    assert out.shape == (1, 10, 6) and not out.any()


def test_return_rows_names_the_roi_of_each_detection():
    inputs = make_inputs(2)
    kwargs = dict(
        bbox_std_dev=STD, min_confidence=0.3, max_instances=20, nms_threshold=0.3, return_rows=True
    )
    out, rows = check_layer(DetectionLayer, kwargs, inputs, [(2, 20, 6), (2, 20)])
    np.testing.assert_allclose(out, detections_np(*inputs, STD, 0.3, 20, 0.3), atol=1e-5)
    rois, probs = inputs[0], inputs[1]
    found = out[..., 4] > 0
    assert found.sum() > 5 and rows.dtype == np.int32
    np.testing.assert_array_equal(rows[~found], -1)
    for b, d in zip(*np.nonzero(found)):
        r = rows[b, d]
        cls = int(out[b, d, 4])
        assert np.argmax(probs[b, r]) == cls and probs[b, r, cls] == out[b, d, 5]
        assert np.any(rois[b, r] != 0)


def test_gather_rows_takes_each_detections_roi():
    from fashion_mrcnn.model.graph import GatherRows

    x = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
    rows = np.array([[4, 0, -1], [2, -1, -1]], np.int32)
    out = np.asarray(GatherRows()(x, rows))
    want = np.zeros((2, 3, 3), np.float32)
    want[0, 0], want[0, 1], want[1, 0] = x[0, 4], x[0, 0], x[1, 2]
    np.testing.assert_array_equal(out, want)


def test_xla_compiled_layer_matches_numpy():
    """With ``fixed_shapes`` under ``jit_compile=True`` (Config.JIT_COMPILE) the same
    detections and rows: XLA rejects any dynamic-size tensor left in the layer or its NMS."""
    import tensorflow as tf

    inputs = make_inputs(0)
    layer = DetectionLayer(STD, 0.3, 20, 0.3, return_rows=True, fixed_shapes=True)
    out, rows = tf.function(lambda *a: layer(list(a)), jit_compile=True)(*inputs)
    np.testing.assert_allclose(out, detections_np(*inputs, STD, 0.3, 20, 0.3), atol=1e-5)
    eager_rows = DetectionLayer(STD, 0.3, 20, 0.3, return_rows=True)(inputs)[1]
    np.testing.assert_array_equal(rows, eager_rows)
    assert (np.asarray(out)[..., 4] > 0).sum() > 5
