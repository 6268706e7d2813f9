"""model.losses: TF losses against numpy twins on random inputs; zero cases give exactly 0.0
with finite gradients; box-only instances carry no mask loss; Matterport-style L2."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fashion_mrcnn.model import losses as L
from tests.reference import losses as R

B, A, T, C, H = 2, 300, 16, 5, 7


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    match = rng.choice([-1, 0, 1], size=(B, A), p=[0.3, 0.6, 0.1]).astype(np.int32)
    ids = rng.integers(0, C, (B, T)).astype(np.int32)
    ids[:, -3:] = 0
    active = np.ones((B, C), np.float32)
    active[1, 2] = 0
    return dict(
        rpn_match=match,
        rpn_logits=rng.normal(size=(B, A, 2)).astype(np.float32),
        rpn_bbox=rng.normal(size=(B, A, 4)).astype(np.float32),
        rpn_target=rng.normal(size=(B, T, 4)).astype(np.float32),
        ids=ids,
        class_logits=rng.normal(0, 2, (B, T, C)).astype(np.float32),
        active=active,
        target_bbox=rng.normal(size=(B, T, 4)).astype(np.float32),
        pred_bbox=rng.normal(size=(B, T, C, 4)).astype(np.float32),
        target_masks=(rng.random((B, T, H, H)) > 0.5).astype(np.float32),
        pred_masks=rng.uniform(0, 1, (B, T, H, H, C)).astype(np.float32),
        valid=(rng.random((B, T)) > 0.3).astype(np.float32),
    )


def test_losses_match_numpy(batch):
    d = batch
    pairs = [
        (
            L.rpn_class_loss(d["rpn_match"], d["rpn_logits"]),
            R.rpn_class_loss_np(d["rpn_match"], d["rpn_logits"]),
        ),
        (
            L.rpn_bbox_loss(d["rpn_target"], d["rpn_match"], d["rpn_bbox"]),
            R.rpn_bbox_loss_np(d["rpn_target"], d["rpn_match"], d["rpn_bbox"]),
        ),
        (
            L.mrcnn_class_loss(d["ids"], d["class_logits"], d["active"]),
            R.mrcnn_class_loss_np(d["ids"], d["class_logits"], d["active"]),
        ),
        (
            L.mrcnn_bbox_loss(d["target_bbox"], d["ids"], d["pred_bbox"]),
            R.mrcnn_bbox_loss_np(d["target_bbox"], d["ids"], d["pred_bbox"]),
        ),
        (
            L.mrcnn_mask_loss(d["target_masks"], d["ids"], d["pred_masks"], d["valid"]),
            R.mrcnn_mask_loss_np(d["target_masks"], d["ids"], d["pred_masks"], d["valid"]),
        ),
    ]
    for got, want in pairs:
        assert got.shape == () and got.dtype == tf.float32
        assert float(want) > 0
        np.testing.assert_allclose(float(got), float(want), rtol=1e-5)


def test_rpn_match_with_trailing_axis(batch):
    d = batch
    np.testing.assert_allclose(
        float(L.rpn_class_loss(d["rpn_match"][..., None], d["rpn_logits"])),
        float(L.rpn_class_loss(d["rpn_match"], d["rpn_logits"])),
    )


def test_rpn_bbox_pairs_positives_in_order():
    match = np.zeros((1, 6), np.int32)
    match[0, [1, 4]] = 1
    pred = np.zeros((1, 6, 4), np.float32)
    pred[0, 1] = 0.5
    pred[0, 4] = 2.0
    target = np.zeros((1, 3, 4), np.float32)
    target[0, 0] = 0.5  # matches anchor 1 exactly
    target[0, 1] = 2.0  # matches anchor 4 exactly
    assert float(L.rpn_bbox_loss(target, match, pred)) == 0.0
    target[0, 1] = 0.0  # |2 - 0| = 2 -> smooth L1 1.5 on 4 of 8 elements
    np.testing.assert_allclose(float(L.rpn_bbox_loss(target, match, pred)), 1.5 * 4 / 8)


def _grads_finite(fn, *args):
    variables = [tf.Variable(a) for a in args]
    with tf.GradientTape() as tape:
        value = fn(*variables)
    grads = tape.gradient(value, variables)
    for g in grads:
        if g is not None:
            g = tf.convert_to_tensor(g)
            assert np.isfinite(g.numpy()).all()
    return value


def test_zero_positives_give_exact_zero_and_finite_gradients(batch):
    d = batch
    no_match = np.zeros_like(d["rpn_match"])
    zero_ids = np.zeros_like(d["ids"])
    v = _grads_finite(lambda lg: L.rpn_class_loss(no_match, lg), d["rpn_logits"])
    assert float(v) == 0.0
    negatives_only = -np.ones_like(d["rpn_match"])
    assert float(L.rpn_class_loss(negatives_only, d["rpn_logits"])) > 0  # still learns bg
    v = _grads_finite(lambda p: L.rpn_bbox_loss(d["rpn_target"], negatives_only, p), d["rpn_bbox"])
    assert float(v) == 0.0
    v = _grads_finite(lambda p: L.mrcnn_bbox_loss(d["target_bbox"], zero_ids, p), d["pred_bbox"])
    assert float(v) == 0.0
    v = _grads_finite(
        lambda p: L.mrcnn_mask_loss(d["target_masks"], zero_ids, p, d["valid"]), d["pred_masks"]
    )
    assert float(v) == 0.0
    v = _grads_finite(
        lambda lg: L.mrcnn_class_loss(d["ids"], lg, np.zeros_like(d["active"])), d["class_logits"]
    )
    assert float(v) == 0.0
    assert float(L.mrcnn_class_loss(zero_ids, d["class_logits"], d["active"])) > 0


def test_box_only_instances_have_no_mask_loss(batch):
    d = batch
    none_valid = np.zeros_like(d["valid"])
    assert float(L.mrcnn_mask_loss(d["target_masks"], d["ids"], d["pred_masks"], none_valid)) == 0.0
    all_valid = L.mrcnn_mask_loss(d["target_masks"], d["ids"], d["pred_masks"])
    np.testing.assert_allclose(
        float(all_valid),
        float(R.mrcnn_mask_loss_np(d["target_masks"], d["ids"], d["pred_masks"])),
        rtol=1e-5,
    )


def test_perfect_mask_prediction_is_near_zero(batch):
    d = batch
    pred = np.repeat(d["target_masks"][..., None], C, axis=-1)
    assert float(L.mrcnn_mask_loss(d["target_masks"], d["ids"], pred)) < 1e-5


def test_l2_regularization_skips_gamma_beta():
    dense = keras.layers.Dense(3, name="fc")
    bn = keras.layers.BatchNormalization(name="bn")
    x = np.ones((2, 4), np.float32)
    bn(dense(x))
    weights = dense.weights + bn.weights
    kernel, bias = dense.kernel.numpy(), dense.bias.numpy()
    bias_term = (bias**2).sum() / bias.size
    expected = 1e-4 * ((kernel**2).sum() / kernel.size + bias_term)
    # moving mean / variance are regularised by name like Matterport (they are not trainable,
    # callers pass trainable weights); here they add (0^2) / 3 and (1^2 * 3) / 3
    expected += 1e-4 * (0.0 + 1.0)
    np.testing.assert_allclose(float(L.l2_regularization(weights, 1e-4)), expected, rtol=1e-5)
    assert float(L.l2_regularization([bn.gamma, bn.beta], 1e-4)) == 0.0


def _attribute_batch(seed=3, n_attr=6):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, C, (B, T)).astype(np.int32)
    ids[:, -3:] = 0
    return dict(
        target=(rng.random((B, T, n_attr)) > 0.7).astype(np.float32),
        weight=(rng.random((B, T)) > 0.4).astype(np.float32),
        ids=ids,
        logits=rng.normal(0, 3, (B, T, n_attr)).astype(np.float32),
    )


def test_attribute_loss_matches_numpy():
    d = _attribute_batch()
    args = (d["target"], d["weight"], d["ids"], d["logits"])
    got = float(L.mrcnn_attr_loss(*args))
    assert got > 0
    np.testing.assert_allclose(got, R.mrcnn_attr_loss_np(*args), rtol=1e-5)
    # only positive ROIs with weight 1 count: changing any other row changes nothing
    other = ~((d["ids"] > 0) & (d["weight"] > 0))
    logits = d["logits"].copy()
    logits[other] = 50.0
    assert float(L.mrcnn_attr_loss(d["target"], d["weight"], d["ids"], logits)) == pytest.approx(
        got, rel=1e-6
    )


@pytest.mark.parametrize("case", ["no_positive", "no_weight"])
def test_attribute_loss_is_zero_without_counted_rois_with_finite_gradients(case):
    d = _attribute_batch()
    if case == "no_positive":
        d["ids"][:] = 0
    else:
        d["weight"][:] = 0
    logits = tf.Variable(d["logits"])
    with tf.GradientTape() as tape:
        loss = L.mrcnn_attr_loss(d["target"], d["weight"], d["ids"], logits)
    grad = tape.gradient(loss, logits)
    assert float(loss) == 0.0
    assert R.mrcnn_attr_loss_np(d["target"], d["weight"], d["ids"], d["logits"]) == 0.0
    assert grad is None or np.isfinite(np.asarray(grad)).all()
