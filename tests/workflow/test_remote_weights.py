"""workflow.remote_weights: ``--weights`` on a URL (copied with its run files into a local cache)
or a run folder (its newest checkpoint), on TensorFlow's in-memory ``ram://`` file system (what
``gs://`` goes through)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from fashion_mrcnn import storage
from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.workflow import remote_weights as RW
from fashion_mrcnn.workflow.rundir import CLASSES_FILE, CONFIG_FILE, find_run_file

OLD, NEW = "logs/h20260101T0000", "logs/h20260102T0000"


@pytest.fixture
def url():
    return f"ram://remote-weights-{uuid.uuid4().hex}/bucket/run"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The cache folder, through the environment variable (as a user sets it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(RW.CACHE_ENV, str(folder))
    return folder


def _put(base: str, files: dict[str, str]) -> None:
    """Write ``{relative path: text}`` under the local folder or URL ``base``."""
    for rel, text in files.items():
        path = storage.join(base, *rel.split("/"))
        storage.makedirs(storage.parent(path))
        if storage.exists(path):  # ram:// appends to a file written again
            storage.remove(path)
        storage.write_text(path, text)


RUN = {
    CONFIG_FILE: "NAME: h\n",
    CLASSES_FILE: "[]\n",
    "train_summary.json": "{}",
    f"{OLD}/mask_rcnn_h_0009.h5": "old run, epoch 9",
    f"{NEW}/mask_rcnn_h_0001.h5": "epoch 1",
    f"{NEW}/mask_rcnn_h_0002.h5": "epoch 2",
    f"{NEW}/mask_rcnn_h_0003.h5.diverged": "set aside",
    f"{NEW}/training.csv": "epoch,loss\n",
}


def test_a_url_run_folder_gives_its_newest_checkpoint_with_the_run_files(url, cache, tmp_path):
    _put(url, RUN)
    local = RW.local_weights(url + "/")
    newest = f"{NEW}/mask_rcnn_h_0002.h5"
    # the newest log dir's highest epoch, under the cache, at the URL's last path parts
    assert local.read_text() == "epoch 2"
    assert local.is_relative_to(cache / "weights")
    assert local.as_posix().endswith(f"run/{newest}")
    # the run files where rundir looks for them; nothing else of the run is copied
    assert find_run_file(local, CONFIG_FILE).read_text() == "NAME: h\n"
    assert find_run_file(local, CLASSES_FILE).read_text() == "[]\n"
    key_dir = local.parents[3]
    copied = sorted(p.relative_to(key_dir).as_posix() for p in key_dir.rglob("*") if p.is_file())
    assert copied == sorted(f"run/{rel}" for rel in (CONFIG_FILE, CLASSES_FILE, newest))
    # a log dir URL and a local run folder follow the same rule
    assert RW.local_weights(storage.join(url, OLD)).read_text() == "old run, epoch 9"
    _put(str(tmp_path / "run"), RUN)
    assert RW.local_weights(tmp_path / "run") == tmp_path / "run" / NEW / "mask_rcnn_h_0002.h5"
    # a local checkpoint, a missing local path and None are left to the loader
    assert RW.local_weights(local) == local
    assert RW.local_weights("nope.h5") == "nope.h5" and RW.local_weights(None) is None


def test_the_cache_is_reused_until_the_url_checkpoint_changes(url, cache, monkeypatch):
    ckpt = storage.join(url, NEW, "mask_rcnn_h_0001.h5")
    _put(url, {CONFIG_FILE: "NAME: h\n", f"{NEW}/mask_rcnn_h_0001.h5": "first"})
    copies = []
    real_copy = storage.copy

    def counting_copy(src, dst):
        copies.append(storage.name(src))
        return real_copy(src, dst)

    monkeypatch.setattr(storage, "copy", counting_copy)
    first = RW.local_weights(ckpt)
    assert copies == [CONFIG_FILE, "mask_rcnn_h_0001.h5"]
    copies.clear()
    assert RW.local_weights(ckpt) == first and copies == []  # a second command: no copy
    assert first.read_text() == "first"
    _put(url, {f"{NEW}/mask_rcnn_h_0001.h5": "retrained"})  # another size: another key
    again = RW.local_weights(ckpt)
    assert again != first and again.read_text() == "retrained"
    assert copies == [CONFIG_FILE, "mask_rcnn_h_0001.h5"]
    assert not list(cache.rglob("*" + RW.PART_SUFFIX))


def test_a_missing_url_or_a_folder_without_checkpoint_is_a_weights_error(url, cache, tmp_path):
    with pytest.raises(WeightsError, match=f"{url}/nope.h5: no such checkpoint or run folder"):
        RW.local_weights(url + "/nope.h5")
    _put(url, {CONFIG_FILE: "NAME: h\n", f"{NEW}/training.csv": "epoch,loss\n"})
    with pytest.raises(WeightsError, match=f"{url}: a folder with no checkpoint"):
        RW.local_weights(url)
    with pytest.raises(WeightsError, match=f"{tmp_path}: a folder with no checkpoint"):
        RW.local_weights(tmp_path)
    assert not cache.exists()  # nothing was copied


def test_predict_from_a_url_checkpoint_gives_the_local_files_records(tmp_path, url, cache):
    """The CLI end to end: ``predict --weights ram://.../mask_rcnn_*.h5`` finds the run's config
    and classes on the URL and writes the records predicting from the local file writes."""
    from fashion_mrcnn.cli import main
    from fashion_mrcnn.data.synthetic import generate
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.weights import save_checkpoint
    from fashion_mrcnn.workflow import stages
    from fashion_mrcnn.workflow.rundir import write_classes, write_config

    synth = generate(tmp_path / "synth", n_images=2, size=64, seed=3)
    dataset = stages.open_dataset(synth, categories=[1, 6, 8])
    config = stages.make_config("cpu-smoke", num_classes=dataset.num_classes, name="h")
    config = config.replace(DETECTION_MIN_CONFIDENCE=0.0)  # random heads: keep some detections
    run = tmp_path / "run"
    write_config(config, run)
    write_classes(dataset.categories, run)
    model = MaskRCNN("inference", stages.inference_config(config), tmp_path / "scratch")
    save_checkpoint(model.keras_model, run / NEW / "mask_rcnn_h_0001.h5")
    for rel in storage.files_under(run):
        storage.makedirs(storage.parent(storage.join(url, rel)))
        storage.copy(run / rel, storage.join(url, rel))
    images = sorted(Path(synth, "train").glob("*.jpg"))[:2]

    def records(weights: str, out: Path) -> list[dict]:
        args = ["predict", *map(str, images), "--weights", weights, "--out", str(out)]
        assert main(args) == 0
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        assert rows
        return rows

    here = records(str(run / NEW / "mask_rcnn_h_0001.h5"), tmp_path / "local")
    there = records(storage.join(url, NEW, "mask_rcnn_h_0001.h5"), tmp_path / "remote")
    assert there == here
    assert sum(len(r["instances"]) for r in here) > 0, here
    assert list(cache.rglob("mask_rcnn_h_0001.h5"))
