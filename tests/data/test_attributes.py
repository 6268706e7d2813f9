"""data.attributes: the vocabulary of a training set (records, a cache, any Dataset), multi-hot
targets, detect()'s attribute entries; the pipeline's attribute inputs follow the instances kept;
the synthetic set written with attributes carries them into the cache."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.attributes import (
    attribute_settings,
    detection_attributes,
    ids_of,
    multi_hot,
)
from fashion_mrcnn.errors import ConfigError, FashionDataError


def test_multi_hot_and_ids_of_round_trip():
    vocabulary = [3, 61, 72]
    hot = multi_hot([[72, 3], [], [61, 999]], vocabulary)  # 999: not in the vocabulary
    np.testing.assert_array_equal(hot, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    assert hot.dtype == np.uint8
    ids, scores = ids_of(np.array([0.9, 0.2, 0.5]), vocabulary, 0.5)
    assert ids == [3, 72] and scores == pytest.approx([0.9, 0.5])
    with pytest.raises(ValueError, match="2 attribute scores"):
        ids_of(np.array([0.9, 0.2]), vocabulary, 0.5)


def test_detection_attributes_threshold_and_classes_without_attributes():
    cfg = Config(
        NUM_CLASSES=4,
        NUM_ATTRIBUTES=3,
        ATTRIBUTE_IDS=[8, 3, 61],
        ATTRIBUTE_CLASS_IDS=[1, 3],
        DETECTION_ATTRIBUTE_THRESHOLD=0.4,
    )
    probs = np.array([[0.9, 0.1, 0.4], [0.9, 0.9, 0.9], [0.0, 0.5, 0.3]], np.float32)
    out = detection_attributes(probs, np.array([1, 2, 3]), cfg)
    assert out["attribute_ids"] == [[8, 61], [], [3]]  # class 2 carries no attributes
    assert out["attribute_scores"] == [pytest.approx([0.9, 0.4]), [], pytest.approx([0.5])]
    np.testing.assert_array_equal(out["attribute_probs"], probs)
    everything = detection_attributes(
        probs, [1, 2, 3], cfg.replace(DETECTION_ATTRIBUTE_THRESHOLD=0)
    )
    assert everything["attribute_ids"] == [[3, 8, 61], [], [3, 8, 61]]


def test_config_attribute_settings_are_checked_and_round_trip(tmp_path):
    cfg = Config(NUM_CLASSES=5, NUM_ATTRIBUTES=2, ATTRIBUTE_IDS=[61, 3], ATTRIBUTE_CLASS_IDS=[4])
    assert cfg.attribute_ids() == [61, 3]
    assert Config.from_yaml(cfg.to_yaml(tmp_path / "c.yaml")).attribute_ids() == [61, 3]
    assert Config(NUM_ATTRIBUTES=3).attribute_ids() == [0, 1, 2]
    for bad, match in (
        ({"NUM_ATTRIBUTES": -1}, "NUM_ATTRIBUTES"),
        ({"NUM_ATTRIBUTES": 2, "ATTRIBUTE_IDS": [1]}, "ATTRIBUTE_IDS has 1"),
        ({"NUM_ATTRIBUTES": 2, "ATTRIBUTE_IDS": [1, 1]}, "repeats"),
        ({"NUM_ATTRIBUTES": 1, "ATTRIBUTE_CLASS_IDS": [5]}, "ATTRIBUTE_CLASS_IDS"),
        ({"DETECTION_ATTRIBUTE_THRESHOLD": 1.5}, "DETECTION_ATTRIBUTE_THRESHOLD"),
        ({"NUM_ATTRIBUTES": 2, "ATTRIBUTE_NAMES": ["dot"]}, "ATTRIBUTE_NAMES has 1 names"),
        ({"NUM_ATTRIBUTES": 2, "ATTRIBUTE_NAMES": ["dot", " "]}, "non-empty names"),
        ({"NUM_ATTRIBUTES": 2, "ATTRIBUTE_NAMES": "dots"}, "non-empty names"),
        ({"NUM_ATTRIBUTES": 1, "ATTRIBUTE_NAMES": [7]}, "non-empty names"),
    ):
        with pytest.raises(ConfigError, match=match):
            Config(NUM_CLASSES=5, **bad)
    named = cfg.replace(ATTRIBUTE_NAMES=["plain (pattern)", "mini (length)"])
    assert named.attribute_name_map() == {61: "plain (pattern)", 3: "mini (length)"}
    again = Config.from_yaml(named.to_yaml(tmp_path / "named.yaml"))
    assert again.ATTRIBUTE_NAMES == ["plain (pattern)", "mini (length)"]
    assert cfg.attribute_name_map() == {}  # names unknown
    # a run's config written before ATTRIBUTE_NAMES existed loads, without names
    older = {k: v for k, v in named.to_dict().items() if k != "ATTRIBUTE_NAMES"}
    assert Config.from_dict(older).ATTRIBUTE_NAMES == []
    # a configuration written before the head (five loss weights) still loads
    old = {k: 2.0 for k in cfg.LOSS_WEIGHTS if k != "mrcnn_attr_loss"}
    assert Config(LOSS_WEIGHTS=old).LOSS_WEIGHTS["mrcnn_attr_loss"] == 1.0


def _records(tmp_path):
    from PIL import Image

    recs = []
    for i, insts in enumerate(([(1, [72, 3]), (14, [])], [(10, [61]), (23, [])], [(23, [])])):
        path = tmp_path / f"im{i}.jpg"
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path)
        instances = [
            {
                "category_id": cat,
                "attribute_ids": attrs,
                "segmentation": {"kind": "box", "data": [8 * k, 8, 8 * k + 16, 40]},
                "box_only": True,
            }
            for k, (cat, attrs) in enumerate(insts)
        ]
        recs.append(
            {
                "image_id": f"im{i}.jpg",
                "path": str(path),
                "height": 64,
                "width": 64,
                "source": "test",
                "instances": instances,
            }
        )
    return recs


def test_vocabulary_from_records_and_from_the_cache(tmp_path):
    from fashion_mrcnn.data.cache import CachedDataset, pack_dataset
    from fashion_mrcnn.data.dataset import FashionDataset

    cats = [{"id": c, "name": f"c{c}"} for c in (1, 10, 14, 23)]
    named = [{"id": a, "name": f"a{a}"} for a in (72, 3, 61, 99)]  # 99: carried by no instance
    ds = FashionDataset(_records(tmp_path), cats, attributes=named)
    want = {"NUM_ATTRIBUTES": 3, "ATTRIBUTE_IDS": [3, 61, 72], "ATTRIBUTE_CLASS_IDS": [1, 2],
            "ATTRIBUTE_NAMES": ["a3", "a61", "a72"]}  # fmt: skip
    assert attribute_settings(ds) == want
    assert attribute_settings(ds.subset([0, 1])) == want  # a split keeps the names
    pack_dataset(ds, tmp_path / "cache", image_size=64)
    assert attribute_settings(CachedDataset(tmp_path / "cache")) == want
    assert attribute_settings(CachedDataset(tmp_path / "cache").subset([0, 1])) == want
    # an id the list does not name: no names at all, never a partial list
    partial = FashionDataset(_records(tmp_path), cats, attributes=named[:2])
    assert attribute_settings(partial) == {**want, "ATTRIBUTE_NAMES": []}
    assert attribute_settings(FashionDataset(_records(tmp_path), cats))["ATTRIBUTE_NAMES"] == []
    with pytest.raises(FashionDataError, match="synth --attributes"):
        attribute_settings(ds.subset([2]), name="subset")


def test_fashionpedia_attribute_list_names_the_head_outputs(tmp_path, build):
    from fashion_mrcnn.data.dataset import FashionDataset
    from tests.data.coco_files import all_kinds, write_coco_json

    fashionpedia = [  # Fashionpedia's fields; the annotations carry ids 3 and 4 (all_kinds)
        {"id": 3, "name": "sleeveless", "supercategory": "sleeve type", "level": 1},
        {"id": 4, "name": "above-the-hip (length)", "supercategory": "length", "level": 1},
        {"id": 7, "name": "wrist-length", "supercategory": "length", "level": 1},
    ]
    path, images = write_coco_json(
        tmp_path, build, all_kinds(build), extra={"attributes": fashionpedia}
    )
    ds = FashionDataset.from_coco(path, images)
    assert ds.attribute_names() == {3: "sleeveless", 4: "above-the-hip (length)", 7: "wrist-length"}
    settings = attribute_settings(ds)
    assert settings["ATTRIBUTE_IDS"] == [3, 4]
    assert settings["ATTRIBUTE_NAMES"] == ["sleeveless", "above-the-hip (length)"]
    cfg = Config(NUM_CLASSES=5, **settings)
    assert cfg.attribute_name_map() == {3: "sleeveless", 4: "above-the-hip (length)"}
    # a malformed entry is refused, naming the file and the entry
    path, images = write_coco_json(
        tmp_path, build, all_kinds(build), extra={"attributes": [{"id": 3, "name": ""}]}
    )
    with pytest.raises(FashionDataError, match=r"inst\.json: attributes\[0\] \(id 3\) has no name"):
        FashionDataset.from_coco(path, images)


def test_imaterialist_label_descriptions_name_the_head_outputs(tmp_path, build):
    from fashion_mrcnn.data.dataset import FashionDataset

    images = build.write_images(tmp_path / "images")
    csv_path = build.write_csv(tmp_path / "train.csv", build.HEADER_2019, build.good_rows_2019())
    names = {1: "above-the-hip (length)", 2: "symmetrical", 5: "no opening", 9: "dot"}
    labels = build.write_labels(
        tmp_path / "labels.json",
        attributes=[
            {"id": a, "name": n, "supercategory": "s", "level": 1} for a, n in names.items()
        ],
    )
    ds = FashionDataset.from_imaterialist(csv_path, labels, images)
    settings = attribute_settings(ds)
    assert settings["ATTRIBUTE_IDS"] == [1, 2, 5]
    assert settings["ATTRIBUTE_NAMES"] == ["above-the-hip (length)", "symmetrical", "no opening"]
    # the shipped label_descriptions.json has no attribute names: ids only
    shipped = FashionDataset.from_imaterialist(csv_path, None, images)
    assert shipped.attribute_names() == {} and attribute_settings(shipped)["ATTRIBUTE_NAMES"] == []


def test_pipeline_attributes_follow_the_instances_kept():
    from fashion_mrcnn.data.pipeline import input_names, training_example
    from fashion_mrcnn.ops.anchors import get_anchors_for_config
    from tests.model.engine_helpers import AttributeSceneDataset, smoke_config, synthetic_scenes

    scenes = synthetic_scenes(3, seed=1, min_instances=4, max_instances=8)
    # each instance's attribute tells its class (10 x class id), so rows can be checked
    scenes = [(im, m, c, [[10 * int(k)] for k in c]) for im, m, c in scenes]
    ds = AttributeSceneDataset(scenes, 8)
    vocabulary = [10 * k for k in range(1, 8)]
    cfg = smoke_config(
        NUM_ATTRIBUTES=7, ATTRIBUTE_IDS=vocabulary, ATTRIBUTE_CLASS_IDS=[1, 3], MAX_GT_INSTANCES=3
    )
    assert input_names(cfg)[-2:] == ("input_gt_attributes", "input_gt_attribute_valid")
    anchors = get_anchors_for_config(cfg, normalized=False)
    for i in range(3):
        out = dict(zip(input_names(cfg), training_example(ds, cfg, i, anchors), strict=True))
        ids, hot, valid = (
            out["input_gt_class_ids"],
            out["input_gt_attributes"],
            out["input_gt_attribute_valid"],
        )
        assert hot.shape == (3, 7) and hot.dtype == np.uint8 and valid.shape == (3,)
        real = ids > 0
        assert real.sum() == 3  # subsampled from 4..8 instances
        np.testing.assert_array_equal(np.argmax(hot[real], axis=1), ids[real] - 1)
        assert (hot[real].sum(axis=1) == 1).all() and not hot[~real].any()
        np.testing.assert_array_equal(valid, np.isin(ids, [1, 3]).astype(np.float32))
    assert len(training_example(ds, smoke_config(), 0, anchors)) == len(input_names(smoke_config()))


def test_synthetic_set_with_attributes_reaches_the_cache(tmp_path):
    from fashion_mrcnn.data.cache import CachedDataset, pack_dataset
    from fashion_mrcnn.data.synthetic import ATTRIBUTES, generate
    from fashion_mrcnn.workflow.stages import open_dataset

    generate(tmp_path / "synth", n_images=3, size=64, seed=0, attributes=True)
    ds = open_dataset(tmp_path / "synth")
    settings = attribute_settings(ds)
    assert set(settings["ATTRIBUTE_IDS"]) <= {a["id"] for a in ATTRIBUTES}
    by_id = {a["id"]: a["name"] for a in ATTRIBUTES}
    assert settings["ATTRIBUTE_NAMES"] == [by_id[a] for a in settings["ATTRIBUTE_IDS"]]
    pack_dataset(ds, tmp_path / "cache", image_size=64)
    assert attribute_settings(CachedDataset(tmp_path / "cache")) == settings
