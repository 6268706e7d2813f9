"""A notebook written in Matterport's style runs on ``fashion_mrcnn.mrcnn`` with only its import
lines changed (issue 13, section 3).

The notebook below follows Matterport's ``train_shapes.ipynb`` / balloon pattern: a ``Config``
subclass, a ``utils.Dataset`` subclass with ``add_class`` / ``add_image`` / ``load_mask`` /
``image_reference``, COCO-style init with ``exclude``, ``train(layers='heads')`` then
``layers='all'``, ``detect``, ``visualize.display_instances`` / ``display_top_masks`` and a
``utils.compute_ap`` loop. The test writes a Matterport-layout ``mask_rcnn_coco.h5`` (a model
with another class count, ``model_weights`` group, nested ``rpn_model``) and runs the notebook
with nbclient on this interpreter's kernel; then it checks what the staged training did to the
weights, read back from the checkpoints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import nbformat
import numpy as np
import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.model.maskrcnn import MaskRCNN
from fashion_mrcnn.model.weights import HEAD_LAYERS, leaf_layers, read_h5_layers
from fashion_mrcnn.workflow.kernelspec import current_kernel_name, ensure_kernelspec, jupyter_path

#: Matterport's import lines (samples/shapes/train_shapes.ipynb, samples/balloon/balloon.py).
MATTERPORT_IMPORTS = (
    "from mrcnn.config import Config",
    "from mrcnn import utils",
    "import mrcnn.model as modellib",
    "from mrcnn import visualize",
    "from mrcnn.model import log",
)

#: The notebook's config, tiny (64 px, one step per epoch); Matterport attribute names only.
TINY = {
    "GPU_COUNT": 1,
    "IMAGES_PER_GPU": 1,
    "IMAGE_MIN_DIM": 64,
    "IMAGE_MAX_DIM": 64,
    "BACKBONE": "resnet50",
    "RPN_ANCHOR_SCALES": (8, 16, 32, 64, 128),
    "TOP_DOWN_PYRAMID_SIZE": 32,
    "FPN_CLASSIF_FC_LAYERS_SIZE": 64,
    "RPN_TRAIN_ANCHORS_PER_IMAGE": 64,
    "POST_NMS_ROIS_TRAINING": 64,
    "POST_NMS_ROIS_INFERENCE": 32,
    "TRAIN_ROIS_PER_IMAGE": 16,
    "STEPS_PER_EPOCH": 1,
    "VALIDATION_STEPS": 1,
    "DETECTION_MIN_CONFIDENCE": 0.0,
}
COCO_CLASSES = 5  # the "COCO" file's class count: its heads do not fit, hence `exclude`

_config_body = "\n".join(f"    {k} = {v!r}" for k, v in TINY.items())

CELLS = [
    # --- Matterport's imports, `mrcnn` -> `fashion_mrcnn.mrcnn`, nothing else changed
    """\
import os
import numpy as np
import matplotlib.pyplot as plt
from PIL import Image

from fashion_mrcnn.mrcnn.config import Config
from fashion_mrcnn.mrcnn import utils
import fashion_mrcnn.mrcnn.model as modellib
from fashion_mrcnn.mrcnn import visualize
from fashion_mrcnn.mrcnn.model import log

# this notebook's data: synthetic scenes instead of Matterport's shapes
from fashion_mrcnn.data.synthetic import CATEGORY_IDS, render_scene

ROOT_DIR = os.path.abspath(".")
MODEL_DIR = os.path.join(ROOT_DIR, "logs")
COCO_MODEL_PATH = os.path.join(ROOT_DIR, "mask_rcnn_coco.h5")
if not os.path.exists(COCO_MODEL_PATH):
    utils.download_trained_weights(COCO_MODEL_PATH)""",
    f"""\
class ScenesConfig(Config):
    NAME = "scenes"
    NUM_CLASSES = 1 + 7
{_config_body}

config = ScenesConfig()
config.display()""",
    """\
CLASS_NAMES = ["top", "pants", "skirt", "dress", "hat", "shoe", "bag"]


class ScenesDataset(utils.Dataset):
    def load_scenes(self, count, seed, size):
        for category, name in zip(CATEGORY_IDS, CLASS_NAMES):
            self.add_class("scenes", int(category), name)
        rng = np.random.default_rng(seed)
        for i in range(count):
            image, masks, categories = render_scene(rng, size, min_instances=1, max_instances=3)
            path = os.path.join(ROOT_DIR, f"scene_{seed}_{i}.png")
            Image.fromarray(image).save(path)
            self.add_image("scenes", image_id=i, path=path, width=size, height=size,
                           masks=masks, categories=categories)

    def load_mask(self, image_id):
        info = self.image_info[image_id]
        if info["source"] != "scenes":
            return super().load_mask(image_id)
        class_ids = [self.map_source_class_id(f"scenes.{c}") for c in info["categories"]]
        return info["masks"].astype(bool), np.array(class_ids, dtype=np.int32)

    def image_reference(self, image_id):
        info = self.image_info[image_id]
        if info["source"] == "scenes":
            return info["path"]
        return super().image_reference(image_id)


