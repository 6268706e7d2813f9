"""TensorFlow's start-up lines kept off the console of the ``fashion-mrcnn`` command.

While ``import tensorflow`` loads its C++ libraries, TensorFlow logs through absl before
``absl::InitializeLog`` is called, so ``TF_CPP_MIN_LOG_LEVEL`` does not apply yet. On 2.21 on
a CPU machine that is six lines on stderr (twice the absl banner "All log messages before
absl::InitializeLog() is called are written to STDERR", the oneDNN notice and the CUDA driver
probe, one set per library that links absl); 2.19 adds cuDNN / cuFFT / cuBLAS "factory already
registered" and "computation placer" lines. Python cannot switch them off: they are written by
C++ straight to file descriptor 2.

:func:`install` makes the first ``import tensorflow`` (wherever it happens: a ``keras`` import
included) run with descriptor 2 pointed at a temporary file; afterwards every captured line that
is not one of those known start-up lines (:func:`is_startup_noise`) is written to ``sys.stderr``,
in order. So a Python warning or a real error printed during the import still shows, and the
tool's own error is the first line of stderr. ``TF_ENABLE_ONEDNN_OPTS`` and
``CUDA_VISIBLE_DEVICES`` are left alone (they change numerics and devices, not just the log).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

#: absl's banner, printed once per library before its log is initialised.
ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called"
#: A C++ log line of TensorFlow's start-up (absl format: severity + date, time, thread, file:line]).
_STARTUP_LINE = re.compile(
    r"^[IWE]\d{4} [\d:.]+ +\d+ (port|cudart_stub|cpu_feature_guard|cuda_dnn|cuda_fft|cuda_blas|"
    r"computation_placer|cuda_executor|cuda_platform|cuda_diagnostics)\.cc:\d+\] "
)
#: The second line of cpu_feature_guard's message.
_CPU_FEATURES = "To enable the following instructions:"


def is_startup_noise(line: str) -> bool:
    """True for a line TensorFlow prints while it loads (see the module docstring)."""
    return (
        line.startswith(ABSL_BANNER)
        or line.startswith(_CPU_FEATURES)
        or bool(_STARTUP_LINE.match(line))
    )


def without_startup_noise(text: str) -> str:
    """``text`` with the start-up lines removed (line endings of the rest kept)."""
    return "".join(ln for ln in text.splitlines(keepends=True) if not is_startup_noise(ln))


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader's ``exec_module`` with descriptor 2 captured (module doc)."""

    def __init__(self, loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2 (a detached process): nothing reaches a console
            self._loader.exec_module(module)
            return
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self._loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                rest = without_startup_noise(captured.read().decode("utf-8", "replace"))
                if rest:
                    sys.stderr.write(rest)
                    sys.stderr.flush()

    def __getattr__(self, name):  # get_resource_reader, is_package, ... of the real loader
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, as the path finder would, and wraps its loader."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        uninstall()
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install() -> bool:
    """Make the first ``import tensorflow`` of this process quiet (module docstring).

    Returns False (and does nothing) when TensorFlow is already imported."""
    if "tensorflow" in sys.modules:
        return False
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True


def uninstall() -> None:
    """Remove the hook of :func:`install` (done by itself once TensorFlow is found)."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]
