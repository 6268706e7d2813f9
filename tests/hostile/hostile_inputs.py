"""The hostile inputs of the suite: each builder writes one bad input into a row's folder.

A builder is ``build(tmp: Path, world: World) -> dict[str, Path]``: the names it returns fill the
row's command template (``{data}``, ``{pred}``, ...). :class:`World` holds what every row may
use: tiny synthetic scenes in the iMaterialist layout (6 images of 64 px, 5 train / 1 val), a
run folder's ``train_config.yaml`` and ``classes.json`` (cpu-smoke, 7 classes) and, built only
when a row asks for it, an untrained checkpoint of that run (``World.checkpoint``).
:func:`diverged_checkpoint` makes from it the checkpoint of a run that diverged.
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

#: The val image of the synthetic scenes (splits.json) and its size.
VAL_IMAGE = "synth_00005.jpg"
SIZE = 64
CATEGORIES = [1, 6, 8, 10, 14, 23, 24]
#: A Kaggle RLE whose second run starts inside the first (decodes only when checked in full).
OVERLAPPING_RLE = "10 20 15 5"


class World:
    """Inputs shared by every row (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        from fashion_mrcnn.data.synthetic import generate
        from fashion_mrcnn.workflow import stages
        from fashion_mrcnn.workflow.rundir import write_classes, write_config

        self.root = root
        self.synth = generate(root / "synth", n_images=6, size=SIZE, seed=3)
        dataset = stages.open_dataset(self.synth, categories=CATEGORIES)
        self.config = stages.make_config("cpu-smoke", num_classes=dataset.num_classes, name="h")
        self.run = root / "run"
        write_config(self.config, self.run)
        write_classes(dataset.categories, self.run)
        #: where the checkpoint is (written by :meth:`checkpoint`, only when a row needs it)
        self.weights = self.run / "logs" / "h20260101T0000" / "mask_rcnn_h_0001.h5"

    def checkpoint(self) -> Path:
        """An untrained checkpoint of the run (random heads: rows test refusals, not accuracy)."""
        if not self.weights.is_file():
            from fashion_mrcnn.model.maskrcnn import MaskRCNN
            from fashion_mrcnn.model.weights import save_checkpoint
            from fashion_mrcnn.workflow.stages import inference_config

            model = MaskRCNN("inference", inference_config(self.config), self.root / "scratch")
            save_checkpoint(model.keras_model, self.weights)
        return self.weights

    def names(self) -> dict[str, Path]:
        return {
            "synth": self.synth,
            "run": self.run,
            "weights": self.weights,
            "config": self.run / "train_config.yaml",
            "classes": self.run / "classes.json",
        }


Builder = Callable[[Path, World], dict[str, Path]]


# ----------------------------------------------------------------------------- data folders
def data_copy(tmp: Path, world: World) -> dict[str, Path]:
    """A writable copy of the synthetic scenes."""
    return {"data": Path(shutil.copytree(world.synth, tmp / "data"))}


def bad_rle_data(tmp: Path, world: World) -> dict[str, Path]:
    """The scenes plus one val row whose RLE runs overlap (passes the CSV indexer's cheap check)."""
    names = data_copy(tmp, world)
    with (names["data"] / "train.csv").open("a") as f:
        f.write(f"{VAL_IMAGE},{OVERLAPPING_RLE},{SIZE},{SIZE},8\n")
    return names


def bad_rle_train_data(tmp: Path, world: World) -> dict[str, Path]:
    """The scenes plus one row of a training image whose RLE runs overlap."""
    names = data_copy(tmp, world)
    with (names["data"] / "train.csv").open("a") as f:
        f.write(f"synth_00000.jpg,{OVERLAPPING_RLE},{SIZE},{SIZE},8\n")
    return names


def run_killed_while_saving(tmp: Path, world: World) -> dict[str, Path]:
    """A 2-epoch cpu-smoke run in ``tmp/out`` whose newest checkpoint was cut short (the
    process was killed while the file was copied)."""
    from fashion_mrcnn.cli import main
    from tests.hostile.hostile_rows import TRAIN_SMOKE

    assert main(["train", str(world.synth), "--out", str(tmp / "out"), *TRAIN_SMOKE]) == 0
    newest = sorted((tmp / "out").glob("logs/*/mask_rcnn_*.h5"))[-1]
    newest.write_bytes(newest.read_bytes()[:1000])
    return {}


def missing_image_data(tmp: Path, world: World) -> dict[str, Path]:
    names = data_copy(tmp, world)
    (names["data"] / "train" / VAL_IMAGE).unlink()
    return names


def truncated_image_data(tmp: Path, world: World) -> dict[str, Path]:
    names = data_copy(tmp, world)
    _truncate(names["data"] / "train" / VAL_IMAGE)
    return names


def bomb_image_data(tmp: Path, world: World) -> dict[str, Path]:
    """One image replaced by a PNG header announcing 400 MP (a decompression bomb)."""
    names = data_copy(tmp, world)
    write_bomb_png(names["data"] / "train" / VAL_IMAGE)
    return names


def csv_only(tmp: Path, world: World) -> dict[str, Path]:
    """train.csv and label_descriptions.json without any image."""
    root = tmp / "csv_only"
    root.mkdir()
    for name in ("train.csv", "label_descriptions.json"):
        shutil.copy(world.synth / name, root / name)
    return {"data": root}


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_bomb_png(path: Path, side: int = 20_000) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    )


