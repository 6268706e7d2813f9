"""Weight files: Matterport Keras 2 .h5 by layer name (nested rpn_model, exclude, mismatch,
corrupt file), native .weights.h5, and the download helpers (file:// URLs, no network)."""

import hashlib

import h5py
import keras
import numpy as np
import pytest

from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.model.heads import box_head_graph
from fashion_mrcnn.model.rpn import build_rpn_model
from fashion_mrcnn.model.weights import (
    HEAD_LAYERS,
    download,
    download_coco_weights,
    download_imagenet_resnet50,
    leaf_layers,
    load_native,
    load_weights,
    save_checkpoint,
)


def _tiny_model(num_classes):
    """conv1 + bn_conv1 + nested rpn_model + a box head (Matterport names)."""
    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(name="bn_conv1")(x)
    rpn = build_rpn_model(1, 3, 8)
    rpn_out = rpn(x)
    pooled = keras.layers.Reshape((1, 16, 16, 8))(x)
    pooled = keras.layers.Cropping3D(((0, 0), (0, 9), (0, 9)))(pooled)  # [B, 1, 7, 7, 8]
    heads = box_head_graph(pooled, num_classes, 32, "frozen_bn")
    return keras.Model(image, list(rpn_out) + list(heads))


def _write_matterport_h5(
    path, num_classes, rng, bytes_names=True, model_weights=True, extra_layer=True
):
    """A Keras 2 layout file with the weights of a ``_tiny_model(num_classes)``; returns the
    {weight path: array} written."""
    model = _tiny_model(num_classes)
    written = {}
    groups = {}  # file layer name -> [(weight name, array)]
    for name, layer in leaf_layers(model).items():
        top = "rpn_model" if name.startswith("rpn_") else name
        for v in layer.weights:
            arr = rng.normal(size=tuple(v.shape)).astype("float32")
            wname = f"{name}/{v.name}:0"
            groups.setdefault(top, []).append((wname, arr))
            written[f"{name}/{v.name}"] = arr
    if extra_layer:
        groups["res9z_branch2a"] = [("res9z_branch2a/kernel:0", np.zeros((1, 1, 2, 2), "f4"))]
    enc = (lambda s: s.encode()) if bytes_names else (lambda s: s)
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if model_weights else f
        root.attrs["layer_names"] = [enc(n) for n in groups]
        for lname, weights in groups.items():
            g = root.create_group(lname)
            g.attrs["weight_names"] = [enc(w) for w, _ in weights]
            for w, a in weights:
                g.create_dataset(w, data=a)
    return written


def _value(model, name, short):
    layer = leaf_layers(model)[name]
    return next(np.asarray(v) for v in layer.weights if v.name == short)


@pytest.mark.parametrize("bytes_names,model_weights", [(True, True), (False, False)])
def test_load_matterport_layout(tmp_path, bytes_names, model_weights, capsys):
    path = tmp_path / "mrcnn.h5"
    written = _write_matterport_h5(path, 5, np.random.default_rng(0), bytes_names, model_weights)
    model = _tiny_model(5)
    report = load_weights(model, path)
    for key, arr in written.items():
        name, short = key.split("/")
        np.testing.assert_array_equal(_value(model, name, short), arr)
    assert "rpn_conv_shared" in report.loaded and "mrcnn_bbox_fc" in report.loaded
    assert report.unused == ["res9z_branch2a"] and report.missing == []
    assert "unused in file" in capsys.readouterr().out


def test_81_class_file_into_47_class_model_with_exclude(tmp_path):
    path = tmp_path / "coco_like.h5"
    written = _write_matterport_h5(path, 81, np.random.default_rng(1))
    assert written["mrcnn_bbox_fc/kernel"].shape == (32, 324)
    model = _tiny_model(47)
    before = _value(model, "mrcnn_bbox_fc", "kernel").copy()
    report = load_weights(model, path, exclude=HEAD_LAYERS, verbose=0)
    assert {"mrcnn_class_logits", "mrcnn_bbox_fc"} <= set(report.skipped)
    np.testing.assert_array_equal(_value(model, "mrcnn_bbox_fc", "kernel"), before)
    np.testing.assert_array_equal(
        _value(model, "rpn_class_raw", "kernel"), written["rpn_class_raw/kernel"]
    )
    np.testing.assert_array_equal(
        _value(model, "mrcnn_class_conv1", "kernel"), written["mrcnn_class_conv1/kernel"]
    )


