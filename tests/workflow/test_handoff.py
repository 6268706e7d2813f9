"""Hand-offs between stages: handoff.json, the config and checkpoint a stage continues from."""

import pytest

from fashion_mrcnn.workflow import handoff


def test_handoff_round_trip_and_missing_key(tmp_path):
    ckpt = tmp_path / "w.h5"
    handoff.write_handoff(tmp_path, checkpoint=ckpt)
    handoff.write_handoff(tmp_path, config="c.yaml")  # merged, not overwritten
    assert handoff.read_handoff(tmp_path, "checkpoint") == str(ckpt.resolve())
    assert handoff.read_handoff(tmp_path, "config") == "c.yaml"
    assert handoff.read_handoff(tmp_path, "metrics", default=None) is None
    assert handoff.read_handoff("", "checkpoint", default="x") == "x"
    with pytest.raises(FileNotFoundError, match="'metrics' not recorded by the previous stage"):
        handoff.read_handoff(tmp_path, "metrics")


def test_stage_config_sources_and_overrides(tmp_path):
    from fashion_mrcnn.config import Config

    base = Config.preset("cpu-smoke", NAME="base", NUM_CLASSES=47)
    # no previous stage: the base, with non-None overrides applied
    config = handoff.stage_config("", base=base, NAME="x", DETECTION_MIN_CONFIDENCE=None)
    assert config.NAME == "x" and config.DETECTION_MIN_CONFIDENCE == base.DETECTION_MIN_CONFIDENCE
    # a recorded config wins over the base
    recorded = Config.preset("cpu-smoke", NAME="tuned", NUM_CLASSES=47, LEARNING_RATE=0.02)
    handoff.write_handoff(tmp_path, config=recorded.to_yaml(tmp_path / "c.yaml"))
    config = handoff.stage_config(tmp_path, base=base, DETECTION_MAX_INSTANCES=7)
    assert (config.NAME, config.LEARNING_RATE, config.DETECTION_MAX_INSTANCES) == ("tuned", 0.02, 7)
    # an explicit path wins over the hand-off
    other = Config.preset("cpu-smoke", NAME="explicit", NUM_CLASSES=47).to_yaml(tmp_path / "o.yaml")
    assert handoff.stage_config(tmp_path, other).NAME == "explicit"
    with pytest.raises(FileNotFoundError, match="'config' not recorded"):
        handoff.stage_config(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="nope.yaml does not exist"):
        handoff.stage_config("", tmp_path / "nope.yaml")


def test_stage_weights(tmp_path):
    ckpt = tmp_path / "w.h5"
    ckpt.write_bytes(b"x")
    handoff.write_handoff(tmp_path, checkpoint=ckpt)
    assert handoff.stage_weights(tmp_path) == str(ckpt.resolve())
    assert handoff.stage_weights("", ckpt) == str(ckpt)
    ckpt.unlink()
    with pytest.raises(FileNotFoundError, match="w.h5 does not exist"):
        handoff.stage_weights(tmp_path)
