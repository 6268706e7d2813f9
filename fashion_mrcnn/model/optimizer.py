"""The optimizer Matterport trains with (SGD, momentum, a per-variable gradient-norm clip), in
few executor ops per variable.

Keras 3's ``SGD(momentum=..., clipnorm=...)`` spends about 16 small ops on every variable: ten
for the norm clip, six for the momentum update. On a CPU a step of a small model is then partly
executor overhead (3,378 optimizer ops per cpu-smoke step, ``bench/results/precision.md``), and
at ResNet50 size the many elementwise passes over the weights cost memory bandwidth.
:class:`ClippedMomentumSGD` makes the same update with about six ops per variable, five of them
on scalars:

- the clip is a factor on the learning rate, ``clip / max(||g||, clip)``: the momentum update is
  linear in ``g``, so scaling the rate is scaling the gradient;
- ``||g||`` comes from one ``tf.nn.l2_loss`` (``sum(g**2) / 2``);
- the update is TensorFlow's fused ``ResourceApplyKerasMomentum`` kernel, Keras's SGD rule:
  ``m <- momentum * m - rate * g``, then ``w <- w + m`` (Nesterov:
  ``w <- w + momentum * m - rate * g`` with the new ``m``).

It keeps Keras SGD's variables (``momentums``, ``iterations``), so its state and checkpoints are
a plain SGD's, and Keras's distribution path: under ``tf.distribute`` each replica updates its
copy from the summed gradient, whose norm it clips (Keras's SGD clips each replica's gradient
before the sum; with one replica the two are the same). :func:`clipped_momentum_sgd_reference`
is the numpy twin.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="fashion_mrcnn")
class ClippedMomentumSGD(keras.optimizers.SGD):
    """``keras.optimizers.SGD`` with ``momentum`` and ``clipnorm`` (each gradient's L2 norm
    clipped to ``clipnorm``, as Keras does it), computed by the fused kernel (module docstring).

    Refuses ``global_clipnorm`` and ``clipvalue`` (Matterport uses neither), and works on
    TensorFlow only (the project's backend).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, clipnorm=None, **kwargs):
        for refused in ("global_clipnorm", "clipvalue"):
            if kwargs.get(refused) is not None:
                raise ValueError(f"ClippedMomentumSGD takes clipnorm only, not {refused}")
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, clipnorm=clipnorm, **kwargs
        )

    def _clip_gradients(self, grads):
        return grads  # clipped in update_step, as a factor on the rate

    def update_step(self, gradient, variable, learning_rate):
        """One variable's update: ``gradient`` and ``variable`` of the same shape (``variable``
        a tf.Variable, the replica's copy under a strategy); ``learning_rate``: scalar."""
        dtype = variable.dtype
        gradient = tf.cast(gradient, dtype)
        rate = tf.cast(learning_rate, dtype)
        if self.clipnorm and self.clipnorm > 0:
            # clip / max(||g||, clip) = min(1, clip * rsqrt(sum g^2)); rsqrt(0) = inf -> 1
            squares = 2.0 * tf.nn.l2_loss(gradient)
            rate = rate * tf.minimum(tf.cast(1.0, dtype), self.clipnorm * tf.math.rsqrt(squares))
        if self.momentum == 0:
            tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=rate, delta=gradient)
            return
        m = self.momentums[self._get_variable_index(variable)]
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle,
            accum=m.value.handle,
            lr=rate,
            grad=gradient,
            momentum=tf.cast(self.momentum, dtype),
            use_nesterov=self.nesterov,
        )


def clipped_momentum_sgd_reference(
    weights: list[np.ndarray],
    momentums: list[np.ndarray],
    grads: list[np.ndarray],
    learning_rate: float,
    momentum: float,
    clipnorm: float | None,
    nesterov: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """numpy twin of one :class:`ClippedMomentumSGD` step: each gradient scaled by
    ``clipnorm / max(||g||, clipnorm)``, then ``m = momentum * m - lr * g`` and ``w = w + m``
    (Nesterov: ``w = w + momentum * m - lr * g``). Returns (new weights, new momentums)."""
    new_w, new_m = [], []
    for w, m, g in zip(weights, momentums, grads):
        g = np.asarray(g, np.float64)
        if clipnorm:
            g = g * clipnorm / max(float(np.sqrt((g**2).sum())), clipnorm)
        m = momentum * np.asarray(m, np.float64) - learning_rate * g
        step = momentum * m - learning_rate * g if nesterov else m
        new_w.append(np.asarray(w, np.float64) + step)
        new_m.append(m)
    return new_w, new_m