def test_mismatch_without_exclude_raises_and_assigns_nothing(tmp_path):
    path = tmp_path / "coco_like.h5"
    _write_matterport_h5(path, 81, np.random.default_rng(2))
    model = _tiny_model(47)
    before = _value(model, "conv1", "kernel").copy()
    with pytest.raises(WeightsError, match=r"mrcnn_\w+.*\(32, 47\).*\(32, 81\)|mrcnn_.*shape"):
        load_weights(model, path, verbose=0)
    np.testing.assert_array_equal(_value(model, "conv1", "kernel"), before)


def test_by_name_false_requires_every_layer(tmp_path):
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv1"]
        g = f.create_group("conv1")
        g.attrs["weight_names"] = [b"conv1/kernel:0", b"conv1/bias:0"]
        g.create_dataset("conv1/kernel:0", data=np.ones((3, 3, 3, 8), "f4"))
        g.create_dataset("conv1/bias:0", data=np.ones((8,), "f4"))
    model = _tiny_model(5)
    with pytest.raises(WeightsError, match="not in the file"):
        load_weights(model, path, by_name=False, verbose=0)
    with pytest.raises(WeightsError, match="not in the file"):
        load_weights(model, path, by_name=False, allow_partial=True, verbose=0)
    report = load_weights(model, path, allow_partial=True, verbose=0)
    assert report.loaded == ["conv1"] and "bn_conv1" in report.missing


def test_corrupt_and_truncated_files(tmp_path):
    path = tmp_path / "mrcnn.h5"
    _write_matterport_h5(path, 5, np.random.default_rng(3))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 3])
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file at all" * 10)
    for bad in (truncated, garbage):
        with pytest.raises(WeightsError, match=bad.name):
            load_weights(_tiny_model(5), bad, verbose=0)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(_tiny_model(5), tmp_path / "nope.h5")


