"""Two training steps under MirroredStrategy with the CPU split into two logical devices.

Logical devices must be configured before TensorFlow initialises, so this runs in a subprocess.
"""

from __future__ import annotations

import textwrap

import pytest
from engine_helpers import run_script_result

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    sys.path.insert(0, sys.argv[2])
    from engine_helpers import SceneDataset, smoke_config, synthetic_scenes
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    cfg = smoke_config(GPU_COUNT=2, IMAGES_PER_GPU=1)
    ds = SceneDataset(synthetic_scenes(4, seed=7), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, sys.argv[1], strategy=strategy)
    hist = model.train(ds, None, learning_rate=0.001, epochs=1, layers="heads",
                       steps_per_epoch=2, verbose=0)
    print("RESULT", json.dumps({"replicas": strategy.num_replicas_in_sync,
                                "history": hist.history}))
    """
)


def test_two_steps_under_mirrored_strategy(tmp_path):
    pytest.importorskip("fashion_mrcnn.layers")
    result = run_script_result(SCRIPT, tmp_path)
    assert result["replicas"] == 2
    for k in ("loss", "rpn_class_loss", "mrcnn_mask_loss"):
        assert all(v == v and abs(v) < 1e6 for v in result["history"][k]), k
    assert list((tmp_path / "logs").glob("test*/mask_rcnn_test_0001.h5"))
