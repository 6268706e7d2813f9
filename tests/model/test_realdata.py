"""The engine on the real street-fashion sample (../shared/datasets/ccp-fashion): FashionDataset
-> tf.data pipeline (with the default augmentation) -> one training step -> detect."""

from __future__ import annotations

import numpy as np
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.data.pipeline import INPUT_NAMES, make_dataset

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def ccp_dataset(ccp_dir):
    from fashion_mrcnn.data.dataset import FashionDataset

    ds = FashionDataset.from_imaterialist(ccp_dir / "train.csv", check_images=False)
    ds.prepare()
    return ds


def test_real_images_train_one_step_and_detect(ccp_dataset, tmp_path):
    from fashion_mrcnn.data.augment import default_augmentation
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    cfg = Config.preset("cpu-smoke", NAME="ccp", NUM_CLASSES=ccp_dataset.num_classes)
    ids = ccp_dataset.image_ids[:6]
    batch = next(
        iter(
            make_dataset(
                ccp_dataset, cfg, augmentation=default_augmentation(), seed=1, image_ids=ids
            )
        )
    )[0]
    assert set(batch) == set(INPUT_NAMES)
    class_ids = batch["input_gt_class_ids"].numpy()
    assert (class_ids > 0).any() and class_ids.max() < ccp_dataset.num_classes
    assert (batch["input_rpn_match"].numpy() == 1).any()

    class Subset:  # the first images only, to keep the step cheap
        def __getattr__(self, name):
            return getattr(ccp_dataset, name)

        image_ids = ids

    model = MaskRCNN("training", cfg, tmp_path)
    hist = model.train(
        Subset(),
        None,
        0.001,
        epochs=1,
        layers="all",
        steps_per_epoch=1,
        augmentation=default_augmentation(),
        verbose=0,
    )
    assert all(np.isfinite(hist.history[k][0]) for k in hist.history)
    infer = MaskRCNN("inference", cfg.replace(IMAGES_PER_GPU=1), tmp_path)
    infer.load_weights(model.find_last())
    image = ccp_dataset.load_image(int(ids[0]))
    r = infer.detect([image], min_confidence=0.0)[0]
    assert r["masks"].shape[:2] == image.shape[:2]
