"""DetectionTargetLayer against detection_targets_np (deterministic sampling) and on
invariants with random sampling; zero-instance and crowd images."""

import numpy as np
import pytest

from fashion_mrcnn.layers import DetectionTargetLayer
from fashion_mrcnn.ops.boxes import apply_deltas_np, box_iou_np
from tests.layer_helper import check_layer
from tests.reference.detection_target import detection_targets_np

STD = [0.1, 0.1, 0.2, 0.2]
T, G, N = 32, 6, 60
KW = dict(
    train_rois_per_image=T,
    roi_positive_ratio=0.33,
    mask_shape=[14, 14],
    bbox_std_dev=STD,
    use_mini_mask=True,
)


def make_inputs(seed, batch=2):
    rng = np.random.default_rng(seed)
    gt_boxes = np.zeros((batch, G, 4), np.float32)
    gt_ids = np.zeros((batch, G), np.int32)
    masks = np.zeros((batch, 28, 28, G), np.float32)
    valid = np.zeros((batch, G), np.float32)
    proposals = np.zeros((batch, N, 4), np.float32)
    for b in range(batch):
        g = 4 if b == 0 else 3
        size = rng.uniform(0.15, 0.5, (g, 2))
        y1x1 = rng.uniform(0, 1, (g, 2)) * (1 - size)
        gt_boxes[b, :g] = np.concatenate([y1x1, y1x1 + size], 1)
        gt_ids[b, :g] = rng.integers(1, 5, g)
        masks[b, :, :, :g] = rng.random((28, 28, g)) > 0.4
        valid[b, :g] = 1.0
        valid[b, 0] = 0.0  # a box-only instance
        # proposals: jittered GT boxes (positives) and random boxes (mostly negatives)
        jit = gt_boxes[b, rng.integers(0, g, 20)] + rng.normal(0, 0.02, (20, 4))
        rand_size = rng.uniform(0.05, 0.4, (N - 25, 2))
        rand_y1x1 = rng.uniform(0, 1, (N - 25, 2)) * (1 - rand_size)
        rand = np.concatenate([rand_y1x1, rand_y1x1 + rand_size], 1)
        proposals[b, : N - 5] = np.clip(np.concatenate([jit, rand]), 0, 1)
    if batch > 1:
        gt_ids[1, 3] = -2  # a crowd box in image 1
        gt_boxes[1, 3] = [0.0, 0.0, 0.3, 0.3]
    return [proposals, gt_ids, gt_boxes, masks, valid]


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_matches_numpy_reference_deterministic(fixed_shapes):
    inputs = make_inputs(0)
    shapes = [(2, T, 4), (2, T), (2, T, 4), (2, T, 14, 14), (2, T)]
    outs = check_layer(
        DetectionTargetLayer,
        {**KW, "deterministic": True, "fixed_shapes": fixed_shapes},
        inputs,
        shapes,
    )
    for b in range(2):
        expected = detection_targets_np(
            *(x[b] for x in inputs), T, 0.33, (14, 14), STD, use_mini_mask=True
        )
        for got, want in zip(outs, expected):
            assert got[b].shape == want.shape
        np.testing.assert_allclose(outs[0][b], expected[0], atol=1e-6)
        np.testing.assert_array_equal(outs[1][b], expected[1])
        np.testing.assert_allclose(outs[2][b], expected[2], atol=1e-4)
        assert np.mean(np.abs(outs[3][b] - expected[3])) < 1e-3
        np.testing.assert_array_equal(outs[4][b], expected[4])
    assert outs[1].dtype == np.int32


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_random_sampling_invariants(fixed_shapes):
    inputs = make_inputs(1)
    rois, cls, deltas, masks, valid = (
        np.asarray(o) for o in DetectionTargetLayer(**KW, fixed_shapes=fixed_shapes)(inputs)
    )
    for b in range(2):
        pos = cls[b] > 0
        p = int(pos.sum())
        assert 0 < p <= int(T * 0.33) and pos[:p].all()  # positives first
        real = inputs[1][b] > 0
        gt = inputs[2][b][real]
        iou = box_iou_np(rois[b], gt).max(axis=1)
        assert (iou[:p] >= 0.5).all()
        filled = np.any(rois[b] != 0, axis=1)
        assert (iou[p:][filled[p:]] < 0.5).all()
        # deltas decode back to the matched GT box
        decoded = apply_deltas_np(rois[b, :p], deltas[b, :p] * STD)
        assert (box_iou_np(decoded, gt).max(axis=1) > 0.999).all()
        assert not deltas[b, p:].any() and not masks[b, p:].any() and not valid[b, p:].any()
        assert set(np.unique(masks[b])) <= {0.0, 1.0}
    # image 1's crowd box: no negative ROI touches it
    crowd = inputs[2][1, 3:4]
    negatives = rois[1][(cls[1] == 0) & np.any(rois[1] != 0, axis=1)]
    assert (box_iou_np(negatives, crowd) < 0.001).all()


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_zero_instance_image(fixed_shapes):
    inputs = make_inputs(2, batch=1)
    inputs[1][:] = 0
    inputs[4][:] = 0
    rois, cls, deltas, masks, valid = (
        np.asarray(o) for o in DetectionTargetLayer(**KW, fixed_shapes=fixed_shapes)(inputs)
    )
    assert not cls.any() and not deltas.any() and not masks.any() and not valid.any()
    assert np.any(rois != 0, axis=-1).sum() == T  # negatives fill every slot
    assert np.isfinite(rois).all()


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_box_only_instance_marks_mask_invalid(fixed_shapes):
    inputs = make_inputs(3, batch=1)
    layer = DetectionTargetLayer(**{**KW, "deterministic": True, "fixed_shapes": fixed_shapes})
    rois, cls, _, _, valid = (np.asarray(o) for o in layer(inputs))
    gt = inputs[2][0]
    best = box_iou_np(rois[0], gt).argmax(axis=1)
    pos = cls[0] > 0
    np.testing.assert_array_equal(valid[0][pos], inputs[4][0][best[pos]])
    assert (valid[0][pos] == 0).any() and (valid[0][pos] == 1).any()


