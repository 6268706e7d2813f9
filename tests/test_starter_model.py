"""The shipped starter model (``weights/starter/``, its card MODEL_CARD.md): it loads whole, and
on a held-out ccp-fashion photo it finds a garment of the right class with mask IoU >= 0.5."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.app.catalog import default_catalog_source
from fashion_mrcnn.evaluation.matching import compute_overlaps_masks
from fashion_mrcnn.workflow import rundir, stages

#: A val-split photo (never trained on) and the garments the card says the model finds there.
HELD_OUT_PHOTO = "ccp_0508.jpg"

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(
        not rundir.STARTER_WEIGHTS.is_file(), reason=f"no starter model at {rundir.STARTER_WEIGHTS}"
    ),
]


@pytest.fixture(scope="module")
def starter():
    config, categories = rundir.read_run(rundir.STARTER_WEIGHTS)
    model = stages.load_inference_model(config, rundir.STARTER_WEIGHTS)  # every layer, or refused
    return model, categories


def test_the_starter_model_is_small_and_knows_its_classes(starter):
    model, categories = starter
    assert rundir.STARTER_WEIGHTS.stat().st_size <= 25 * 2**20
    assert model.config.NUM_CLASSES == 1 + len(categories)
    assert {"shoe", "pants", "bag, wallet"} <= {c["name"] for c in categories}


def test_the_starter_model_finds_a_garment_on_a_held_out_photo(starter):
    data = default_catalog_source()
    if data is None:
        pytest.skip("../shared/datasets/ccp-fashion is not here: no held-out photo to check")
    model, categories = starter
    val = stages.open_dataset(data, split="val", categories=[c["id"] for c in categories])
    index = next(i for i in val.image_ids if val.image_info[i]["id"] == HELD_OUT_PHOTO)
    gt_masks, gt_classes = val.load_mask(index)
    result = model.detect([val.load_image(index)])[0]
    assert len(result["class_ids"]) >= 1, "no garment found on a held-out photo"
    ious = compute_overlaps_masks(result["masks"], gt_masks)  # [detections, ground truth]
    same_class = result["class_ids"][:, None] == gt_classes[None, :]
    best = float(np.max(np.where(same_class, ious, 0.0)))
    assert best >= 0.5, f"best same-class mask IoU {best:.2f} on {HELD_OUT_PHOTO}"
