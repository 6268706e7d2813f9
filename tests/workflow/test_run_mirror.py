"""workflow.run_mirror: a run folder on a URL, trained in a local staging folder and copied up
file by file; checked on TensorFlow's in-memory ``ram://`` file system (what ``gs://`` goes
through). The end-to-end ``train --out ram://... [--resume]`` run is the slow test below."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from fashion_mrcnn import storage
from fashion_mrcnn.errors import WeightsError
from fashion_mrcnn.model.checkpoints import find_checkpoints
from fashion_mrcnn.workflow import run_mirror as M

CKPT_DIR = "logs/test20260101T1200"


@pytest.fixture
def url():
    return f"ram://run-mirror-{uuid.uuid4().hex}/run"


def _write(folder: Path, rel: str, text: str) -> Path:
    path = folder.joinpath(*rel.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _on_url(url: str) -> dict[str, str]:
    return {rel: storage.read_text(storage.join(url, rel)) for rel in storage.files_under(url)}


def test_sync_sends_new_and_changed_files_and_removes_what_the_run_removed(
    tmp_path, url, monkeypatch
):
    local = tmp_path / "stage"
    mirror = M.RunMirror(local, url)
    _write(local, "train_config.yaml", "NAME: test\n")
    csv = _write(local, f"{CKPT_DIR}/training.csv", "epoch,loss\n0,3.0\n")
    first = _write(local, f"{CKPT_DIR}/mask_rcnn_test_0001.h5", "weights 1")
    _write(local, f"{CKPT_DIR}/mask_rcnn_test_0002.h5.tmp", "half written")  # being saved
    copies = Counter()
    real_copy = storage.copy

    def counting_copy(src, dst):
        copies[storage.name(dst)] += 1
        return real_copy(src, dst)

    monkeypatch.setattr(storage, "copy", counting_copy)
    mirror.sync()
    assert _on_url(url) == {
        "train_config.yaml": "NAME: test\n",
        f"{CKPT_DIR}/training.csv": "epoch,loss\n0,3.0\n",
        f"{CKPT_DIR}/mask_rcnn_test_0001.h5": "weights 1",
    }
    assert sum(copies.values()) == 3 and all(k.endswith(M.UPLOAD_SUFFIX) for k in copies)
    # the next epoch: a new checkpoint, the CSV appended to, the first checkpoint set aside
    os.utime(csv, ns=(1, 1))  # a changed file is sent again even if its size were the same
    csv.write_text("epoch,loss\n0,3.0\n1,9e9\n")
    _write(local, f"{CKPT_DIR}/mask_rcnn_test_0002.h5", "weights 2")
    (local / f"{CKPT_DIR}/mask_rcnn_test_0002.h5.tmp").unlink()
    first.rename(first.with_name(first.name + ".diverged"))
    copies.clear()
    mirror.sync()
    assert _on_url(url) == {
        "train_config.yaml": "NAME: test\n",
        f"{CKPT_DIR}/training.csv": "epoch,loss\n0,3.0\n1,9e9\n",
        f"{CKPT_DIR}/mask_rcnn_test_0001.h5.diverged": "weights 1",
        f"{CKPT_DIR}/mask_rcnn_test_0002.h5": "weights 2",
    }
    assert sorted(copies) == [
        "mask_rcnn_test_0001.h5.diverged.tmp",
        "mask_rcnn_test_0002.h5.tmp",
        "training.csv.tmp",
    ]  # the unchanged config is not sent again
    copies.clear()
    mirror.sync()
    assert not copies
    # the URL's checkpoints are listed as a local folder's are
    assert find_checkpoints(storage.join(url, "logs"), "test") == [
        storage.join(url, CKPT_DIR, "mask_rcnn_test_0002.h5")
    ]
    # paths the run reports are the URL's
    ckpt = local / CKPT_DIR / "mask_rcnn_test_0002.h5"
    assert mirror.publish(str(ckpt)) == f"{url}/{CKPT_DIR}/mask_rcnn_test_0002.h5"
    assert mirror.publish(str(local)) == url and mirror.publish(None) is None
    assert mirror.publish("/elsewhere/x.h5") == "/elsewhere/x.h5"
    assert mirror.publish_text(f"Last good checkpoint: {ckpt}.") == (
        f"Last good checkpoint: {url}/{CKPT_DIR}/mask_rcnn_test_0002.h5."
    )
    mirror.close()
    assert not local.exists()  # all is up: the staging folder is gone


def test_close_keeps_the_staging_folder_when_the_copy_fails(tmp_path, url, monkeypatch):
    local = tmp_path / "stage"
    _write(local, "train_summary.json", "{}")
    mirror = M.RunMirror(local, url)

    def broken(src, dst):
        raise OSError("the bucket went away")

    monkeypatch.setattr(storage, "copy", broken)
    with pytest.raises(OSError, match=f"copying the run folder to {url} failed .*kept in {local}"):
        mirror.close()
    assert (local / "train_summary.json").is_file()


class _Loads:
    """Stands in for a MaskRCNN in ``load_newest``: a file reading "truncated" does not load."""

    config = SimpleNamespace(NAME="test")

    def __init__(self):
        self.loaded = None

    def load_weights(self, path, by_name=False, allow_partial=False):
        assert by_name and Path(path).is_file()
        if Path(path).read_text() == "truncated":
            raise WeightsError(f"cannot read {path}")
        self.loaded = path


def test_resume_pulls_the_run_but_its_checkpoints_then_the_newest_that_loads(
    tmp_path, url, capsys, monkeypatch
):
    remote = tmp_path / "remote"
    for rel, text in {
        "train_summary.json": '{"start_epoch": 0}',
        f"{CKPT_DIR}/training.csv": "epoch,loss\n0,3.0\n1,2.0\n",
        f"{CKPT_DIR}/mask_rcnn_test_0001.h5": "weights 1",
        f"{CKPT_DIR}/mask_rcnn_test_0002.h5": "truncated",
        f"{CKPT_DIR}/mask_rcnn_test_0003.h5.diverged": "weights 3",
        "logs/leftover.tmp": "an upload that never finished",
    }.items():
        _write(remote, rel, text)
    for rel in storage.files_under(remote):
        storage.makedirs(storage.parent(storage.join(url, rel)))
        storage.copy(remote.joinpath(*rel.split("/")), storage.join(url, rel))
    local = tmp_path / "stage"
    mirror = M.RunMirror(local, url)
    mirror.pull()
    assert storage.files_under(local) == [f"{CKPT_DIR}/training.csv", "train_summary.json"]
    model = _Loads()
    got = mirror.resume(model)
    assert got == model.loaded == str(local / CKPT_DIR / "mask_rcnn_test_0001.h5")
    out = capsys.readouterr().out
    assert f"skipping checkpoint {url}/{CKPT_DIR}/mask_rcnn_test_0002.h5: cannot read" in out
    assert storage.files_under(local / "logs") == [
        "test20260101T1200/mask_rcnn_test_0001.h5",  # the skipped one's copy is removed
        "test20260101T1200/training.csv",
    ]
    monkeypatch.setattr(storage, "copy", None)  # nothing is copied up or down from here
    mirror.sync()  # nothing new: nothing goes up, nothing on the URL is removed
    assert len(storage.files_under(url)) == 6
    monkeypatch.undo()
    storage.remove(storage.join(url, CKPT_DIR, "mask_rcnn_test_0001.h5"))
    with pytest.raises(WeightsError, match="none of the 1 checkpoints under .*cannot read"):
        M.load_newest(_Loads(), storage.join(url, "logs"), tmp_path / "again")
    with pytest.raises(FileNotFoundError, match="no checkpoint under"):
        M.load_newest(_Loads(), storage.join(url, "nothing"), tmp_path / "again")
    assert json.loads((local / "train_summary.json").read_text()) == {"start_epoch": 0}


def test_a_url_run_that_diverges_names_the_urls_checkpoint_and_still_goes_up(
    tmp_path, url, monkeypatch
):
    """stages.train with a URL: ``_train`` writes into a staging folder; its divergence message
    comes out with the URL's paths, and the folder is copied up and removed all the same."""
    from fashion_mrcnn.errors import TrainingDivergedError
    from fashion_mrcnn.workflow.stages import training as T

    seen = {}

    def diverging(config, train_ds, val_ds, read_dir, *rest):
        scratch, mirror = rest[-2:]
        seen.update(read_dir=read_dir, scratch=scratch, mirror=mirror)
        ckpt = _write(scratch, f"{CKPT_DIR}/mask_rcnn_test_0001.h5", "weights")
        raise TrainingDivergedError(f"training stopped: loss nan. Last good checkpoint: {ckpt}.")

    monkeypatch.setattr(T, "_train", diverging)
    want = re.escape(f"Last good checkpoint: {url}/{CKPT_DIR}/mask_rcnn_test_0001.h5.")
    with pytest.raises(TrainingDivergedError, match=want):
        T.train(T.make_config("cpu-smoke", num_classes=8), None, None, url, strategy="one")
    assert seen["read_dir"] == url and seen["mirror"].local == seen["scratch"]
    assert storage.files_under(url) == [f"{CKPT_DIR}/mask_rcnn_test_0001.h5"]
    assert not seen["scratch"].exists()


