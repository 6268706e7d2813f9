"""Numeric precision of the model: ``Config.MIXED_PRECISION`` -> a Keras dtype policy.

``MIXED_PRECISION`` takes exactly ``False`` (float32), ``"float16"``, ``"bfloat16"``, ``True``
(float16, as Matterport-era configs wrote it) or ``"auto"``: bfloat16 where this machine runs it
natively (:func:`fast_bfloat16`: a CPU with AVX512_BF16 or AMX and no GPU, or GPUs of compute
capability 8.0 or newer), else float32. ``"auto"`` is resolved when a model is built
(:func:`resolve`), so a saved config stays portable: the same ``train_config.yaml`` runs in
bfloat16 on such a CPU and in float32 on a Colab T4 or an older CPU. Under either mixed policy the layers compute in
the half type and keep float32 variables; these stay float32 whatever the policy:

- the class logits, softmax, box deltas and mask probabilities (``model.heads`` ends each head
  in a float32 layer), hence every loss (``model.losses`` casts its inputs);
- anchors, proposal decoding and NMS (``layers.proposal``), RoIAlign's crop (``layers.
  pyramid_roi_align`` crops float32 feature maps: box coordinates in bfloat16 have 8 bits of
  mantissa, i.e. up to 2 px error on a 512 px image), detection target building and the
  detection layer's box refinement and NMS.

float16 needs a ``LossScaleOptimizer`` (its small gradients underflow); bfloat16 has float32's
exponent range and does not. On a CPU, float16 has no fast kernels (a 256 px run did not finish
12 steps in 14 minutes where float32 takes a minute) and gets a warning; bfloat16 is fast where
the CPU has AVX512_BF16 or AMX (oneDNN), see :func:`cpu_has_bf16`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from fashion_mrcnn.errors import ConfigError
from fashion_mrcnn.runtime import gpus

#: The values MIXED_PRECISION accepts, and the Keras policy each one means.
POLICIES = {
    False: "float32",
    True: "mixed_float16",
    "float16": "mixed_float16",
    "bfloat16": "mixed_bfloat16",
}
#: The machine-dependent setting (see :func:`resolve`).
AUTO = "auto"
#: The names ``--precision`` offers (``float32`` = MIXED_PRECISION False).
PRECISIONS = ("float32", "float16", "bfloat16", AUTO)


def check_setting(mixed_precision) -> None:
    """ConfigError unless ``mixed_precision`` is one of POLICIES' keys or ``"auto"`` (so
    ``"bf16"``, ``1``, ``"yes"`` ... are refused). Resolves nothing (no TensorFlow import)."""
    if mixed_precision == AUTO and isinstance(mixed_precision, str):
        return
    for value in POLICIES:
        # `1 == True` in Python: compare types too, so only the listed values pass
        if type(mixed_precision) is type(value) and mixed_precision == value:
            return
    raise ConfigError(
        f"MIXED_PRECISION must be False, 'float16', 'bfloat16' or 'auto' (True means "
        f"'float16'), got {mixed_precision!r}"
    )


def resolve(mixed_precision):
    """The concrete setting: ``"auto"`` -> ``"bfloat16"`` when :func:`fast_bfloat16`, else
    ``False``; any other accepted value unchanged (ConfigError for a refused one)."""
    check_setting(mixed_precision)
    if mixed_precision == AUTO:
        return "bfloat16" if fast_bfloat16() else False
    return mixed_precision


def policy_name(mixed_precision) -> str:
    """``MIXED_PRECISION`` value -> Keras policy name (``"auto"`` resolved on this machine);
    ConfigError for a refused value."""
    resolved = resolve(mixed_precision)
    for value, name in POLICIES.items():
        if type(resolved) is type(value) and resolved == value:
            return name
    raise AssertionError(resolved)  # check_setting let through a value POLICIES lacks


def describe(mixed_precision) -> str:
    """One phrase for a run's report: ``"bfloat16"``, ``"float32"``, or for ``"auto"`` what it
    became and why (``"bfloat16 (auto: the CPU has AVX512_BF16/AMX)"``)."""
    names = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
    name = names[policy_name(mixed_precision)]
    if mixed_precision != AUTO:
        return name
    if gpus():
        why = "GPUs of compute capability 8.0+" if name == "bfloat16" else "a GPU older than 8.0"
    else:
        why = "the CPU has " + ("AVX512_BF16/AMX" if name == "bfloat16" else "no AVX512_BF16/AMX")
    return f"{name} (auto: {why})"


def mixed_precision_setting(precision: str):
    """A ``--precision`` name -> the MIXED_PRECISION value (``"float32"`` -> False)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return False if precision == "float32" else precision


def needs_loss_scaling(mixed_precision) -> bool:
    """True only for float16 (bfloat16 keeps float32's exponent range)."""
    return policy_name(mixed_precision) == "mixed_float16"


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags Linux reports (empty set where the file is absent)."""
    path = Path(cpuinfo)
    if not path.is_file():
        return set()
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """Whether this CPU runs bfloat16 matmuls and convolutions natively (AVX512_BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def gpu_compute_capabilities() -> list[tuple[int, int] | None]:
    """The compute capability of each GPU TensorFlow sees (None where it does not say)."""
    import tensorflow as tf

    out = []
    for device in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(device).get("compute_capability")
        out.append(tuple(capability) if capability else None)
    return out


def fast_bfloat16(
    flags: set[str] | None = None, capabilities: list[tuple[int, int] | None] | None = None
) -> bool:
    """Whether this machine runs bfloat16 natively: with GPUs, every one is of compute
    capability 8.0+ (Ampere on; a T4 is 7.5 and emulates it); without, the CPU has AVX512_BF16
    or AMX. ``flags`` / ``capabilities`` default to this machine's (given in tests)."""
    capabilities = gpu_compute_capabilities() if capabilities is None else capabilities
    if capabilities:
        return all(c is not None and c >= (8, 0) for c in capabilities)
    return cpu_has_bf16(flags)


def warn_slow_precision(mixed_precision) -> None:
    """One warning when float16 is asked for on a machine without a GPU (CPUs run it slowly)."""
    if policy_name(mixed_precision) == "mixed_float16" and not gpus():
        warnings.warn(
            "MIXED_PRECISION float16 on a CPU: there are no fast float16 kernels, training is "
            "many times slower than float32. Use 'bfloat16' (fast on CPUs with AVX512_BF16/AMX) "
            "or False.",
            stacklevel=3,
        )
