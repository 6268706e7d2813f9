"""``fashion-mrcnn train --strategy``: the option, the error without a TPU (exit 2, one line),
and what ``cmd_train`` hands the training stage (the built strategy, the global batch)."""

from __future__ import annotations

import pytest

from fashion_mrcnn.cli import build_parser, main
from fashion_mrcnn.constants import STRATEGY_NAMES
from tests.workflow.train_fakes import no_steps_summary


def test_strategy_option_defaults_to_auto_and_takes_every_name(capsys):
    parser = build_parser()
    assert parser.parse_args(["train", "data"]).strategy == "auto"
    for name in STRATEGY_NAMES:
        assert parser.parse_args(["train", "data", "--strategy", name]).strategy == name
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["train", "data", "--strategy", "horovod"])
    assert exc.value.code == 2
    assert "invalid choice: 'horovod'" in capsys.readouterr().err


def test_tpu_without_a_tpu_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    from fashion_mrcnn.model import distribute

    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.setattr(distribute.glob, "glob", lambda pattern: [])
    code = main(["train", str(tmp_path / "absent"), "--out", str(tmp_path), "--strategy", "tpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("fashion-mrcnn train: error: --strategy tpu: no TPU found")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_multiworker_without_tf_config_exits_2_before_reading_data(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = main(["train", str(tmp_path / "absent"), "--strategy", "multiworker"])
    assert code == 2
    assert "--strategy multiworker needs TF_CONFIG" in capsys.readouterr().err


def test_train_hands_the_strategy_and_the_global_batch_to_the_stage(tmp_path, monkeypatch, capsys):
    from fashion_mrcnn.model import distribute
    from fashion_mrcnn.workflow import stages

    data = tmp_path / "synth"
    assert main(["synth", "--images", "5", "--size", "64", "--out", str(data)]) == 0
    two = distribute.Distribution("mirrored", None, 2)  # what `mirrored` builds on 2 GPUs
    monkeypatch.setattr(distribute, "build", lambda name: two if name == "mirrored" else None)
    seen = {}

    def fake_train(config, train_ds, val_ds, out_dir, **kwargs):
        seen.update(kwargs, config=config, images=train_ds.num_images)
        return no_steps_summary(out_dir)

    monkeypatch.setattr(stages, "train", fake_train)
    args = ["train", str(data), "--out", str(tmp_path / "run"), "--preset", "cpu-smoke"]
    assert main([*args, "--split", "", "--val-split", "", "--strategy", "mirrored"]) == 0
    config = seen["config"]
    assert seen["strategy"] is two
    assert (config.IMAGES_PER_GPU, config.GPU_COUNT, config.BATCH_SIZE) == (2, 2, 4)
    assert seen["steps_per_epoch"] == -(-seen["images"] // 4)  # one pass at the global batch
    assert f"{seen['steps_per_epoch']} steps per epoch" in capsys.readouterr().out