def images_with_truncated(tmp: Path, world: World) -> dict[str, Path]:
    """Two good scenes and a truncated JPEG."""
    images = tmp / "images"
    images.mkdir()
    for name in ("synth_00000.jpg", "synth_00001.jpg"):
        shutil.copy(world.synth / "train" / name, images / name)
    shutil.copy(world.synth / "train" / VAL_IMAGE, images / "cut.jpg")
    _truncate(images / "cut.jpg")
    return {"images": images}


# ----------------------------------------------------------------------------- files
def binary_csv(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "labels.csv"
    path.write_bytes(bytes(np.random.default_rng(0).integers(128, 256, 300, dtype=np.uint8)))
    return {"csv": path}


def header_only_voc_csv(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "labels.csv"
    path.write_text("filename,width,height,class,xmin,ymin,xmax,ymax\n")
    return {"csv": path}


def bad_xml_dir(tmp: Path, world: World) -> dict[str, Path]:
    xml = tmp / "xml"
    xml.mkdir()
    (xml / "a.xml").write_text("<annotation><filename>a.jpg")
    return {"xml": xml}


def bad_json(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "instances.json"
    path.write_text('{"images": [')
    return {"json": path}


def coco_json(tmp: Path, world: World) -> dict[str, Path]:
    """The scenes as a COCO JSON in a folder without images."""
    from fashion_mrcnn.data.export import write_coco
    from fashion_mrcnn.data.imaterialist import read_imaterialist

    records, labels, _ = read_imaterialist(
        world.synth / "train.csv", world.synth / "label_descriptions.json", world.synth / "train"
    )
    return {"json": write_coco(records, labels["categories"], tmp / "coco" / "instances.json")}


def postprocess_yaml(text: str) -> Builder:
    def build(tmp: Path, world: World) -> dict[str, Path]:
        path = tmp / "postprocess.yaml"
        path.write_text(text)
        return {"yaml": path}

    return build


def grid_yaml(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "grid.yaml"
    path.write_text("seed: [1, 2\n")
    return {"grid": path}


def one_of_two_predict_shards(tmp: Path, world: World) -> dict[str, Path]:
    """The output of ``predict --shard 1/2`` over the scenes (no image had a detection), alone."""
    from fashion_mrcnn.shards import Shard, manifest_path, write_manifest

    shard = tmp / "shard1"
    shard.mkdir()
    images = [str(p) for p in sorted((world.synth / "train").glob("*.jpg"))]
    records = [{"image": i, "width": SIZE, "height": SIZE, "instances": []} for i in images[:3]]
    (shard / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    written = {"records": len(records), "skipped": 0}
    write_manifest(manifest_path(shard, folder=True), "predict", Shard(1, 2), images, written)
    return {"shard": shard}


def empty_dir(tmp: Path, world: World) -> dict[str, Path]:
    (tmp / "empty").mkdir()
    return {"empty": tmp / "empty"}


def local_file(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "served" / "mask_rcnn_coco.h5"
    path.parent.mkdir()
    path.write_bytes(b"not the weights")
    return {"served": path}


def lone_checkpoint(tmp: Path, world: World) -> dict[str, Path]:
    """A copy of the run's checkpoint with no train_config.yaml / classes.json above it."""
    lone = tmp / "lone" / "mask_rcnn_h_0001.h5"
    lone.parent.mkdir()
    shutil.copy(world.checkpoint(), lone)
    return {"lone": lone}


# ----------------------------------------------------------------------------- predictions
def pred_malformed_on_unknown_image(tmp: Path, world: World) -> dict[str, Path]:
    """A good row on a GT image and a malformed one (runs not increasing) on an unknown image."""
    path = tmp / "pred.csv"
    path.write_text(f"ImageId,EncodedPixels,ClassId\n{VAL_IMAGE},1 10,8\nnope.jpg,5 3 1 2,8\n")
    return {"pred": path}


def pred_empty(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "pred.csv"
    path.write_text("")
    return {"pred": path}


def pred_no_common_image(tmp: Path, world: World) -> dict[str, Path]:
    path = tmp / "pred.csv"
    path.write_text("ImageId,EncodedPixels,ClassId\nother.jpg,1 10,8\n")
    return {"pred": path}


# ----------------------------------------------------------------------------- weights
def url_run_without_checkpoint(tmp: Path, world: World) -> dict[str, str]:
    """A run folder on TensorFlow's in-memory file system (``ram://``, as ``gs://``) holding the
    run's config but no checkpoint; ``url`` names it."""
    import uuid

    from fashion_mrcnn import storage

    url = f"ram://hostile-{uuid.uuid4().hex}/run"
    storage.makedirs(url)
    storage.copy(world.run / "train_config.yaml", storage.join(url, "train_config.yaml"))
    return {"url": url}


def keras_weights_of_another_model(tmp: Path, world: World) -> dict[str, Path]:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp / "other.weights.h5"
    model.save_weights(str(path))
    return {"other": path}


def matterport_h5_of_another_model(tmp: Path, world: World) -> dict[str, Path]:
    import h5py

    path = tmp / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense_7"]
        group = f.create_group("dense_7")
        group.attrs["weight_names"] = [b"dense_7/kernel:0"]
        group.create_dataset("dense_7/kernel:0", data=[[1.0]])
    return {"other": path}


def nan_checkpoint(tmp: Path, world: World) -> dict[str, Path]:
    """The run's checkpoint with one NaN in the mask head."""
    import h5py

    path = tmp / "nan.h5"
    shutil.copy(world.checkpoint(), path)
    with h5py.File(path, "r+") as f:
        group = f["mrcnn_mask"]
        name = group.attrs["weight_names"][0]
        name = name.decode() if isinstance(name, bytes) else name
        data = group[name][()]
        data.flat[0] = np.nan
        group[name][...] = data
    return {"nan": path}


#: The RPN box regressor's kernel in :func:`diverged_checkpoint`: finite (``load_weights`` takes
#: it) but so large that the box deltas overflow, as after a diverged training step.
EXPLODED = 1e30


def diverged_checkpoint(tmp: Path, world: World) -> dict[str, Path]:
    """A run folder (config, classes) whose checkpoint ``mask_rcnn_h_0007.h5`` has exploded but
    finite weights: it loads, and the graph's boxes come out NaN / inf."""
    import h5py

    run = tmp / "diverged_run"
    path = run / "logs" / "h20260101T0000" / "mask_rcnn_h_0007.h5"
    path.parent.mkdir(parents=True)
    for name in ("train_config.yaml", "classes.json"):
        shutil.copy(world.run / name, run / name)
    shutil.copy(world.checkpoint(), path)
    with h5py.File(path, "r+") as f:
        group = f["rpn_bbox_pred"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        kernel = group[next(n for n in names if "kernel" in n)]
        kernel[...] = np.full(kernel.shape, EXPLODED, kernel.dtype)
    return {"diverged": path}


#: The issue's run (issue 22, item 1): 24 synthetic scenes, cpu-smoke, 6 epochs of 6 steps.
ISSUE_RUN = ("--preset", "cpu-smoke", "--heads-epochs", "6", "--all-epochs", "0",
             "--steps-per-epoch", "6", "--val-split", "")  # fmt: skip


#: The issue's ``--resume --lr 0.5 --heads-epochs 10``, as a rate that diverges here: under the
#: scratch recipe's warm-up (200 steps) and cosine, 0.5 is only 0.03 at epoch 7 and the run
#: stays healthy; a constant rate without warm-up makes the loss grow epoch after epoch under
#: the ceiling, as in the issue (0.2: about 21, 237, 1195, 6076 for epochs 7-10, but about one
#: run in three stayed under the guard's 100x; 0.3 diverges within epoch 7: 2 of 2 runs).
DIVERGING_RESUME = ("--lr", "0.3", "--warmup-steps", "0", "--lr-schedule", "constant",
                    "--heads-epochs", "10")  # fmt: skip


def six_healthy_epochs(tmp: Path, world: World) -> dict[str, Path]:
    """The issue's first run, done: 24 scenes in ``tmp/data`` and 6 healthy epochs in
    ``tmp/out`` (a checkpoint and a logged loss for each)."""
    from fashion_mrcnn.cli import main
    from fashion_mrcnn.data.synthetic import generate

    data = generate(tmp / "data", n_images=24, seed=0)
    assert main(["train", str(data), "--out", str(tmp / "out"), *ISSUE_RUN]) == 0
    return {"data": data}


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


def jpeg_bytes(world: World, name: str = "synth_00000.jpg") -> bytes:
    return (world.synth / "train" / name).read_bytes()


def truncated_jpeg_bytes(world: World) -> bytes:
    data = jpeg_bytes(world)
    return data[: len(data) // 2]


def png_bomb_bytes(tmp: Path) -> bytes:
    write_bomb_png(tmp / "bomb.png")
    return (tmp / "bomb.png").read_bytes()


def rgb_image(path: Path, h: int = 40, w: int = 30) -> Path:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), np.uint8)).save(path)
    return path
