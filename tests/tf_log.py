"""Telling TensorFlow's own C++ log lines apart from what the project prints on stderr.

The CLI sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow loads. On TensorFlow >= 2.20 that keeps
everything but a few INFO lines printed while its libraries load. TensorFlow 2.19 (the 2025 Colab
runtime) logs through absl before ``absl::InitializeLog`` is called, which ignores the variable:
its cuDNN / cuBLAS "factory already registered" and "computation placer" lines at import and
grappler's "Error in PredictCost()" during training reach stderr whatever the level. Those lines
are TensorFlow's, not ours, and cannot be switched off from Python; the tests drop them there.

The lines every version prints while ``import tensorflow`` loads its libraries (absl's banner,
oneDNN, the CUDA probe) are filtered by the CLI itself (``fashion_mrcnn.tf_startup``), so a CLI
run's stderr no longer holds them; a plain ``python -c 'import tensorflow'`` still prints them.
"""

from __future__ import annotations

import re
from importlib.metadata import version

from packaging.version import Version

#: INFO lines TensorFlow prints while its libraries load, before any log level applies.
TF_LOAD_INFO = re.compile(r"I\d{4} [\d:.]+ +\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\] ")
#: Any line of TensorFlow's C++ log (absl format: severity, date, time, thread, file:line]).
TF_CPP_LINE = re.compile(r"[IWEF]\d{4} [\d:.]+ +\d+ [\w/.-]+\.cc:\d+\] ")
ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"

#: TensorFlow 2.19 ignores TF_CPP_MIN_LOG_LEVEL for its absl-logged lines (see module doc).
TF_LOG_LEVEL_IGNORED = Version(version("tensorflow")) < Version("2.20")


def project_lines(stderr: str) -> list[str]:
    """The lines of ``stderr`` that are not TensorFlow's own C++ log, in order.

    Lines are split at carriage returns too, and cut where a log line starts mid-line: a progress
    bar redraws with ``\\r`` and TensorFlow writes to the same stream. Empty lines are dropped.
    """
    noise = TF_CPP_LINE if TF_LOG_LEVEL_IGNORED else TF_LOAD_INFO
    kept = []
    for line in re.split(r"[\r\n]+", stderr):
        if ABSL_BANNER in line:
            line = line[: line.index(ABSL_BANNER)]
        found = noise.search(line)
        if found:
            line = line[: found.start()]
        if line.strip():
            kept.append(line)
    return kept
