"""Commands without ``--weights`` use the shipped starter model, and say so (``rundir``)."""

from __future__ import annotations

import pytest

from fashion_mrcnn.app.samples import dataset_samples
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.workflow import rundir


def test_no_weights_and_no_starter_model_is_one_clear_error(monkeypatch, tmp_path):
    missing = tmp_path / "weights" / "starter" / "mask_rcnn_starter.h5"
    monkeypatch.setattr(rundir, "STARTER_WEIGHTS", missing)
    with pytest.raises(ConfigError, match="no --weights given, and no starter model at"):
        rundir.weights_or_starter(None)


def test_no_weights_picks_the_starter_model_and_says_so(monkeypatch, tmp_path, capsys):
    starter = tmp_path / "mask_rcnn_starter.h5"
    starter.write_bytes(b"h5")
    monkeypatch.setattr(rundir, "STARTER_WEIGHTS", starter)
    assert rundir.weights_or_starter(None) == starter
    assert f"no --weights: using the starter model {starter}" in capsys.readouterr().out
    assert rundir.weights_or_starter("run/ckpt.h5") == rundir.Path("run/ckpt.h5")
    assert capsys.readouterr().out == ""


def test_dataset_samples_are_the_held_out_split(tmp_path):
    import json

    import numpy as np
    from PIL import Image

    (tmp_path / "images").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        Image.fromarray(np.zeros((8, 6, 3), np.uint8)).save(tmp_path / "images" / name)
    (tmp_path / "splits.json").write_text(
        json.dumps({"train": ["a.jpg"], "val": ["c.jpg", "b.jpg"]})
    )
    samples = dataset_samples(tmp_path, n=5)
    assert [s.name for s in samples] == ["c.jpg", "b.jpg"]
    assert samples[0].image.shape == (8, 6, 3)
    assert dataset_samples(tmp_path / "nowhere") == []
