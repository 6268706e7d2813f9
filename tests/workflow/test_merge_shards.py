"""``predict`` / ``submit --shard I/N`` then ``merge-shards`` write byte for byte what the unsharded
command writes; a set of shards that is not one whole run is refused (exit 2, one line).

The model is an untrained cpu-smoke checkpoint (random heads, as the hostile suite's) with
DETECTION_MIN_CONFIDENCE 0, so every image has detections and the outputs compared are not empty.
Nothing in the outputs depends on the time of the run, so whole files are compared.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pandas as pd
import pytest

from fashion_mrcnn.cli import main

CATEGORIES = [1, 6, 8, 10, 14, 23, 24]


def run(*args) -> int:
    """``main``'s exit code; argparse's SystemExit (a usage error) counts as its code."""
    try:
        return main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2


def tree(folder) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """6 synthetic 64 px images and an untrained checkpoint of a cpu-smoke run over them."""
    from fashion_mrcnn.data.synthetic import generate
    from fashion_mrcnn.model.maskrcnn import MaskRCNN
    from fashion_mrcnn.model.weights import save_checkpoint
    from fashion_mrcnn.workflow import stages
    from fashion_mrcnn.workflow.rundir import write_classes, write_config

    root = tmp_path_factory.mktemp("shards")
    synth = generate(root / "synth", n_images=6, size=64, seed=3)
    dataset = stages.open_dataset(synth, categories=CATEGORIES)
    config = stages.make_config(
        "cpu-smoke", num_classes=dataset.num_classes, name="s",
        DETECTION_MIN_CONFIDENCE=0.0, DETECTION_MAX_INSTANCES=5,
    )  # fmt: skip
    write_config(config, root / "run")
    write_classes(dataset.categories, root / "run")
    weights = root / "run" / "logs" / "s20260101T0000" / "mask_rcnn_s_0001.h5"
    model = MaskRCNN("inference", stages.inference_config(config), root / "scratch")
    save_checkpoint(model.keras_model, weights)
    return {"root": root, "images": synth / "train", "weights": weights}


@pytest.fixture(scope="module")
def predicted(world):
    """predict unsharded, as shards 1/2 and 2/2, and the shards merged (given in reverse order).

    Inputs: a folder of 6 images, the second truncated (skipped, in shard 1), then the folder's
    first image again (in shard 2; its overlay is ``<stem>_.png`` only when named over the whole
    list): 7 inputs, 3 in shard 1 and 4 in shard 2."""
    root = world["root"] / "predict"
    images = root / "images"
    shutil.copytree(world["images"], images)
    files = sorted(images.glob("*.jpg"))
    files[1].write_bytes(files[1].read_bytes()[:200])
    inputs = (images, files[0])
    weights = ("--weights", world["weights"])
    out = {name: root / name for name in ("full", "s1", "s2", "merged")}
    codes = {
        "full": run("predict", *inputs, *weights, "--out", out["full"]),
        "s1": run("predict", *inputs, *weights, "--out", out["s1"], "--shard", "1/2"),
        "s2": run("predict", *inputs, *weights, "--out", out["s2"], "--shard", "2/2"),
        "merged": run("merge-shards", out["s2"], out["s1"], "--out", out["merged"]),
    }
    return {"out": out, "codes": codes, "files": files}


def test_sharded_predict_merges_into_the_unsharded_output(predicted):
    out, codes, files = predicted["out"], predicted["codes"], predicted["files"]
    assert codes == {"full": 1, "s1": 1, "s2": 0, "merged": 1}  # 1: an image was skipped
    full = tree(out["full"])
    assert tree(out["merged"]) == full
    # the comparison is not vacuous: 6 records with detections, 6 overlays, the skip report
    records = [json.loads(line) for line in full["predictions.jsonl"].decode().splitlines()]
    assert [r["image"] for r in records] == [str(files[k]) for k in (0, 2, 3, 4, 5, 0)]
    assert all(r["instances"] for r in records)
    overlays = sorted(name for name in full if name.startswith("overlays/"))
    expected = [f"{files[k].stem}.png" for k in (0, 2, 3, 4, 5)] + [f"{files[0].stem}_.png"]
    assert overlays == sorted(f"overlays/{name}" for name in expected)
    assert str(files[1]) in full["skipped.csv"].decode()
    assert "shard.json" not in full
    for name, covered, written in (("s1", 3, {"records": 2, "skipped": 1}),
                                   ("s2", 4, {"records": 4, "skipped": 0})):  # fmt: skip
        manifest = json.loads((out[name] / "shard.json").read_text())
        assert (manifest["of"], manifest["total"], len(manifest["items"])) == (2, 7, covered)
        assert manifest["written"] == written


def test_sharded_submit_merges_into_the_unsharded_csv(world, tmp_path):
    weights = ("--weights", world["weights"], "--size", 64, 64)
    images = world["images"]
    full, merged = tmp_path / "full.csv", tmp_path / "merged.csv"
    parts = [tmp_path / f"part{i}.csv" for i in (1, 2, 3)]
    assert run("submit", images, *weights, "--out", full) == 0
    for i, part in enumerate(parts, start=1):  # 6 images: 2 per shard
        assert run("submit", images, *weights, "--out", part, "--shard", f"{i}/3") == 0
    assert run("merge-shards", *parts, "--out", merged) == 0
    assert merged.read_bytes() == full.read_bytes()
    frame = pd.read_csv(full)
    assert frame["ImageId"].nunique() == 6 and (frame["EncodedPixels"] != "1 1").any()
    assert not (tmp_path / "merged.csv.shard.json").exists()
    manifest = json.loads((tmp_path / "part2.csv.shard.json").read_text())
    assert manifest["items"] == [p.name for p in sorted(images.glob("*.jpg"))][2:4]
    model = manifest["settings"].pop("model")
    assert manifest["settings"] == {"size": [64, 64], "overlap": "all", "attributes": "keep",
                                    "min_area": 0, "layout": 2019, "postprocess": None}  # fmt: skip
    assert model["checkpoints_sha256"] == [
        hashlib.sha256(world["weights"].read_bytes()).hexdigest()
    ]
    assert (model["flip"], model["scales"], model["detection"]) == (False, [], [0.0, 5, 0.5])
    # a shard written with other settings, or by another detector, does not join the others
    for n, extra in enumerate((("--min-area", 5), ("--tta", "flip"))):
        other = tmp_path / f"other{n}.csv"
        assert run("submit", images, *weights, "--out", other, "--shard", "3/3", *extra) == 0
        merged2 = tmp_path / f"m{n}.csv"
        assert run("merge-shards", parts[0], parts[1], other, "--out", merged2) == 2


def _edit_manifest(folder, **changes) -> None:
    path = folder / "shard.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def _drop_last_record(folder) -> None:
    jsonl = folder / "predictions.jsonl"
    jsonl.write_text("".join(jsonl.read_text().splitlines(keepends=True)[:-1]))


@pytest.mark.parametrize(
    "case, shards, message",
    [
        ("missing", ("s1",), "missing shard(s) 2/2: got 1 of 2"),
        ("duplicated", ("s1", "s1", "s2"), "shard 1/2 given twice"),
        ("other N", ("s1", "s2"), "the numbers of shards N differ (3 and 2)"),
        ("incomplete", ("s1", "s2"), "s2: 3 records and 0 skipped images, but its manifest says 4"),
        ("not a shard", ("full", "s2"), "full/shard.json: no shard manifest"),
        ("overwrite", ("s1", "s2"), "the merged output would overwrite shard"),
    ],
)
def test_merge_refuses_shards_that_are_not_one_run(predicted, tmp_path, capsys, case, shards,
                                                    message):  # fmt: skip
    out = tmp_path / "merged"
    folders = {name: tmp_path / name for name in ("full", "s1", "s2")}
    for name, folder in folders.items():
        shutil.copytree(predicted["out"][name], folder)
    if case == "other N":
        _edit_manifest(folders["s2"], of=3, shard=2)
    elif case == "incomplete":
        _drop_last_record(folders["s2"])
    elif case == "overwrite":
        out = folders["s1"]
    before = tree(out) if out.exists() else None
    capsys.readouterr()
    assert run("merge-shards", *(folders[s] for s in shards), "--out", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("fashion-mrcnn merge-shards: error: ") and message in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert (tree(out) if out.exists() else None) == before  # nothing written


@pytest.mark.parametrize("command", ["predict", "submit"])
@pytest.mark.parametrize(
    "value, message",
    [("3/2", "shard I must be between 1 and N = 2 (1-based), got 3/2"),
     ("1/0", "the number of shards N must be >= 1, got 1/0"),
     ("half", "expected I/N with whole numbers 1 <= I <= N (e.g. 1/4), got 'half'")],
)  # fmt: skip
def test_a_bad_shard_option_exits_2_naming_it(world, tmp_path, capsys, command, value, message):
    out = tmp_path / ("out" if command == "predict" else "s.csv")
    code = run(command, world["images"], "--weights", world["weights"], "--out", out,
               "--shard", value)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    first = err.splitlines()[0]
    assert first == f"fashion-mrcnn {command}: error: argument --shard: {message}", err
    assert "Traceback" not in err and not out.exists()
