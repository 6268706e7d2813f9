"""The seed VOC workflow through the CLI with no hand-written file (issue 13, section 2):
LabelImg XML -> CSV -> 4:1 split (+ splits.json) -> train --split train -> evaluate --split val
-> VOC box mAP@0.5, with one line saying mask metrics do not apply."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_mrcnn.cli import main
from tests.voc_files import voc_xml

CLASSES = ("shirt", "shoe")


def run(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture()
def voc_dir(tmp_path):
    """Ten 96x80 LabelImg images beside their XML: a red block ("shirt") in each, a blue block
    ("shoe") in every second one; boxes in VOC's 1-based inclusive pixels."""
    folder = tmp_path / "street" / "annotations"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(10):
        image = np.full((80, 96, 3), 200, np.uint8)
        y, x = rng.integers(5, 30, size=2)
        image[y : y + 40, x : x + 30] = (220, 30, 30)
        objects = [("shirt", x + 1, y + 1, x + 30, y + 40)]
        if k % 2:
            image[60:75, 70:90] = (30, 30, 220)
            objects.append(("shoe", 71, 61, 90, 75))
        Image.fromarray(image).save(folder / f"street{k}.jpg")
        (folder / f"street{k}.xml").write_text(voc_xml(f"street{k}.jpg", 96, 80, objects))
    return folder


def test_voc_split_writes_the_splits_json_train_and_evaluate_read(voc_dir, capsys):
    root = voc_dir.parent
    assert run("convert", "voc-csv", voc_dir, root / "labels.csv") == 0
    assert run("convert", "voc-split", root / "labels.csv", root) == 0
    assert f"splits (train / val): {root / 'splits.json'}" in capsys.readouterr().out
    splits = json.loads((root / "splits.json").read_text())
    assert sorted(splits) == ["train", "val"]
    assert (len(splits["train"]), len(splits["val"])) == (8, 2)
    assert sorted(splits["train"] + splits["val"]) == sorted(f"street{k}.jpg" for k in range(10))
    test_csv = pd.read_csv(root / "test_labels.csv")
    assert sorted(set(test_csv["filename"])) == sorted(splits["val"])


def test_a_split_naming_no_image_of_the_data_is_refused(voc_dir, tmp_path, capsys):
    (voc_dir.parent / "splits.json").write_text(json.dumps({"train": ["x.jpg"], "val": []}))
    code = run("train", voc_dir, "--out", tmp_path / "run", "--split", "train")
    err = capsys.readouterr().err
    assert code == 2 and "split 'train' names no image" in err and "splits.json" in err


def test_voc_workflow_end_to_end_reports_box_map_and_no_mask_metrics(voc_dir, tmp_path, capsys):
    root, run_dir, eval_dir = voc_dir.parent, tmp_path / "run", tmp_path / "eval"
    train = ("train", voc_dir, "--out", run_dir, "--preset", "cpu-smoke", "--split", "train",
             "--heads-epochs", 1, "--all-epochs", 0, "--steps-per-epoch", 1,
             "--validation-steps", 1)  # fmt: skip
    assert run(*train) == 2  # no splits.json yet: --split train has nothing to read
    assert "no splits.json found" in capsys.readouterr().err

    assert run("convert", "voc-csv", voc_dir, root / "labels.csv") == 0
    assert run("convert", "voc-split", root / "labels.csv", root) == 0
    assert run(*train) == 0
    checkpoint = sorted(run_dir.glob("logs/*/mask_rcnn_*.h5"))[-1]
    classes = json.loads((run_dir / "classes.json").read_text())
    assert [c["name"] for c in classes] == list(CLASSES)
    capsys.readouterr()

    assert (
        run("evaluate", voc_dir, "--weights", checkpoint, "--split", "val", "--out", eval_dir) == 0
    )
    out = capsys.readouterr().out
    assert "box_map50" in out and "VOC box mAP@0.5 " in out
    assert out.count("mask metrics do not apply") == 1
    assert not any(k in out for k in ("mask_map50", "segm_AP", "bbox_AP"))
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["box_map50"] <= 1.0 and metrics["num_images"] == 2
    assert metrics["num_gt"] == sum(1 + k % 2 for k in range(10) if f"street{k}.jpg"
                                    in json.loads((root / "splits.json").read_text())["val"])  # fmt: skip
    assert not any(k.startswith(("mask_map", "segm")) for k in metrics)
    table = pd.read_csv(eval_dir / "per_class.csv")
    assert list(table.columns) == ["name", "class_id", "n_gt", "n_det", "tp", "fp", "ap"]
    assert "train_count" not in table.columns

    code = run("evaluate", voc_dir, "--weights", checkpoint, "--split", "val", "--out", eval_dir,
               "--analysis")  # fmt: skip
    assert code == 2 and "--analysis) needs masks" in capsys.readouterr().err