dataset_train = ScenesDataset()
dataset_train.load_scenes(4, seed=0, size=config.IMAGE_SHAPE[0])
dataset_train.prepare()
dataset_val = ScenesDataset()
dataset_val.load_scenes(2, seed=1, size=config.IMAGE_SHAPE[0])
dataset_val.prepare()""",
    """\
image_ids = np.random.choice(dataset_train.image_ids, 2)
for image_id in image_ids:
    image = dataset_train.load_image(image_id)
    mask, class_ids = dataset_train.load_mask(image_id)
    visualize.display_top_masks(image, mask, class_ids, dataset_train.class_names)""",
    """\
model = modellib.MaskRCNN(mode="training", config=config, model_dir=MODEL_DIR)
init_with = "coco"
if init_with == "coco":
    model.load_weights(COCO_MODEL_PATH, by_name=True,
                       exclude=["mrcnn_class_logits", "mrcnn_bbox_fc",
                                "mrcnn_bbox", "mrcnn_mask"])""",
    """\
model.train(dataset_train, dataset_val,
            learning_rate=config.LEARNING_RATE,
            epochs=1,
            layers='heads')""",
    """\
model.train(dataset_train, dataset_val,
            learning_rate=config.LEARNING_RATE / 10,
            epochs=2,
            layers="all")
model_path = os.path.join(MODEL_DIR, "mask_rcnn_shapes.h5")
model.keras_model.save_weights(model_path)""",
    """\
class InferenceConfig(ScenesConfig):
    GPU_COUNT = 1
    IMAGES_PER_GPU = 1

inference_config = InferenceConfig()
model = modellib.MaskRCNN(mode="inference", config=inference_config, model_dir=MODEL_DIR)
model_path = model.find_last()
print("Loading weights from ", model_path)
model.load_weights(model_path, by_name=True)""",
    """\
image_id = dataset_val.image_ids[0]
original_image, image_meta, gt_class_id, gt_bbox, gt_mask =\\
    modellib.load_image_gt(dataset_val, inference_config, image_id, use_mini_mask=False)
log("original_image", original_image)
log("image_meta", image_meta)
log("gt_class_id", gt_class_id)
log("gt_bbox", gt_bbox)
log("gt_mask", gt_mask)
visualize.display_instances(original_image, gt_bbox, gt_mask, gt_class_id,
                            dataset_train.class_names, figsize=(8, 8))
results = model.detect([original_image], verbose=1)
r = results[0]
visualize.display_instances(original_image, r['rois'], r['masks'], r['class_ids'],
                            dataset_val.class_names, r['scores'], figsize=(8, 8))""",
    """\
APs = []
for image_id in dataset_val.image_ids:
    image, image_meta, gt_class_id, gt_bbox, gt_mask =\\
        modellib.load_image_gt(dataset_val, inference_config, image_id, use_mini_mask=False)
    molded_images = np.expand_dims(modellib.mold_image(image, inference_config), 0)
    results = model.detect([image], verbose=0)
    r = results[0]
    AP, precisions, recalls, overlaps =\\
        utils.compute_ap(gt_bbox, gt_class_id, gt_mask,
                         r["rois"], r["class_ids"], r["scores"], r['masks'])
    APs.append(AP)
print("mAP: ", np.mean(APs))""",
    # --- not Matterport's: what the test reads back
    """\
