"""The attribute-head switch: ``train --attributes`` and the ``attributes`` parameter of notebooks
01-03 give the training stage the same config (``stages.attribute_head_config``); off by default.

No model is built: the CLI's training stage is a stand-in, and each notebook's cells run in this
process up to the line that applies the switch (its setup cell and evaluations are left out).
"""

from __future__ import annotations

import json

import pytest

from fashion_mrcnn.cli import main
from fashion_mrcnn.workflow import papermill_runner, stages
from tests.workflow.train_fakes import no_steps_summary

HEAD_KEYS = ("NUM_ATTRIBUTES", "ATTRIBUTE_IDS", "ATTRIBUTE_CLASS_IDS", "ATTRIBUTE_NAMES")
SWITCH = "stages.attribute_head_config("


def _head(config) -> dict:
    return {k: getattr(config, k) for k in HEAD_KEYS}


def _train_csv_class_ids(data) -> list[str]:
    return [line.rsplit(",", 1)[1] for line in (data / "train.csv").read_text().splitlines()[1:]]


def test_ensure_synthetic_regenerates_when_the_attributes_setting_changes(tmp_path):
    out = tmp_path / "synth"
    stages.ensure_synthetic(out, n_images=3, size=48, seed=2)
    assert not any("_" in c for c in _train_csv_class_ids(out))
    stages.ensure_synthetic(out, n_images=3, size=48, seed=2, attributes=True)
    assert any("_" in c for c in _train_csv_class_ids(out))
    stamp = (out / "train.csv").stat().st_mtime_ns
    stages.ensure_synthetic(out, n_images=3, size=48, seed=2, attributes=True)  # reused
    assert (out / "train.csv").stat().st_mtime_ns == stamp


def _notebook_config(stage: str, **parameters):
    """Run ``stage``'s parameters cell, ``parameters`` on top, then its code cells (not the
    Colab setup cell nor a cell evaluating a model) up to and including the line applying the
    attribute switch; return the namespace."""
    nb = json.loads((papermill_runner.notebooks_dir() / f"{stage}.ipynb").read_text())
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    namespace: dict = {}
    exec("".join(tagged[0]["source"]), namespace)
    namespace.update(parameters)
    for source in cells[cells.index("".join(tagged[0]["source"])) + 1 :]:
        if "runtime_report" in source or "stages.evaluate(" in source:
            continue
        if SWITCH in source:
            lines = source.splitlines()
            end = next(k for k, line in enumerate(lines) if SWITCH in line)
            exec("\n".join(lines[: end + 1]), namespace)
            return namespace
        exec(source, namespace)
    raise AssertionError(f"{stage} never applies {SWITCH}")


@pytest.mark.parametrize("stage", ["01_subset_tuning", "02_full_training"])
def test_notebook_attributes_parameter_gives_the_config_train_attributes_gives(
    stage, tmp_path, monkeypatch, capsys
):
    small = {"synthetic_images": 6, "image_size": 64, "preset": "cpu-smoke"}
    off = _notebook_config(stage, output_dir=str(tmp_path / "off"), **small)
    assert off["attributes"] is False  # the default
    config_name = "base_config" if stage == "01_subset_tuning" else "config"
    assert off[config_name].NUM_ATTRIBUTES == 0
    on = _notebook_config(stage, output_dir=str(tmp_path / "on"), attributes=True, **small)
    notebook_head = _head(on[config_name])
    assert notebook_head["NUM_ATTRIBUTES"] > 0
    assert len(notebook_head["ATTRIBUTE_NAMES"]) == notebook_head["NUM_ATTRIBUTES"]  # synthetic

    seen = {}

    def fake_train(config, train_ds, val_ds, out_dir, **kwargs):
        seen["config"] = config
        return no_steps_summary(out_dir)

    monkeypatch.setattr(stages, "train", fake_train)
    data = on["data_path"]  # the scenes the notebook generated, with attributes
    args = ["train", str(data), "--out", str(tmp_path / "run"), "--preset", "cpu-smoke"]
    assert main([*args, "--val-split", "", "--attributes"]) == 0
    assert _head(seen["config"]) == notebook_head
    assert "attribute head: " in capsys.readouterr().out
    assert main([*args, "--val-split", ""]) == 0
    assert seen["config"].NUM_ATTRIBUTES == 0


def test_oversampling_notebook_adds_the_head_to_its_training_only(tmp_path):
    start = _notebook_config("02_full_training", output_dir=str(tmp_path / "02"),
                             synthetic_images=6, image_size=64, preset="cpu-smoke")  # fmt: skip
    config_path = start["config"].to_yaml(tmp_path / "start.yaml")
    weights = tmp_path / "mask_rcnn_fashion_0002.h5"
    weights.write_bytes(b"")
    common = {"output_dir": str(tmp_path / "03"), "synthetic_images": 6, "image_size": 64,
              "config_path": str(config_path), "weights": str(weights)}  # fmt: skip
    off = _notebook_config("03_minority_oversampling", **common)
    assert off["config"].NUM_ATTRIBUTES == 0  # the previous stage's configuration
    on = _notebook_config("03_minority_oversampling", attributes=True, **common)
    assert on["config"].NUM_ATTRIBUTES > 0
    train = stages.open_dataset(on["data_path"], split="train")
    assert _head(on["config"]) == _head(stages.attribute_head_config(start["config"], train, True))
