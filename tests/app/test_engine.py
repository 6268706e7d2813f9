"""``app.engine`` with the attribute head: an analysis carries ``detect``'s attributes (the same
instances, ids, scores and probabilities), and the page gets them by name (the run config's names,
else the synthetic scenes', else ``attribute <id>``)."""

from __future__ import annotations

import json

import numpy as np

from fashion_mrcnn.app.engine import attribute_names_for, instance_attributes
from fashion_mrcnn.config import Config


def _config(ids, names=()):
    return Config(NUM_ATTRIBUTES=len(ids), ATTRIBUTE_IDS=ids, ATTRIBUTE_NAMES=list(names))


def test_attribute_names_are_the_configs_else_the_synthetic_scenes_else_the_fallback():
    named = _config([5, 400], ["sleeveless", "wrist-length"])  # the training data's names
    assert attribute_names_for(named) == {5: "sleeveless", 400: "wrist-length"}
    assert attribute_names_for(_config([5, 72])) == {5: "knee (length)", 72: "stripe"}
    assert attribute_names_for(_config([5, 400])) == {}  # not a synthetic vocabulary: no names
    assert attribute_names_for(Config()) == {}
    result = {
        "class_ids": np.array([1, 2]),
        "attribute_ids": [[5, 400], []],
        "attribute_scores": [[np.float32(0.75), 0.5], []],
    }
    assert instance_attributes(result, {5: "knee (length)"}) == [
        [
            {"id": 5, "name": "knee (length)", "score": 0.75},
            {"id": 400, "name": "attribute 400", "score": 0.5},
        ],
        [],
    ]
    assert instance_attributes({"class_ids": np.array([3, 1])}, {}) == [[], []]  # no head


def test_an_engine_with_the_attribute_head_gives_detects_attributes(tmp_path):
    from fashion_mrcnn.app.engine import Engine
    from fashion_mrcnn.data.synthetic import image_rng, render_scene
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.weights import save_checkpoint
    from fashion_mrcnn.workflow import stages
    from fashion_mrcnn.workflow.rundir import write_classes, write_config

    config = stages.make_config(
        "cpu-smoke",
        num_classes=4,
        name="attr",
        NUM_ATTRIBUTES=2,
        ATTRIBUTE_IDS=[5, 72],
        ATTRIBUTE_NAMES=["knee-length", "stripes"],  # as the run's training data named them
        DETECTION_ATTRIBUTE_THRESHOLD=0.0,  # an untrained head: report every attribute
        IMAGE_MIN_DIM=64,
        IMAGE_MAX_DIM=64,
    )
    run = tmp_path / "run"
    write_config(config, run)
    write_classes([{"id": k, "name": f"class {k}"} for k in (1, 6, 10)], run)
    weights = run / "logs" / "attr20260101T0000" / "mask_rcnn_attr_0001.h5"
    untrained = MaskRCNN("inference", stages.inference_config(config), tmp_path / "scratch")
    save_checkpoint(untrained.keras_model, weights)

    engine = Engine(weights)
    image = render_scene(image_rng(4, 0), 64)[0]
    found = engine.analyse(image).result
    want = engine.model.detect([image], min_confidence=0.0)[0]
    n = len(want["class_ids"])
    assert n > 0
    np.testing.assert_array_equal(found["class_ids"], want["class_ids"])
    assert found["attribute_ids"] == want["attribute_ids"] == [[5, 72]] * n
    np.testing.assert_allclose(found["attribute_scores"], want["attribute_scores"], atol=1e-6)
    np.testing.assert_allclose(found["attribute_probs"], want["attribute_probs"], atol=1e-6)
    shown = instance_attributes(found, engine.attribute_names)
    assert [[(a["id"], a["name"]) for a in k] for k in shown] == [
        [(5, "knee-length"), (72, "stripes")]
    ] * n
    assert json.dumps(shown)  # plain JSON for the page
    record = engine.record("scene.png", image.shape, found)  # the page's predict record
    assert [i["attribute_names"] for i in record["instances"]] == [["knee-length", "stripes"]] * n
