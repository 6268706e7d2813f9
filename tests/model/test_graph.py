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
