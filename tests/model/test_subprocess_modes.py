"""Mixed precision (a process-wide Keras policy, hence a subprocess): train a step, reload into an
inference model, detect."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.model.engine_helpers import run_script_result

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[2])
    import keras
    from engine_helpers import SceneDataset, smoke_config, synthetic_scenes
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    cfg = smoke_config(MIXED_PRECISION=json.loads(sys.argv[3]))
    ds = SceneDataset(synthetic_scenes(2, seed=3), cfg.NUM_CLASSES)
    model = MaskRCNN("training", cfg, sys.argv[1])
    hist = model.train(ds, None, 0.01, epochs=1, layers="all", steps_per_epoch=2, verbose=0)
    infer = MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), sys.argv[1])
    infer.load_weights(model.find_last())
    r = infer.detect([s[0] for s in ds.scenes], min_confidence=0.0)
    print("RESULT", json.dumps({
        "policy": keras.mixed_precision.global_policy().name,
        "layer_policy": model.keras_model.get_layer("fpn_c5p5").dtype_policy.name,
        "optimizer": type(model.trainer.optimizer).__name__,
        "history": hist.history,
        "masks_dtype": [str(x["masks"].dtype) for x in r],
    }))
    """
)


@pytest.mark.parametrize(
    ("setting", "policy", "optimizer"),
    [
        # float16 has no fast CPU kernels (minutes here): behind the slow marker
        pytest.param(True, "mixed_float16", "LossScaleOptimizer", marks=pytest.mark.slow),
        (
            "bfloat16",
            "mixed_bfloat16",
            "ClippedMomentumSGD",
        ),  # no loss scaling: float32's exponent range
    ],
)
def test_mixed_precision_train_and_detect(tmp_path, setting, policy, optimizer):
    result = run_script_result(SCRIPT, tmp_path, json.dumps(setting))
    assert result["layer_policy"] == policy
    assert result["policy"] == "float32"  # the process-wide policy is restored after building
    assert result["optimizer"] == optimizer
    assert all(v == v for v in result["history"]["loss"])
    assert result["masks_dtype"] == ["bool", "bool"]
