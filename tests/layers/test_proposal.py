"""ProposalLayer against the numpy pipeline (top-k, deltas, clip, NMS, pad)."""

import numpy as np

from fashion_mrcnn.layers import ProposalLayer
from fashion_mrcnn.ops.anchors import get_anchors
from tests.layer_helper import check_layer
from tests.reference.proposal import proposals_np

STD = [0.1, 0.1, 0.2, 0.2]


def rpn_inputs(seed, batch=2, image=(128, 128)):
    rng = np.random.default_rng(seed)
    anchors = get_anchors(image, (8, 16, 32, 64, 128), [0.5, 1, 2], [4, 8, 16, 32, 64])
    a = len(anchors)
    logits = rng.normal(size=(batch, a, 2)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    deltas = rng.normal(0, 1.0, (batch, a, 4)).astype(np.float32)
    return probs.astype(np.float32), deltas, np.broadcast_to(anchors, (batch, a, 4)).copy()


def test_proposal_layer_matches_numpy():
    probs, deltas, anchors = rpn_inputs(0)
    kwargs = dict(proposal_count=100, nms_threshold=0.7, pre_nms_limit=500, rpn_bbox_std_dev=STD)
    (out,) = check_layer(ProposalLayer, kwargs, [probs, deltas, anchors], [(2, 100, 4)])
    expected = proposals_np(probs, deltas, anchors, 100, 0.7, 500, STD)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out.min() >= 0 and out.max() <= 1
    assert ProposalLayer(**kwargs).name == "ROI"


def test_proposal_layer_pads_with_zeros_and_accepts_2d_anchors():
    probs, deltas, anchors = rpn_inputs(1, batch=1, image=(64, 64))
    deltas[:] = 0
    layer = ProposalLayer(
        proposal_count=500, nms_threshold=0.3, pre_nms_limit=200, rpn_bbox_std_dev=STD
    )
    out = np.asarray(layer([probs, deltas, anchors[0]]))
    expected = proposals_np(probs, deltas, anchors[0], 500, 0.3, 200, STD)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    kept = np.any(out[0] != 0, axis=1)
    assert 0 < kept.sum() < 200  # NMS removed some; the rest is zero padding at the end
    assert kept[: kept.sum()].all() and not kept[kept.sum() :].any()
