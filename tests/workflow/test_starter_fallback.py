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


def test_serving_the_starter_model_keeps_its_catalogue_out_of_the_repository(tmp_path):
    from types import SimpleNamespace

    from fashion_mrcnn.app.serving import _catalog_cache

    if not rundir.STARTER_WEIGHTS.is_file():
        pytest.skip(f"no starter model at {rundir.STARTER_WEIGHTS}")
    starter = SimpleNamespace(weights=rundir.STARTER_WEIGHTS, weights_sha256="0123456789abcdef")
    assert not _catalog_cache(starter).is_relative_to(rundir.STARTER_WEIGHTS.parent)
    (tmp_path / "train_config.yaml").write_text("NAME: x\n")
    run = SimpleNamespace(weights=tmp_path / "ckpt.h5", weights_sha256="0123456789abcdef")
    assert _catalog_cache(run) == tmp_path / "app-catalog"  # a run folder keeps its own
