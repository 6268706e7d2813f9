"""SavedModel export: the reloaded model gives the same detections as the Keras model."""

from __future__ import annotations

from fashion_mrcnn.model.export import check_export, load_saved_model
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from tests.model.engine_helpers import smoke_config, synthetic_scenes


def test_export_reload_same_detections(tmp_path):
    cfg = smoke_config(IMAGES_PER_GPU=1, DETECTION_MIN_CONFIDENCE=0.0)
    model = MaskRCNN("inference", cfg, tmp_path)
    images = [s[0] for s in synthetic_scenes(2, seed=9)]
    molded, metas, _ = model.mold_inputs(images)
    diff = check_export(model, tmp_path / "saved", molded, metas)
    assert diff <= 1e-4
    serve = load_saved_model(tmp_path / "saved")
    out = serve(molded, metas)
    assert out["detections"].shape == (2, cfg.DETECTION_MAX_INSTANCES, 6)
    assert out["mrcnn_mask"].shape[:2] == (2, cfg.DETECTION_MAX_INSTANCES)
