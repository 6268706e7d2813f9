"""Static shapes for graph tensors whose shape TensorFlow cannot infer.

:func:`with_static_shape` states a tensor's shape to the graph (``Tensor.set_shape``) rather than
checking it at run time (``tf.ensure_shape``): the TensorFlow Lite converter has no kernel for
``EnsureShape``, built in or through the TensorFlow-ops delegate, and every shape stated here
follows from the op that made the tensor (a pad to a fixed length, a reshape to fixed sizes), so a
run-time check would test nothing the construction does not already guarantee. XLA gets the same
static shape either way. No numpy twin: it changes no value.
"""

from __future__ import annotations

__all__ = ["with_static_shape"]


def with_static_shape(tensor, shape):
    """``tensor`` with its static shape narrowed to ``shape`` (a list, None for an unknown size).

    Raises ValueError when ``shape`` contradicts what is already known (at trace time, or at
    once for an eager tensor)."""
    tensor.set_shape(shape)
    return tensor