@pytest.mark.slow  # two tiny training runs (about 20 s on 2 cores)
def test_train_into_a_url_run_folder_and_resume_from_it(tmp_path, url, capsys, eager):
    """``train --out ram://...`` leaves the run folder on the URL (and no staging folder);
    ``--resume`` continues it from the URL's checkpoint, its CSV log and summary."""
    import pandas as pd

    from fashion_mrcnn.cli import main

    data = tmp_path / "synth"
    assert main(["synth", "--images", "4", "--size", "64", "--seed", "3", "--out", str(data)]) == 0
    args = ["train", str(data), "--out", url, "--preset", "cpu-smoke", "--all-epochs", "0",
            "--steps-per-epoch", "1", "--val-split", ""]  # fmt: skip
    capsys.readouterr()
    assert main([*args, "--heads-epochs", "1"]) == 0
    staging = re.search(r"training in (\S+), copied there", capsys.readouterr().out)[1]
    assert not os.path.exists(staging)
    files = storage.files_under(url)
    logs = next(f.rsplit("/", 1)[0] for f in files if f.endswith("training.csv"))
    first = f"{url}/{logs}/mask_rcnn_fashion_0001.h5"
    assert {"train_config.yaml", "classes.json", "train_summary.json"} <= set(files)
    assert f"{logs}/mask_rcnn_fashion_0001.h5" in files
    assert not [f for f in files if f.endswith(".tmp")]
    summary = json.loads(storage.read_text(f"{url}/train_summary.json"))
    assert (summary["status"], summary["checkpoint"]) == ("finished", first)
    assert summary["log_dir"] == f"{url}/{logs}"

    assert main([*args, "--heads-epochs", "2", "--resume"]) == 0
    assert "Starting at epoch 1." in capsys.readouterr().out
    summary = json.loads(storage.read_text(f"{url}/train_summary.json"))
    assert summary["epochs"] == 2
    assert summary["checkpoint"] == f"{url}/{logs}/mask_rcnn_fashion_0002.h5"
    assert find_checkpoints(f"{url}/logs", "fashion") == [summary["checkpoint"], first]
    with storage.open_file(f"{url}/{logs}/training.csv") as f:
        assert pd.read_csv(f)["epoch"].tolist() == [0, 1]  # the first run's row came back up
