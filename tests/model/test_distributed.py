"""MirroredStrategy over two logical CPU devices: one seeded SGD step on one device and on two
replicas, on the same batch, gives the same loss and the same updated weights.

Both replicas see one image each, so the per-replica loss must be divided by the replica count
before the gradients are summed across replicas (``MaskRCNNTrainer.train_step``); without that
division the update is twice as large. The batch holds the same scene twice and ROI sampling is
made deterministic, so one image's loss equals the two-image batch loss exactly. Gradient
clipping is off: it would hide a doubled gradient. Logical devices must be configured before
TensorFlow initialises, so this runs in a subprocess.
"""

from __future__ import annotations

import textwrap

from tests.model.engine_helpers import run_script_result

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    sys.path.insert(0, sys.argv[2])
    import keras
    import numpy as np
    from engine_helpers import SceneDataset, smoke_config, synthetic_scenes
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.weights import save_checkpoint

    logs = sys.argv[1]
    scene = synthetic_scenes(1, seed=7)[0]

    def one_step(strategy, **overrides):
        cfg = smoke_config(GRADIENT_CLIP_NORM=None, **overrides)
        model = MaskRCNN("training", cfg, logs, strategy=strategy)
        model.keras_model.get_layer("proposal_targets").deterministic = True
        model.load_weights(init)
        before = {v.path: np.asarray(v).copy() for v in model.keras_model.trainable_weights}
        data = SceneDataset([scene, scene], cfg.NUM_CLASSES)
        hist = model.train(data, None, 0.02, epochs=1, layers="heads", steps_per_epoch=1,
                           verbose=0)
        delta = {k: np.asarray(v) - before[k]
                 for k, v in ((v.path, v) for v in model.keras_model.weights) if k in before}
        return hist.history["loss"][0], delta

    tf.config.run_functions_eagerly(True)  # no step tracing: the maths is the same, 4x faster
    keras.utils.set_random_seed(0)
    init = logs + "/init.h5"
    save_checkpoint(MaskRCNN("training", smoke_config(), logs).keras_model, init)
    loss_1, delta_1 = one_step(None, IMAGES_PER_GPU=2, GPU_COUNT=1)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    loss_2, delta_2 = one_step(strategy, IMAGES_PER_GPU=1, GPU_COUNT=2)
    norm = np.sqrt(sum((d ** 2).sum() for d in delta_1.values()))
    error = np.sqrt(sum(((delta_2[k] - d) ** 2).sum() for k, d in delta_1.items()))
    print("RESULT", json.dumps({
        "replicas": strategy.num_replicas_in_sync, "loss_1": loss_1, "loss_2": loss_2,
        "update_norm": float(norm), "relative_error": float(error / norm),
        "same_keys": sorted(delta_1) == sorted(delta_2),
    }))
    """
)


def test_one_sgd_step_same_on_one_device_and_two_replicas(tmp_path):
    result = run_script_result(SCRIPT, tmp_path)
    assert result["replicas"] == 2 and result["same_keys"]
    assert abs(result["loss_2"] - result["loss_1"]) <= 1e-5 * abs(result["loss_1"]), result
    assert result["update_norm"] > 1e-3, result  # the step really moved the weights
    # float32 sums over a batch of two vs two batches of one already differ by ~2.4e-4 of the
    # update in this graph (also without any strategy). 1.0e-2 was seen once on a loaded CI leg
    # (py3.10; 2.4e-4 there when rerun alone), likely because the replicas' threads share the
    # eager random-op counter and so can swap their RoI-sampling draws. A missing ``/ replicas``
    # gives 1.0.
    assert result["relative_error"] < 5e-2, result
    assert list((tmp_path / "logs").glob("test*/mask_rcnn_test_0001.h5"))
