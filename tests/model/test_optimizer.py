"""ClippedMomentumSGD: the same update as Keras's SGD(momentum, clipnorm) and as its numpy twin,
for gradients above, below and at zero norm, with and without Nesterov and momentum."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fashion_mrcnn.model.optimizer import ClippedMomentumSGD, clipped_momentum_sgd_reference


def _run(optimizer, weights, grad_steps):
    variables = [keras.Variable(w) for w in weights]
    for grads in grad_steps:
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in grads], variables))
    return [v.numpy() for v in variables]


def _problem(seed=0, steps=3):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)]
    grad_steps = []
    for step in range(steps):
        big = rng.normal(scale=10.0, size=(3, 4)).astype(np.float32)  # norm ~35 > clip
        small = rng.normal(scale=0.01, size=(5,)).astype(np.float32)  # norm ~0.02 < clip
        if step == 1:
            small = np.zeros_like(small)  # zero norm: no division by zero, plain momentum step
        grad_steps.append([big, small])
    return weights, grad_steps


@pytest.mark.parametrize(
    ("momentum", "nesterov", "clipnorm"),
    [
        (0.9, False, 5.0),
        (0.9, True, 5.0),
        (0.0, False, 5.0),
        (0.9, False, None),
    ],
)
def test_matches_keras_sgd_and_the_numpy_twin(momentum, nesterov, clipnorm):
    weights, grad_steps = _problem()
    kw = dict(learning_rate=0.05, momentum=momentum, nesterov=nesterov, clipnorm=clipnorm)
    ours = _run(ClippedMomentumSGD(**kw), weights, grad_steps)
    theirs = _run(keras.optimizers.SGD(**kw), weights, grad_steps)
    w, m = list(weights), [np.zeros_like(x) for x in weights]
    for grads in grad_steps:
        w, m = clipped_momentum_sgd_reference(w, m, grads, 0.05, momentum, clipnorm, nesterov)
    for a, b, c in zip(ours, theirs, w):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    # the clip mattered: without it the big gradient moves the weights far more
    unclipped = _run(ClippedMomentumSGD(**{**kw, "clipnorm": None}), weights, grad_steps)
    if clipnorm:
        assert np.abs(unclipped[0] - weights[0]).max() > 3 * np.abs(ours[0] - weights[0]).max()


def test_keeps_keras_sgd_state_and_refuses_other_clips():
    opt = ClippedMomentumSGD(learning_rate=0.1, momentum=0.9, clipnorm=1.0)
    weights, grad_steps = _problem(steps=2)
    variables = [keras.Variable(w) for w in weights]
    for grads in grad_steps:
        opt.apply_gradients(zip(grads, variables))
    assert int(opt.iterations.numpy()) == 2
    assert [tuple(m.shape) for m in opt.momentums] == [(3, 4), (5,)]
    assert ClippedMomentumSGD.from_config(opt.get_config()).clipnorm == 1.0
    for refused in ("global_clipnorm", "clipvalue"):
        with pytest.raises(ValueError, match=refused):
            ClippedMomentumSGD(**{refused: 1.0})