import json
model.load_weights(os.path.join(MODEL_DIR, "mask_rcnn_shapes.h5"), by_name=True)
with open("probe.json", "w") as f:
    json.dump({"model_path": model_path, "APs": [float(a) for a in APs],
               "result_keys": sorted(r), "masks_shape": list(r["masks"].shape),
               "rois_shape": list(r["rois"].shape), "molded_shape": list(molded_images.shape),
               "gt_mask_shape": list(gt_mask.shape)}, f)""",
]


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": current_kernel_name(), "language": "python",
                                 "display_name": "fashion-mrcnn"}  # fmt: skip
    return nb


def _write_matterport_coco_file(path: Path) -> dict[str, np.ndarray]:
    """A Matterport-layout ``.h5`` (top group ``model_weights``, byte names, the RPN layers in
    one nested ``rpn_model`` group) holding the weights of a model of the notebook's
    architecture with COCO_CLASSES classes. Returns ``{"layer/weight": array}`` written."""
    model = MaskRCNN(
        "inference", Config(NAME="coco", NUM_CLASSES=COCO_CLASSES, **TINY), path.parent
    )
    rng = np.random.default_rng(0)
    groups: dict[str, list] = {}
    written = {}
    for name, layer in leaf_layers(model.keras_model).items():
        top = "rpn_model" if name.startswith("rpn_") else name
        for v in layer.weights:
            arr = np.asarray(v) + rng.normal(scale=0.01, size=tuple(v.shape)).astype("f4")
            groups.setdefault(top, []).append((f"{name}/{v.name}:0", arr))
            written[f"{name}/{v.name}"] = arr
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [n.encode() for n in groups]
        for lname, weights in groups.items():
            g = root.create_group(lname)
            g.attrs["weight_names"] = [w.encode() for w, _ in weights]
            for w, a in weights:
                g.create_dataset(w, data=a)
    return written


def _weights(path) -> dict[str, np.ndarray]:
    """``{"layer/weight": array}`` of a checkpoint written by training."""
    return {
        f"{layer}/{w.split('/')[-1].split(':')[0]}": a
        for layer, items in read_h5_layers(path).items()
        for w, a in items
    }


def test_notebook_imports_are_matterports_with_the_package_renamed():
    """Every line of the notebook that imports from ``mrcnn`` is one of Matterport's import
    lines with ``mrcnn`` replaced by ``fashion_mrcnn.mrcnn``; all four are there."""
    lines = [ln.strip() for src in CELLS for ln in src.splitlines()]
    ported = [ln for ln in lines if re.match(r"(from|import) fashion_mrcnn\.mrcnn\b", ln)]
    back = sorted(ln.replace("fashion_mrcnn.mrcnn", "mrcnn") for ln in ported)
    assert back == sorted(MATTERPORT_IMPORTS)


@pytest.mark.timeout(1500)
def test_matterport_style_notebook_runs(tmp_path):
    from nbclient import NotebookClient

    coco = _write_matterport_coco_file(tmp_path / "mask_rcnn_coco.h5")
    nb = _notebook()
    with jupyter_path(ensure_kernelspec()):
        client = NotebookClient(
            nb, timeout=900, kernel_name=current_kernel_name(),
            resources={"metadata": {"path": str(tmp_path)}},
        )  # fmt: skip
        client.execute()
    nbformat.write(nb, tmp_path / "executed.ipynb")

    probe = json.loads((tmp_path / "probe.json").read_text())
    size = TINY["IMAGE_MAX_DIM"]
    assert probe["result_keys"] == ["class_ids", "masks", "rois", "scores"]
    assert probe["masks_shape"][:2] == [size, size] and probe["gt_mask_shape"][:2] == [size, size]
    assert probe["rois_shape"][1:] == [4] and probe["rois_shape"][0] == probe["masks_shape"][2]
    assert probe["molded_shape"] == [1, size, size, 3]
    assert len(probe["APs"]) == 2 and all(0.0 <= a <= 1.0 for a in probe["APs"])
    assert "mAP: " in "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    # display_top_masks (2 images) and display_instances (GT, detections) showed inline figures
    for cell, figures in ((3, 2), (8, 2)):
        pngs = [o for o in nb.cells[cell].outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == figures, f"cell {cell}: {len(pngs)} figures"

    # log: one line per array, name, shape, min, max, dtype
    text = "".join(o.get("text", "") for o in nb.cells[8].outputs)
    line = next(ln for ln in text.splitlines() if ln.startswith("gt_mask "))
    assert re.fullmatch(
        rf"gt_mask +shape: \({size}, {size}, \d+\) +min: +0\.00000 +max: +1\.00000 +bool", line
    )
    assert re.search(r"^image_meta +shape: \(\d+,\) +min: .* float", text, re.M)
    # keras_model.save_weights("mask_rcnn_shapes.h5"): the trained weights, by layer name
    saved = _weights(tmp_path / "logs" / "mask_rcnn_shapes.h5")
    final = _weights(Path(probe["model_path"]))
    assert saved.keys() == final.keys() and len(saved) > 100
    for key, value in final.items():
        np.testing.assert_array_equal(saved[key], value, err_msg=key)

    # staged training, read back from the checkpoints: epoch 1 = heads, epoch 2 = all layers
    run_dir = Path(probe["model_path"]).parent
    heads, full = (_weights(run_dir / f"mask_rcnn_scenes_{e:04d}.h5") for e in (1, 2))
    assert Path(probe["model_path"]).name == "mask_rcnn_scenes_0002.h5"
    backbone = ("conv1/kernel", "res2a_branch2a/kernel", "res5c_branch2c/kernel")
    for key in backbone:  # loaded from the COCO file, frozen during 'heads', trained in 'all'
        np.testing.assert_array_equal(heads[key], coco[key])
        assert not np.array_equal(full[key], heads[key]), f"{key} not trained in 'all'"
    for key in ("fpn_c5p5/kernel", "rpn_conv_shared/kernel", "mrcnn_class_conv1/kernel"):
        assert not np.array_equal(heads[key], coco[key]), f"{key} not trained in 'heads'"
    for name in HEAD_LAYERS:  # excluded: the file's shapes are for another class count
        for key in [k for k in heads if k.startswith(f"{name}/")]:
            assert heads[key].shape != coco[key].shape
