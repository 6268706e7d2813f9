"""``fashion_mrcnn.mrcnn`` exposes the project's own functions under Matterport's module layout
and names, and adapts the signatures that differ (issue 13, section 3)."""

from __future__ import annotations

import numpy as np
import pytest

import fashion_mrcnn.mrcnn.model as modellib
from fashion_mrcnn.config import Config as ProjectConfig
from fashion_mrcnn.data import dataset as project_dataset
from fashion_mrcnn.data.pipeline import load_image_gt as project_load_image_gt
from fashion_mrcnn.data.synthetic import render_scene
from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.evaluation import matching
from fashion_mrcnn.mrcnn import utils, visualize
from fashion_mrcnn.mrcnn.config import Config
from fashion_mrcnn.ops import boxes, image
from fashion_mrcnn.viz import figures

#: (Matterport module, name, the project's object it must be)
SAME_OBJECT = [
    (utils, "Dataset", project_dataset.Dataset),
    (utils, "compute_ap", matching.compute_ap),
    (utils, "compute_matches", matching.compute_matches),
    (utils, "compute_overlaps", matching.compute_overlaps),
    (utils, "compute_overlaps_masks", matching.compute_overlaps_masks),
    (utils, "compute_ap_range", matching.compute_ap_range),
    (utils, "compute_recall", matching.compute_recall),
    (utils, "resize_image", image.resize_image),
    (utils, "resize_mask", image.resize_mask),
    (utils, "extract_bboxes", boxes.extract_bboxes),
    (modellib, "mold_image", image.mold_image),
    (modellib, "unmold_image", image.unmold_image),
    (modellib, "compose_image_meta", image.compose_image_meta),
    (modellib, "parse_image_meta", image.parse_image_meta),
    (visualize, "display_instances", figures.display_instances),
    (visualize, "display_top_masks", figures.display_top_masks),
    (visualize, "display_differences", figures.display_differences),
    (visualize, "plot_precision_recall", figures.plot_precision_recall),
]


@pytest.mark.parametrize("module,name,target", SAME_OBJECT, ids=lambda v: getattr(v, "__name__", v))
def test_reexports_are_the_projects_own_objects(module, name, target):
    assert getattr(module, name) is target
    assert name in module.__all__


def test_config_and_model_are_the_projects():
    from fashion_mrcnn.model.maskrcnn import MaskRCNN

    assert Config is ProjectConfig and modellib.MaskRCNN is MaskRCNN


class _Scenes(utils.Dataset):
    """Two synthetic scenes, masks kept in the image info (Matterport's balloon pattern)."""

    def __init__(self, size):
        super().__init__()
        self.add_class("scenes", 1, "garment")
        rng = np.random.default_rng(3)
        for i in range(2):
            img, masks, _ = render_scene(rng, size, min_instances=2, max_instances=3)
            self.add_image("scenes", i, path=f"scene{i}", image=img, masks=masks)
        self.prepare()

    def load_image(self, image_id):
        return self.image_info[image_id]["image"]

    def load_mask(self, image_id):
        masks = self.image_info[image_id]["masks"]
        return masks, np.ones(masks.shape[-1], np.int32)


def _config(**kw):
    return Config(NAME="t", NUM_CLASSES=2, IMAGE_MIN_DIM=64, IMAGE_MAX_DIM=64, **kw)


def test_load_image_gt_returns_matterports_five_values_with_full_size_masks():
    """Matterport: ``use_mini_mask=False`` by default -> masks [H, W, N] of the resized image,
    whatever ``config.USE_MINI_MASK`` says; True -> MINI_MASK_SHAPE crops."""
    dataset = _Scenes(96)  # resized to 64 by the config
    config = _config(USE_MINI_MASK=True, MINI_MASK_SHAPE=(16, 16))
    out = modellib.load_image_gt(dataset, config, 0)
    assert len(out) == 5
    img, meta, class_ids, bbox, mask = out
    assert img.shape == (64, 64, 3) and mask.shape == (64, 64, len(class_ids))
    assert meta.shape == (config.IMAGE_META_SIZE,) and bbox.shape == (len(class_ids), 4)
    np.testing.assert_array_equal(utils.extract_bboxes(mask), bbox)
    ours = project_load_image_gt(dataset, config.replace(USE_MINI_MASK=False), 0)
    for a, b in zip(out, ours[:5]):
        np.testing.assert_array_equal(a, b)
    *_, mini = modellib.load_image_gt(dataset, _config(USE_MINI_MASK=False,
                                      MINI_MASK_SHAPE=(16, 16)), 0, use_mini_mask=True)  # fmt: skip
    assert mini.shape == (16, 16, len(class_ids))


def test_load_image_gt_refuses_matterports_deprecated_augment_flag():
    with pytest.raises(ValueError, match="augment=True.*augmentation="):
        modellib.load_image_gt(_Scenes(64), _config(), 0, augment=True)


def test_download_trained_weights_keeps_matterports_signature(tmp_path, monkeypatch, capsys):
    """``download_trained_weights(path, verbose)`` fetches the COCO release URL (here a
    file:// stand-in) to ``path``; a failed download raises naming the destination."""
    from fashion_mrcnn.model import weights

    source = tmp_path / "release.h5"
    source.write_bytes(b"weights bytes")
    monkeypatch.setattr(weights, "COCO_URL", source.as_uri())
    dest = tmp_path / "w" / "mask_rcnn_coco.h5"
    assert utils.download_trained_weights(str(dest), verbose=0) == dest
    assert dest.read_bytes() == b"weights bytes" and capsys.readouterr().out == ""
    monkeypatch.setattr(weights, "COCO_URL", (tmp_path / "absent.h5").as_uri())
    with pytest.raises(WeightsError, match="other.h5"):
        utils.download_trained_weights(str(tmp_path / "other.h5"), verbose=0)


def test_non_max_suppression_keeps_matterports_arguments():
    b = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    keep = utils.non_max_suppression(b, np.array([0.9, 0.8, 0.7]), 0.5)
    assert keep.tolist() == [0, 2]
