"""Numeric precision of the model: ``Config.MIXED_PRECISION`` -> a Keras dtype policy.

``MIXED_PRECISION`` takes exactly ``False`` (float32), ``"float16"``, ``"bfloat16"`` or ``True``
(float16, as Matterport-era configs wrote it). Under either mixed policy the layers compute in
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
#: The names ``--precision`` offers (``float32`` = MIXED_PRECISION False).
PRECISIONS = ("float32", "float16", "bfloat16")


def policy_name(mixed_precision) -> str:
    """``MIXED_PRECISION`` value -> Keras policy name; ConfigError for anything else
    (``"bf16"``, ``1``, ``"yes"`` ...)."""
    for value, name in POLICIES.items():
        # `1 == True` in Python: compare types too, so only the listed values pass
        if type(mixed_precision) is type(value) and mixed_precision == value:
            return name
    raise ConfigError(
        f"MIXED_PRECISION must be False, 'float16' or 'bfloat16' (True means 'float16'), "
        f"got {mixed_precision!r}"
    )


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


def warn_slow_precision(mixed_precision) -> None:
    """One warning when float16 is asked for on a machine without a GPU (CPUs run it slowly)."""
    if policy_name(mixed_precision) == "mixed_float16" and not gpus():
        warnings.warn(
            "MIXED_PRECISION float16 on a CPU: there are no fast float16 kernels, training is "
            "many times slower than float32. Use 'bfloat16' (fast on CPUs with AVX512_BF16/AMX) "
            "or False.",
            stacklevel=3,
        )
