"""The shared layer check: symbolic shapes, an eager call, a compiled model, a config round trip.

Used by tests/layers/* as ``tests.layer_helper``.
"""

from __future__ import annotations

import keras
import numpy as np


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def check_layer(layer_cls, init_kwargs, input_arrays, expected_output_shapes, atol=1e-5):
    """Check a layer taking a list of inputs and return its eager outputs (list of numpy).

    - symbolic: called on ``keras.Input`` tensors (batch dimension None), every output has the
      expected shape with the batch dimension None, and ``compute_output_shape`` agrees;
    - eager: called on ``input_arrays`` (numpy, batch first), outputs have
      ``expected_output_shapes`` exactly;
    - graph: a ``keras.Model`` built from the symbolic call gives the eager outputs under
      ``predict`` (a traced ``tf.function``);
    - config: ``layer_cls.from_config(layer.get_config())`` gives the same outputs.
    """
    expected = [tuple(s) for s in _as_list(expected_output_shapes)]
    layer = layer_cls(**init_kwargs)
    inputs = [
        keras.Input(shape=a.shape[1:], dtype=str(a.dtype), batch_size=None) for a in input_arrays
    ]
    symbolic = _as_list(layer(inputs))
    assert len(symbolic) == len(expected), f"{len(symbolic)} outputs, expected {len(expected)}"
    for out, shape in zip(symbolic, expected):
        assert tuple(out.shape) == (None,) + shape[1:], (out.shape, shape)
    declared = layer.compute_output_shape([tuple(i.shape) for i in inputs])
    declared = declared if isinstance(declared, list) else [declared]
    for d, shape in zip(declared, expected):
        assert tuple(d) == (None,) + shape[1:], (d, shape)

    eager = [np.asarray(o) for o in _as_list(layer(input_arrays))]
    for out, shape in zip(eager, expected):
        assert out.shape == shape, (out.shape, shape)

    model = keras.Model(inputs, symbolic)
    graph = [
        np.asarray(o)
        for o in _as_list(model.predict(input_arrays, verbose=0, batch_size=len(input_arrays[0])))
    ]
    for g, e in zip(graph, eager):
        np.testing.assert_allclose(g, e, atol=atol)

    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    again = [np.asarray(o) for o in _as_list(clone(input_arrays))]
    for a, e in zip(again, eager):
        np.testing.assert_allclose(a, e, atol=atol)
    return eager
