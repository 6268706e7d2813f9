"""model.graph: Config.ROI_ALIGN reaches both PyramidROIAlign layers as a plain argument, and the
XLA crop changes no weight (Matterport .h5 binding) and no output."""

from __future__ import annotations

import numpy as np

from fashion_mrcnn.model.graph import build_inference_graph
from fashion_mrcnn.ops.image import compose_image_meta
from tests.model.engine_helpers import smoke_config


def test_roi_align_method_changes_no_weight_and_no_output():
    cfg = smoke_config(IMAGES_PER_GPU=2, DETECTION_MIN_CONFIDENCE=0.0)
    graphs = {
        m: build_inference_graph(cfg.replace(ROI_ALIGN=m)) for m in ("crop_and_resize", "xla")
    }
    for method, graph in graphs.items():
        for name in ("roi_align_classifier", "roi_align_mask"):
            assert graph.get_layer(name).method == method
    reference, xla = graphs["crop_and_resize"], graphs["xla"]
    assert [(v.path, v.shape) for v in xla.weights] == [
        (v.path, v.shape) for v in reference.weights
    ]
    xla.set_weights(reference.get_weights())
    rng = np.random.default_rng(0)
    size = int(cfg.IMAGE_SHAPE[0])
    meta = compose_image_meta(
        0, (size, size, 3), (size, size, 3), (0, 0, size, size), 1.0, [1] * cfg.NUM_CLASSES
    )
    inputs = {
        "input_image": rng.normal(0, 50, (2, size, size, 3)).astype(np.float32),
        "input_image_meta": np.stack([meta, meta]),
    }
    want = reference(inputs, training=False)
    got = xla(inputs, training=False)
    assert int(np.sum(np.asarray(want["detections"])[..., 4] > 0)) > 0  # detections to compare
    for key in ("mrcnn_class", "mrcnn_bbox", "detections", "mrcnn_mask"):
        np.testing.assert_allclose(np.asarray(got[key]), np.asarray(want[key]), atol=1e-4)


def graph_signature(graph) -> dict:
    """What makes two graphs the same model: layer names in order, weight paths and shapes,
    input names and output keys."""
    return {
        "layers": [layer.name for layer in graph.layers],
        "weights": [[v.path, [int(d) for d in v.shape]] for v in graph.weights],
        "inputs": sorted(t.name.split(":")[0] for t in graph.inputs),
        "outputs": sorted(graph.output),
    }


def _signature_of(build, config) -> dict:
    """graph_signature of a freshly built graph, auto-generated layer names counted from zero
    (they depend on how many layers the session made before)."""
    import keras

    keras.backend.clear_session()
    return graph_signature(build(config))


def _digest(signature: dict) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(signature).encode()).hexdigest()[:16]


# The cpu-smoke graphs as they were before the attribute head (commit a0ec527), as digests of
# graph_signature: NUM_ATTRIBUTES = 0 must build exactly these. Recompute (print
# _digest(graph_signature(...))) only when the graph changes on purpose.
GRAPH_DIGESTS = {"training": "47360ea79285a5d5", "inference": "b3eba16cc346d7ae"}


def test_graph_without_attribute_head_is_unchanged():
    from fashion_mrcnn.model.graph import build_training_graph

    cfg = smoke_config()
    assert cfg.NUM_ATTRIBUTES == 0
    train = _signature_of(build_training_graph, cfg)
    infer = _signature_of(build_inference_graph, cfg.replace(IMAGES_PER_GPU=1))
    assert not any("attr" in name for name in train["layers"] + infer["layers"])
    assert {"training": _digest(train), "inference": _digest(infer)} == GRAPH_DIGESTS


def test_attribute_head_adds_only_its_layers_inputs_and_outputs():
    from fashion_mrcnn.model.graph import build_training_graph
    from fashion_mrcnn.model.heads import ATTRIBUTE_LAYERS

    cfg = smoke_config()
    on = cfg.replace(NUM_ATTRIBUTES=6)
    fc = cfg.FPN_CLASSIF_FC_LAYERS_SIZE
    for build, c, extra_in, extra_out in (
        (
            build_training_graph,
            cfg,
            {"input_gt_attributes", "input_gt_attribute_valid"},
            {"mrcnn_attr", "mrcnn_attr_logits", "target_attributes", "target_attribute_weight"},
        ),
        (build_inference_graph, cfg.replace(IMAGES_PER_GPU=1), set(), {"mrcnn_attr"}),
    ):
        off_sig = _signature_of(build, c)
        on_sig = _signature_of(build, c.replace(NUM_ATTRIBUTES=6))
        added = [w for w in on_sig["weights"] if w not in off_sig["weights"]]
        assert sorted(w for w in on_sig["weights"] if w not in added) == sorted(off_sig["weights"])
        assert sorted((p.split("/")[0], s) for p, s in added) == sorted(
            [
                (ATTRIBUTE_LAYERS[0], [fc, fc]),
                (ATTRIBUTE_LAYERS[0], [fc]),
                (ATTRIBUTE_LAYERS[1], [fc, 6]),
                (ATTRIBUTE_LAYERS[1], [6]),
            ]
        )
        assert set(on_sig["inputs"]) - set(off_sig["inputs"]) == extra_in
        assert set(on_sig["outputs"]) - set(off_sig["outputs"]) == extra_out
        assert set(off_sig["outputs"]) <= set(on_sig["outputs"])
    assert on.NUM_ATTRIBUTES == 6
