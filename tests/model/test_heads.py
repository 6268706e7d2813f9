"""Box and mask heads: Matterport names, TimeDistributed-identical weight shapes, ROI folding."""

import keras
import numpy as np

from fashion_mrcnn.model.heads import box_head_graph, mask_head_graph


def test_box_head_shapes_match_matterport():
    pooled = keras.Input((None, 7, 7, 256))
    logits, probs, bbox = box_head_graph(pooled, num_classes=81, fc_size=1024, norm="frozen_bn")
    model = keras.Model(pooled, [logits, probs, bbox])
    assert model.get_layer("mrcnn_class_conv1").kernel.shape == (7, 7, 256, 1024)
    assert model.get_layer("mrcnn_class_conv2").kernel.shape == (1, 1, 1024, 1024)
    assert model.get_layer("mrcnn_class_logits").kernel.shape == (1024, 81)
    assert model.get_layer("mrcnn_bbox_fc").kernel.shape == (1024, 324)
    assert len(model.get_layer("mrcnn_class_bn1").weights) == 4
    x = np.random.default_rng(0).normal(size=(2, 5, 7, 7, 256)).astype("float32")
    lo, pr, bb = (np.asarray(t) for t in model(x))
    assert lo.shape == (2, 5, 81) and pr.shape == (2, 5, 81) and bb.shape == (2, 5, 81, 4)
    np.testing.assert_allclose(pr.sum(-1), 1.0, rtol=1e-5)
    # each ROI is processed independently: ROI (1, 3) alone gives the same logits
    lo1 = np.asarray(model(x[1:2, 3:4])[0])
    np.testing.assert_allclose(lo1[0, 0], lo[1, 3], rtol=1e-4, atol=1e-4)


def test_box_head_fc_variant():
    pooled = keras.Input((None, 7, 7, 32))
    outs = box_head_graph(pooled, num_classes=5, fc_size=64, norm="gn", conv_head=False)
    model = keras.Model(pooled, list(outs))
    assert model.get_layer("mrcnn_class_conv1").kernel.shape == (7 * 7 * 32, 64)
    assert np.asarray(model(np.ones((1, 3, 7, 7, 32), "float32"))[2]).shape == (1, 3, 5, 4)


def test_mask_head_shapes():
    pooled = keras.Input((None, 14, 14, 256))
    model = keras.Model(pooled, mask_head_graph(pooled, 81, 256, "frozen_bn"))
    for i in range(1, 5):
        assert model.get_layer(f"mrcnn_mask_conv{i}").kernel.shape == (3, 3, 256, 256)
    assert model.get_layer("mrcnn_mask_deconv").kernel.shape == (2, 2, 256, 256)
    assert model.get_layer("mrcnn_mask").kernel.shape == (1, 1, 256, 81)
    out = np.asarray(model(np.zeros((2, 3, 14, 14, 256), "float32")))
    assert out.shape == (2, 3, 28, 28, 81) and ((out >= 0) & (out <= 1)).all()
