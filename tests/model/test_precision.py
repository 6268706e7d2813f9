"""MIXED_PRECISION's accepted values, the policy each one means, loss scaling, and the CPU checks
(model.precision)."""

from __future__ import annotations

import warnings

import pytest

from fashion_mrcnn.config import Config
from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.model import precision


@pytest.mark.parametrize(
    ("value", "policy", "scaled"),
    [
        (False, "float32", False),
        (True, "mixed_float16", True),
        ("float16", "mixed_float16", True),
        ("bfloat16", "mixed_bfloat16", False),
    ],
)
def test_each_accepted_value_maps_to_its_policy(value, policy, scaled):
    assert precision.policy_name(value) == policy
    assert precision.needs_loss_scaling(value) is scaled
    assert Config(MIXED_PRECISION=value).MIXED_PRECISION == value


@pytest.mark.parametrize("value", ["bf16", "fp16", 1, 0, None, "float32", "BFLOAT16", "AUTO"])
def test_anything_else_is_refused_naming_the_choices(value):
    with pytest.raises(
        ConfigError, match=r"MIXED_PRECISION must be False, 'float16', 'bfloat16' or 'auto'"
    ):
        Config().replace(MIXED_PRECISION=value)


def test_precision_names_map_to_the_setting():
    assert precision.mixed_precision_setting("float32") is False
    assert precision.mixed_precision_setting("bfloat16") == "bfloat16"
    with pytest.raises(ConfigError, match="precision must be one of"):
        precision.mixed_precision_setting("half")


@pytest.mark.parametrize(
    ("flags", "capabilities", "resolved"),
    [
        ({"avx512f", "avx512_bf16"}, [], "bfloat16"),  # a bf16 CPU, no GPU
        ({"amx_bf16", "amx_tile"}, [], "bfloat16"),
        ({"avx2", "avx512f"}, [], False),  # an older CPU
        ({"avx512_bf16"}, [(7, 5)], False),  # a Colab T4 emulates bfloat16
        (set(), [(8, 0)], "bfloat16"),  # an A100
        (set(), [(8, 0), (7, 5)], False),  # mixed GPUs: the slowest decides
        (set(), [None], False),  # a GPU that does not say
    ],
)
def test_auto_picks_bfloat16_only_where_the_machine_runs_it_natively(
    monkeypatch, flags, capabilities, resolved
):
    monkeypatch.setattr(precision, "cpu_flags", lambda: set(flags))
    monkeypatch.setattr(precision, "gpu_compute_capabilities", lambda: list(capabilities))
    monkeypatch.setattr(precision, "gpus", lambda: ["GPU"] * len(capabilities))
    assert precision.resolve("auto") == resolved
    assert precision.policy_name("auto") == ("mixed_bfloat16" if resolved else "float32")
    assert precision.needs_loss_scaling("auto") is False
    assert precision.describe("auto").startswith(
        "bfloat16 (auto: " if resolved else "float32 (auto: "
    )
    # the setting itself is kept: a saved config resolves again on the machine that loads it
    assert Config(MIXED_PRECISION="auto").MIXED_PRECISION == "auto"
    assert precision.resolve("bfloat16") == "bfloat16" and precision.resolve(False) is False


def test_auto_is_a_precision_name():
    assert precision.mixed_precision_setting("auto") == "auto"


def test_bf16_cpu_detection_reads_the_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n\n")
    assert precision.cpu_flags(info) >= {"avx512f", "avx512_bf16"}
    assert precision.cpu_has_bf16(precision.cpu_flags(info))
    assert precision.cpu_has_bf16({"amx_bf16", "amx_tile"})
    assert not precision.cpu_has_bf16({"avx2", "avx512f"})
    assert precision.cpu_flags(tmp_path / "absent") == set()


def test_float16_without_a_gpu_warns_once_and_bfloat16_does_not(monkeypatch):
    monkeypatch.setattr(precision, "gpus", lambda: [])
    with pytest.warns(UserWarning, match="float16 on a CPU"):
        precision.warn_slow_precision("float16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        precision.warn_slow_precision("bfloat16")
        precision.warn_slow_precision(False)
        monkeypatch.setattr(precision, "gpus", lambda: ["/physical_device:GPU:0"])
        precision.warn_slow_precision(True)