def test_detection_targets_np_sampling_and_padding():
    rng = np.random.default_rng(0)
    gt_boxes = np.array([[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.8]], np.float32)
    proposals = np.concatenate([gt_boxes + 0.01, rng.uniform(0, 0.05, (5, 4)), np.zeros((3, 4))])
    proposals = proposals.astype(np.float32)
    masks = np.ones((14, 14, 2), np.float32)
    out = detection_targets_np(
        proposals, [3, 1], gt_boxes, masks, [1, 0], 10, 0.5, (7, 7), STD, True, rng=None
    )
    rois, ids, deltas, tmasks, valid = out
    # 2 proposals + 2 appended GT boxes are positive, capped at int(10 * 0.5) = 5
    np.testing.assert_array_equal(ids[:4], [3, 1, 3, 1])
    np.testing.assert_array_equal(valid[:4], [1, 0, 1, 0])
    assert (ids[4:] == 0).all() and not deltas[4:].any() and not tmasks[4:].any()
    np.testing.assert_allclose(deltas[2:4], 0, atol=1e-6)  # GT boxes as ROIs: zero deltas
    assert np.any(rois[4:9] != 0, axis=1).all()  # 5 random proposals are negatives
    assert not rois[9:].any()
    without = detection_targets_np(
        proposals, [3, 1], gt_boxes, masks, [1, 0], 10, 0.5, (7, 7), STD, True, add_gt_boxes=False
    )
    assert (without[1] > 0).sum() == 2


def _attribute_inputs(inputs, num_attributes=5, seed=7):
    """Random multi-hot GT attributes [B, G, A] and per-GT weights [B, G] (one GT of each image
    of a class without attributes)."""
    rng = np.random.default_rng(seed)
    b = inputs[0].shape[0]
    hot = (rng.random((b, G, num_attributes)) > 0.6).astype(np.uint8)
    weight = np.ones((b, G), np.float32)
    weight[:, 1] = 0.0
    return [hot, weight]


@pytest.mark.parametrize("fixed_shapes", [False, True])
def test_attribute_targets_match_numpy_reference(fixed_shapes):
    inputs = make_inputs(0)
    inputs += _attribute_inputs(inputs)
    shapes = [(2, T, 4), (2, T), (2, T, 4), (2, T, 14, 14), (2, T), (2, T, 5), (2, T)]
    kw = {**KW, "deterministic": True, "num_attributes": 5, "fixed_shapes": fixed_shapes}
    outs = check_layer(DetectionTargetLayer, kw, inputs, shapes)
    for b in range(2):
        expected = detection_targets_np(
            *(x[b] for x in inputs[:5]),
            T,
            0.33,
            (14, 14),
            STD,
            use_mini_mask=True,
            gt_attributes=inputs[5][b],
            gt_attribute_valid=inputs[6][b],
        )
        np.testing.assert_array_equal(outs[1][b], expected[1])
        np.testing.assert_array_equal(outs[5][b], expected[5])
        np.testing.assert_array_equal(outs[6][b], expected[6])
        pos = expected[1] > 0
        assert expected[5][pos].any() and not outs[5][b][~pos].any()
        assert (expected[6][pos] == 0).any() and (expected[6][pos] == 1).any()


def test_attribute_targets_keep_the_class_targets_unchanged():
    inputs = make_inputs(4)
    plain = DetectionTargetLayer(**{**KW, "deterministic": True})(inputs)
    extra = _attribute_inputs(inputs, num_attributes=3)
    layer = DetectionTargetLayer(**{**KW, "deterministic": True, "num_attributes": 3})
    with_attrs = layer(inputs + extra)
    assert len(plain) == 5 and len(with_attrs) == 7
    for a, b in zip(plain, with_attrs[:5]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_xla_compiled_layer_matches_numpy_reference():
    """With ``fixed_shapes`` under ``jit_compile=True`` (mask crop by gathers,
    Config.JIT_COMPILE) the layer gives the reference's targets: XLA rejects any dynamic-size
    tensor left in it."""
    import tensorflow as tf

    inputs = make_inputs(0)
    layer = DetectionTargetLayer(**KW, deterministic=True, mask_crop="xla", fixed_shapes=True)
    outs = tf.function(lambda *a: layer(list(a)), jit_compile=True)(*inputs)
    outs = [np.asarray(o) for o in outs]
    for b in range(2):
        expected = detection_targets_np(
            *(x[b] for x in inputs), T, 0.33, (14, 14), STD, use_mini_mask=True
        )
        np.testing.assert_allclose(outs[0][b], expected[0], atol=1e-6)
        np.testing.assert_array_equal(outs[1][b], expected[1])
        np.testing.assert_allclose(outs[2][b], expected[2], atol=1e-4)
        assert np.mean(np.abs(outs[3][b] - expected[3])) < 1e-3
        np.testing.assert_array_equal(outs[4][b], expected[4])
    assert (outs[1] > 0).sum() > 4  # positives were compared