def test_checkpoint_round_trip_is_by_name_and_atomic(tmp_path):
    model = _tiny_model(5)
    path = save_checkpoint(model, tmp_path / "ckpt" / "mask_rcnn_x_0001.h5")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    # a graph with the same named layers created in another order still gets every weight
    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(name="bn_conv1")(x)
    pooled = keras.layers.Cropping3D(((0, 0), (0, 9), (0, 9)))(
        keras.layers.Reshape((1, 16, 16, 8))(x)
    )
    heads = box_head_graph(pooled, 5, 32, "frozen_bn")
    rpn_out = build_rpn_model(1, 3, 8)(x)
    other = keras.Model(image, list(heads) + list(rpn_out))
    report = load_weights(other, path, by_name=False, verbose=0)
    assert not report.missing and not report.unused
    for name, layer in leaf_layers(model).items():
        for a, b in zip(layer.weights, leaf_layers(other)[name].weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_keras_native_weights_file(tmp_path):
    model = _tiny_model(5)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    other = _tiny_model(5)
    load_native(other, tmp_path / "m.weights.h5")
    for a, b in zip(model.weights, other.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(WeightsError, match="not found"):
        load_native(other, tmp_path / "nope.weights.h5")


def test_download_helpers_file_url(tmp_path):
    src = tmp_path / "src.bin"
    payload = np.random.default_rng(4).bytes(3 << 20)
    src.write_bytes(payload)
    url = src.as_uri()
    sha = hashlib.sha256(payload).hexdigest()
    out = download_coco_weights(tmp_path / "w" / "coco.h5", url=url, sha256=sha)
    assert out.read_bytes() == payload and not list(out.parent.glob("*.part"))
    md5 = hashlib.md5(payload).hexdigest()
    out2 = download_imagenet_resnet50(tmp_path / "w" / "r50.h5", url=url, md5=md5)
    assert out2.read_bytes() == payload
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        download(url, tmp_path / "w" / "bad.h5", sha256="0" * 64, progress=False)
    assert not (tmp_path / "w" / "bad.h5").exists()
    assert not list((tmp_path / "w").glob("*.part"))
    with pytest.raises(WeightsError, match="failed"):
        download((tmp_path / "missing").as_uri(), tmp_path / "w" / "m.h5", progress=False)


def test_batchnorm_file_into_groupnorm_layer_is_partial(tmp_path):
    path = tmp_path / "bn.h5"
    rng = np.random.default_rng(5)
    arrays = {
        n: rng.normal(size=(8,)).astype("f4")
        for n in ("gamma", "beta", "moving_mean", "moving_variance")
    }
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv1", b"bn_conv1"]
        g = f.create_group("conv1")
        g.attrs["weight_names"] = [b"conv1/kernel:0", b"conv1/bias:0"]
        g.create_dataset("conv1/kernel:0", data=np.ones((3, 3, 3, 8), "f4"))
        g.create_dataset("conv1/bias:0", data=np.ones((8,), "f4"))
        g = f.create_group("bn_conv1")
        g.attrs["weight_names"] = [f"bn_conv1/{n}:0".encode() for n in arrays]
        for n, a in arrays.items():
            g.create_dataset(f"bn_conv1/{n}:0", data=a)
    image = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, name="conv1")(image)
    x = keras.layers.GroupNormalization(groups=4, name="bn_conv1")(x)
    model = keras.Model(image, x)
    report = load_weights(model, path, verbose=0)
    assert report.partial == ["bn_conv1"] and "partial" in str(report)
    layer = model.get_layer("bn_conv1")
    np.testing.assert_array_equal(np.asarray(layer.gamma), arrays["gamma"])
    np.testing.assert_array_equal(np.asarray(layer.beta), arrays["beta"])


def _drop_layer(path, name):
    """Remove layer group ``name`` from a Matterport-layout file (as if the file lacked it)."""
    with h5py.File(path, "r+") as f:
        root = f["model_weights"] if "model_weights" in f else f
        del root[name]
        names = [n if isinstance(n, str) else n.decode() for n in root.attrs["layer_names"]]
        root.attrs["layer_names"] = [n for n in names if n != name]


def _poison(path, layer, weight="kernel"):
    """Put one NaN into ``layer``'s ``weight`` array of a Matterport-layout file."""
    with h5py.File(path, "r+") as f:
        root = f["model_weights"] if "model_weights" in f else f
        dataset = root[layer][f"{layer}/{weight}:0"]
        values = np.asarray(dataset)
        values.flat[0] = np.nan
        dataset[...] = values


def test_file_of_another_model_is_refused_even_with_allow_partial(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense_7"]
        g = f.create_group("dense_7")
        g.attrs["weight_names"] = [b"dense_7/kernel:0"]
        g.create_dataset("dense_7/kernel:0", data=np.ones((4, 4), "f4"))
    for allow in (False, True):
        with pytest.raises(WeightsError, match=r"other\.h5: none of the model's \d+ weighted"):
            load_weights(_tiny_model(5), path, allow_partial=allow, verbose=0)


def test_missing_layer_refused_unless_excluded_or_allow_partial(tmp_path, capsys):
    path = tmp_path / "no_bbox_fc.h5"
    written = _write_matterport_h5(path, 5, np.random.default_rng(6), extra_layer=False)
    _drop_layer(path, "mrcnn_bbox_fc")
    model = _tiny_model(5)
    before = _value(model, "conv1", "kernel").copy()
    with pytest.raises(
        WeightsError, match=r"no_bbox_fc\.h5: 1 layers .*missing.*\(mrcnn_bbox_fc\)"
    ):
        load_weights(model, path, verbose=0)
    np.testing.assert_array_equal(_value(model, "conv1", "kernel"), before)  # nothing assigned

    report = load_weights(model, path, exclude=HEAD_LAYERS, verbose=0)
    assert report.not_loaded == [] and "mrcnn_bbox_fc" in report.missing

    other = _tiny_model(5)
    report = load_weights(other, path, allow_partial=True)
    assert report.not_loaded == ["mrcnn_bbox_fc"]
    assert "NOT LOADED" in capsys.readouterr().out
    np.testing.assert_array_equal(_value(other, "conv1", "kernel"), written["conv1/kernel"])


def test_required_narrows_what_must_be_in_the_file(tmp_path):
    path = tmp_path / "stem.h5"
    _write_matterport_h5(path, 5, np.random.default_rng(7), extra_layer=False)
    for name in ("rpn_model", "mrcnn_class_conv1", "mrcnn_bbox_fc", "mrcnn_class_logits"):
        _drop_layer(path, name)
    report = load_weights(_tiny_model(5), path, required=["conv1", "bn_conv1"], verbose=0)
    assert set(report.loaded) >= {"conv1", "bn_conv1"} and "rpn_conv_shared" in report.missing
    with pytest.raises(WeightsError, match="rpn_conv_shared"):
        load_weights(_tiny_model(5), path, required=["conv1", "rpn_conv_shared"], verbose=0)


def test_non_finite_weights_are_refused_at_load_unless_excluded(tmp_path):
    path = tmp_path / "diverged.h5"
    _write_matterport_h5(path, 5, np.random.default_rng(8), extra_layer=False)
    _poison(path, "conv1")
    model = _tiny_model(5)
    before = _value(model, "bn_conv1", "gamma").copy()
    with pytest.raises(WeightsError, match=r"diverged\.h5: layer 'conv1' weight 'kernel'.*NaN"):
        load_weights(model, path, verbose=0, allow_partial=True)
    np.testing.assert_array_equal(_value(model, "bn_conv1", "gamma"), before)
    head = tmp_path / "nan_head.h5"
    _write_matterport_h5(head, 5, np.random.default_rng(8), extra_layer=False)
    _poison(head, "mrcnn_bbox_fc")
    load_weights(model, head, exclude=HEAD_LAYERS, verbose=0)  # the NaN is never assigned
    assert np.isfinite(_value(model, "mrcnn_bbox_fc", "kernel")).all()


def test_non_finite_model_is_never_saved_and_native_nan_refused(tmp_path):
    model = _tiny_model(5)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    kernel = leaf_layers(model)["conv1"].kernel
    kernel.assign(np.full(kernel.shape, np.inf, "float32"))
    with pytest.raises(WeightsError, match=r"not saving .*bad\.h5: NaN / inf weights.*conv1"):
        save_checkpoint(model, tmp_path / "bad.h5")
    assert not list(tmp_path.glob("bad.h5*"))
    model.save_weights(str(tmp_path / "nan.weights.h5"))
    with pytest.raises(WeightsError, match=r"nan\.weights\.h5: layer .*NaN / inf"):
        load_native(_tiny_model(5), tmp_path / "nan.weights.h5")
    load_native(_tiny_model(5), tmp_path / "m.weights.h5")


def _tiny_attribute_model(num_classes, num_attributes=4):
    """:func:`_tiny_model` plus the attribute head on the box head's shared features."""
    from fashion_mrcnn.model.heads import attribute_head_graph

    image = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(image)
    x = keras.layers.BatchNormalization(name="bn_conv1")(x)
    rpn_out = build_rpn_model(1, 3, 8)(x)
    pooled = keras.layers.Reshape((1, 16, 16, 8))(x)
    pooled = keras.layers.Cropping3D(((0, 0), (0, 9), (0, 9)))(pooled)
    *heads, features = box_head_graph(pooled, num_classes, 32, "frozen_bn", return_features=True)
    attr = attribute_head_graph(features, pooled, num_attributes, 32)
    return keras.Model(image, list(rpn_out) + heads + list(attr))


def test_file_without_the_attribute_head_loads_and_names_the_initialised_layers(tmp_path, capsys):
    from fashion_mrcnn.model.heads import ATTRIBUTE_LAYERS

    path = tmp_path / "matterport.h5"
    written = _write_matterport_h5(path, 5, np.random.default_rng(8), extra_layer=False)
    model = _tiny_attribute_model(5)
    head = _value(model, "mrcnn_attr_logits", "kernel").copy()
    report = load_weights(model, path)  # no allow_partial needed
    assert sorted(report.initialised) == sorted(ATTRIBUTE_LAYERS)
    assert report.not_loaded == [] and "mrcnn_class_logits" in report.loaded
    out = capsys.readouterr().out
    assert "initialised (the attribute head" in out and "mrcnn_attr_logits" in out
    np.testing.assert_array_equal(_value(model, "mrcnn_attr_logits", "kernel"), head)
    np.testing.assert_array_equal(
        _value(model, "mrcnn_class_logits", "kernel"), written["mrcnn_class_logits/kernel"]
    )
    # a file that has the head but lost one of its layers is incomplete, not head-less
    full = tmp_path / "with_head.h5"
    save_checkpoint(_tiny_attribute_model(5), full)
    _drop_layer(full, "mrcnn_attr_fc")
    with pytest.raises(WeightsError, match="mrcnn_attr_fc"):
        load_weights(_tiny_attribute_model(5), full, verbose=0)
