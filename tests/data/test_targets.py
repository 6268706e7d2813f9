"""data.targets.build_rpn_targets: the Faster R-CNN anchor rules, crowds, sampling, deltas,
zero-instance images, speed."""

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.targets import build_rpn_targets
from fashion_mrcnn.ops.anchors import get_anchors
from fashion_mrcnn.ops.boxes import apply_deltas_np, box_iou_np

STD = np.array([0.1, 0.1, 0.2, 0.2], np.float32)
ANCHORS = get_anchors(
    (256, 256), (16, 32, 64, 128, 256), [0.5, 1, 2], [4, 8, 16, 32, 64], normalized=False
)


def gt(rng, n, side=256):
    size = rng.uniform(20, 120, (n, 2))
    y1x1 = rng.uniform(0, side, (n, 2)) * (1 - size / side)
    return np.round(np.concatenate([y1x1, y1x1 + size], 1)).astype(np.float32)


def test_rules_and_counts():
    rng = np.random.default_rng(0)
    boxes = gt(rng, 5)
    ids = np.array([1, 2, 3, 1, 4], np.int32)
    match, bbox = build_rpn_targets(ANCHORS, ids, boxes, 256, STD, np.random.default_rng(1))
    assert match.shape == (len(ANCHORS),) and match.dtype == np.int32
    assert bbox.shape == (256, 4) and bbox.dtype == np.float32
    assert set(np.unique(match)) <= {-1, 0, 1}
    pos, neg = np.flatnonzero(match == 1), np.flatnonzero(match == -1)
    assert 0 < len(pos) <= 128 and len(pos) + len(neg) == 256
    iou = box_iou_np(ANCHORS, boxes)
    assert (iou[neg].max(axis=1) < 0.3).all()
    # every GT box has at least one positive anchor unless sampling dropped it (few positives)
    if len(pos) < 128:
        assert set(iou[pos].argmax(axis=1)) == set(range(5))
    # deltas decode to the anchors' best GT boxes, in anchor order
    decoded = apply_deltas_np(ANCHORS[pos], bbox[: len(pos)] * STD)
    np.testing.assert_allclose(decoded, boxes[iou[pos].argmax(axis=1)], atol=1e-2)
    assert not bbox[len(pos) :].any()


def test_positive_cap_and_reproducible_sampling():
    boxes = np.array([[0, 0, 256, 256], [0, 0, 250, 250], [3, 3, 255, 252]], np.float32)
    ids = np.ones(3, np.int32)
    a = build_rpn_targets(ANCHORS, ids, boxes, 16, STD, np.random.default_rng(7))
    b = build_rpn_targets(ANCHORS, ids, boxes, 16, STD, np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[0] == 1).sum() <= 8 and (a[0] != 0).sum() == 16


def test_crowd_and_padding():
    rng = np.random.default_rng(3)
    boxes = np.array([[10, 10, 60, 60], [100, 100, 250, 250], [0, 0, 0, 0]], np.float32)
    ids = np.array([2, -1, 0], np.int32)  # a real box, a crowd, padding
    match, _ = build_rpn_targets(ANCHORS, ids, boxes, 100000, STD, rng)
    crowd_iou = box_iou_np(ANCHORS, boxes[1:2])[:, 0]
    assert not (match[crowd_iou >= 0.001] == -1).any()  # near the crowd: never negative
    assert (match[crowd_iou < 0.001] != 0).any()
    pos = match == 1
    assert (box_iou_np(ANCHORS[pos], boxes[:1])[:, 0] > 0).all()  # positives only from box 0


def test_zero_instances_gives_negatives_only():
    match, bbox = build_rpn_targets(
        ANCHORS, np.zeros(0, np.int32), np.zeros((0, 4)), 256, STD, np.random.default_rng(0)
    )
    assert (match == -1).sum() == 256 and (match == 1).sum() == 0 and not bbox.any()


def test_config_signature_and_errors():
    c = Config.preset("cpu-smoke")
    match, bbox = build_rpn_targets(
        ANCHORS, [1], [[10, 10, 80, 90]], c, rng=np.random.default_rng(0)
    )
    assert bbox.shape == (c.RPN_TRAIN_ANCHORS_PER_IMAGE, 4) and (match == 1).any()
    with pytest.raises(ValueError, match="2 class ids but 1 boxes"):
        build_rpn_targets(ANCHORS, [1, 2], [[10, 10, 80, 90]], 256, STD)
    with pytest.raises(ValueError, match="bbox_std_dev"):
        build_rpn_targets(ANCHORS, [1], [[10, 10, 80, 90]], 256)


def test_gt_outside_every_anchor_does_not_make_everything_positive():
    far = np.array([[1000, 1000, 1010, 1010]], np.float32)
    match, _ = build_rpn_targets(ANCHORS, [1], far, 256, STD, np.random.default_rng(0))
    assert (match == 1).sum() == 0


def test_speed_65k_anchors_50_gt():
    anchors = get_anchors(
        (512, 512), (16, 32, 64, 128, 256), [0.5, 1, 2], [4, 8, 16, 32, 64], normalized=False
    )
    assert len(anchors) == 65472
    rng = np.random.default_rng(0)
    boxes = gt(rng, 50, side=512)
    ids = rng.integers(1, 47, 50)
    build_rpn_targets(anchors, ids, boxes, 256, STD, rng)  # warm up
    times = []
    for _ in range(5):
        start = time.process_time()  # CPU time: robust to other jobs on a shared machine
        build_rpn_targets(anchors, ids, boxes, 256, STD, rng)
        times.append(time.process_time() - start)
    # budget 20 ms (measured ~11 ms on the 2-core dev box, bench/bench_rpn_targets.py); 2x slack
    assert min(times) < 0.04, f"build_rpn_targets took {min(times) * 1000:.1f} ms"


SMALL = get_anchors(
    (128, 128), (8, 16, 32, 64, 128), [0.5, 1, 2], [4, 8, 16, 32, 64], normalized=False
)


@st.composite
def gt_sets(draw):
    n = draw(st.integers(0, 8))
    boxes, ids = [], []
    for _ in range(n):
        y1 = draw(st.integers(0, 120))
        x1 = draw(st.integers(0, 120))
        h = draw(st.integers(1, 128 - y1))
        w = draw(st.integers(1, 128 - x1))
        boxes.append([y1, x1, y1 + h, x1 + w])
        ids.append(draw(st.sampled_from([-1, 0, 1, 2, 3])))
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(ids, np.int32)


@settings(max_examples=40, deadline=None)
@given(gt=gt_sets(), t=st.sampled_from([8, 64, 256]), seed=st.integers(0, 2**16))
def test_rpn_target_invariants(gt, t, seed):
    boxes, ids = gt
    match, bbox = build_rpn_targets(SMALL, ids, boxes, t, STD, np.random.default_rng(seed))
    pos, neg = match == 1, match == -1
    assert pos.sum() <= t // 2 and pos.sum() + neg.sum() <= t
    real = boxes[ids > 0]
    if len(real) == 0:
        assert pos.sum() == 0
    else:
        iou = box_iou_np(SMALL, real)
        assert (iou[neg].max(axis=1) < 0.3).all()
        assert (iou[pos].max(axis=1) > 0).all()
        decoded = apply_deltas_np(SMALL[pos], bbox[: pos.sum()] * STD)
        np.testing.assert_allclose(decoded, real[iou[pos].argmax(axis=1)], atol=0.05)
    crowds = boxes[ids < 0]
    if len(crowds):
        assert (box_iou_np(SMALL[neg], crowds) < 0.001).all()
    assert not bbox[pos.sum() :].any()
